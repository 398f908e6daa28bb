/*
 * Filesystem steps of a container's set-up, run by the child in its new mount namespace.
 * Bind sources are opened (open_tree) before pivot_root and attached (move_mount) after it, so
 * every destination is resolved inside the container's root, never against the guest's tree.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_BIND_SOURCES 256

static int bind_fds[MAX_BIND_SOURCES];
static size_t bind_count;

static const char *or_null(const char *text) {
  return text[0] == '\0' ? NULL : text;
}

void op_mount(const char *src, const char *dst, const char *type, const char *flags, const char *data) {
  unsigned long mount_flags = parse_ulong(flags, 10, "mount flags");
  if (mount(or_null(src), dst, or_null(type), mount_flags, or_null(data)) != 0) {
    fail(errno, "mount %s (%s) on %s", src[0] ? src : "none", type[0] ? type : "-", dst);
  }
}

void op_umount(const char *target, const char *flags) {
  if (umount2(target, (int)parse_ulong(flags, 10, "umount flags")) != 0) fail(errno, "umount %s", target);
}

void mkdirp(const char *path, unsigned mode) {
  char partial[PATH_MAX];
  size_t len = strlen(path);
  if (len >= sizeof partial) fail(ENAMETOOLONG, "mkdir %s", path);
  memcpy(partial, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (partial[i] != '/' && partial[i] != '\0') continue;
    char saved = partial[i];
    partial[i] = '\0';
    if (mkdir(partial, mode) != 0 && errno != EEXIST) fail(errno, "mkdir %s", partial);
    partial[i] = saved;
  }
}

void op_mkdirp(const char *path, const char *mode) {
  mkdirp(path, (unsigned)parse_ulong(mode, 8, "mode"));
}

void op_bind_open(const char *path, const char *recursive) {
  if (bind_count == MAX_BIND_SOURCES) fail(E2BIG, "more than %d bind mounts", MAX_BIND_SOURCES);
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
  if (strcmp(recursive, "1") == 0) flags |= AT_RECURSIVE;
  int fd = open_tree(AT_FDCWD, path, flags);
  if (fd < 0) fail(errno, "open bind source %s", path);
  bind_fds[bind_count++] = fd;
}

/* A file bind needs a file to mount on, a directory bind a directory. */
static void make_mountpoint(const char *dst, int is_dir) {
  if (is_dir) {
    mkdirp(dst, 0755);
    return;
  }
  char parent[PATH_MAX];
  size_t len = strlen(dst);
  if (len >= sizeof parent) fail(ENAMETOOLONG, "mountpoint %s", dst);
  memcpy(parent, dst, len + 1);
  char *slash = strrchr(parent, '/');
  if (slash != NULL && slash != parent) {
    *slash = '\0';
    mkdirp(parent, 0755);
  }
  int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0 && errno != EISDIR) fail(errno, "create mountpoint %s", dst);
  if (fd >= 0) close(fd);
}

void op_bind_move(const char *index, const char *dst) {
  unsigned long i = parse_ulong(index, 10, "bind index");
  if (i >= bind_count) fail(EINVAL, "bind index %lu not opened", i);
  struct stat st;
  if (fstat(bind_fds[i], &st) != 0) fail(errno, "stat bind source for %s", dst);
  make_mountpoint(dst, S_ISDIR(st.st_mode));
  if (move_mount(bind_fds[i], "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) != 0) fail(errno, "bind mount on %s", dst);
  close(bind_fds[i]);
  bind_fds[i] = -1;
}

void op_mknod(const char *path, const char *mode, const char *major, const char *minor, const char *uid,
              const char *gid) {
  mode_t m = (mode_t)parse_ulong(mode, 8, "device mode");
  dev_t dev = makedev(parse_ulong(major, 10, "major"), parse_ulong(minor, 10, "minor"));
  if (mknod(path, m, dev) != 0) {
    if (errno == EEXIST) return;
    fail(errno, "mknod %s", path);
  }
  if (lchown(path, (uid_t)parse_ulong(uid, 10, "uid"), (gid_t)parse_ulong(gid, 10, "gid")) != 0) {
    fail(errno, "chown %s", path);
  }
}

void op_symlink(const char *target, const char *path) {
  if (symlink(target, path) != 0 && errno != EEXIST) fail(errno, "symlink %s -> %s", path, target);
}

/* runc's maskedPaths rule: a directory is covered by an empty read-only tmpfs, anything else by
 * /dev/null; a path that does not exist needs no mask. */
void op_mask(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT) return;
    fail(errno, "stat masked path %s", path);
  }
  int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL)
                               : mount("/dev/null", path, NULL, MS_BIND, NULL);
  if (rc != 0) fail(errno, "mask %s", path);
}

void op_readonly(const char *path) {
  if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0) {
    if (errno == ENOENT) return;
    fail(errno, "bind %s read-only", path);
  }
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount(NULL, path, NULL, flags, NULL) != 0) fail(errno, "remount %s read-only", path);
}

void op_write(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(errno, "open %s", path);
  size_t len = strlen(value);
  if (write(fd, value, len) != (ssize_t)len) fail(errno, "write %s", path);
  close(fd);
}

/*
 * The guest's / is the initramfs (rootfs), which pivot_root refuses to move. The stage is a
 * tmpfs mounted on /run inside this mount namespace: chroot into it makes the caller's root a
 * mount with a parent, and pivot_root(".", ".") then swaps in the container root and stacks the
 * old one on top of it, to be detached at once.
 */
void op_pivot(const char *stage, const char *root) {
  if (chdir(stage) != 0) fail(errno, "chdir %s", stage);
  if (chroot(".") != 0) fail(errno, "chroot %s", stage);
  if (chdir(root) != 0) fail(errno, "chdir %s/%s", stage, root);
  if (syscall(SYS_pivot_root, ".", ".") != 0) fail(errno, "pivot_root into %s/%s", stage, root);
  if (umount2(".", MNT_DETACH) != 0) fail(errno, "detach the old root");
  if (chdir("/") != 0) fail(errno, "chdir /");
}

void op_chdir(const char *path) {
  if (chdir(path) != 0) fail(errno, "chdir %s", path);
}
