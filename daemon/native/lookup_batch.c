/*
 * One READDIRPLUS page's lookups (or one LOOKUP's) in one call from the daemon
 * (src/sys/lookup_batch.ts): through koffi each system call costs a crossing of its own, so the
 * 2-3 calls per name are made here, and the daemon keeps the inode bookkeeping. No allocation, no
 * state: every buffer is the caller's, and every name is checked against the buffer it was given
 * (the names come from the host's getdents64 or a validated request, but a bad offset must not
 * read past the buffer).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Open each name O_PATH and stat the fd; without it, only statx by name (known inodes). */
#define VFS_LB_OPEN 1u
/* With VFS_LB_OPEN: also the file handle of each fd on the mount `handle_mnt_id`. */
#define VFS_LB_HANDLES 2u

#define VFS_LB_NAME_MAX 255
/* struct file_handle with MAX_HANDLE_SZ (128) bytes: src/sys/file_handle.ts FILE_HANDLE_SIZE. */
#define VFS_LB_HANDLE_SIZE 136
#define VFS_LB_HANDLE_MAX (VFS_LB_HANDLE_SIZE - 8)

/* The length of the NUL-terminated name at `off`, or -errno: outside the buffer, empty, too long, a path. */
static int name_length(const char *names, uint32_t names_len, uint32_t off) {
  if (off >= names_len) return -EINVAL;
  size_t room = names_len - off;
  if (room > VFS_LB_NAME_MAX + 1) room = VFS_LB_NAME_MAX + 1;
  const char *end = memchr(names + off, '\0', room);
  if (end == NULL) return -ENAMETOOLONG;
  size_t len = (size_t)(end - (names + off));
  if (len == 0 || memchr(names + off, '/', len) != NULL) return -EINVAL;
  /* "." and ".." name no child: the daemon answers them without a lookup. */
  if (names[off] == '.' && (len == 1 || (len == 2 && names[off + 1] == '.'))) return -EINVAL;
  return (int)len;
}

/* The handle of `fd` into `handle` (VFS_LB_HANDLE_SIZE bytes): its length, header included, or -errno. */
static int32_t handle_of(int fd, uint8_t *handle) {
  struct file_handle *fh = (struct file_handle *)handle;
  int mount_id;
  fh->handle_bytes = VFS_LB_HANDLE_MAX;
  if (name_to_handle_at(fd, "", fh, &mount_id, AT_EMPTY_PATH) != 0) return -errno;
  return (int32_t)(8 + fh->handle_bytes);
}

/* One name: result[i] is the fd (VFS_LB_OPEN) or 0, or -errno; handle_len[i] as vfs_lookup_batch says. */
static void lookup_one(int dirfd, const char *name, uint32_t flags, uint32_t mask, uint64_t handle_mnt_id,
                       int32_t *result, struct statx *stx, uint8_t *handle, int32_t *handle_len) {
  *handle_len = 0;
  if ((flags & VFS_LB_OPEN) == 0) {
    *result = statx(dirfd, name, AT_SYMLINK_NOFOLLOW, mask, stx) == 0 ? 0 : -errno;
    return;
  }
  int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    *result = -errno;
    return;
  }
  if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, mask, stx) != 0) {
    *result = -errno;
    /* An O_PATH fd has no data to write back: close(2) can only fail on a bad fd. */
    close(fd);
    return;
  }
  *result = fd;
  if ((flags & VFS_LB_HANDLES) == 0 || (stx->stx_mask & STATX_MNT_ID) == 0 || stx->stx_mnt_id != handle_mnt_id) return;
  *handle_len = handle_of(fd, handle);
}

/*
 * Looks up `count` names under `dirfd`: name i is the NUL-terminated string at offsets[i] of
 * `names` (`names_len` bytes). For each, result[i] is the new O_PATH fd (VFS_LB_OPEN; the caller
 * owns it) or 0 (statx by name), or -errno; stx[i] its statx with `mask`; with VFS_LB_HANDLES,
 * handle_len[i] is the length of the file handle in handles[i * VFS_LB_HANDLE_SIZE], header
 * included, 0 when none was asked (another mount than handle_mnt_id) or -errno of
 * name_to_handle_at. The output arrays hold `capacity` entries. Returns `count`, or -EINVAL (and
 * touches nothing) when count exceeds capacity or a flag is unknown.
 */
int vfs_lookup_batch(int dirfd, const char *names, uint32_t names_len, const uint32_t *offsets, uint32_t count,
                     uint32_t capacity, uint32_t flags, uint32_t mask, uint64_t handle_mnt_id, int32_t *result,
                     struct statx *stx, uint8_t *handles, int32_t *handle_len) {
  if (count > capacity || (flags & ~(VFS_LB_OPEN | VFS_LB_HANDLES)) != 0) return -EINVAL;
  for (uint32_t i = 0; i < count; i++) {
    int len = name_length(names, names_len, offsets[i]);
    if (len < 0) {
      result[i] = len;
      handle_len[i] = 0;
      continue;
    }
    lookup_one(dirfd, names + offsets[i], flags, mask, handle_mnt_id, &result[i], &stx[i],
               &handles[(size_t)i * VFS_LB_HANDLE_SIZE], &handle_len[i]);
  }
  return (int)count;
}
