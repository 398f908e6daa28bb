/*
 * A READDIR reply's records, and a READDIRPLUS reply's once the daemon has looked their names up,
 * from the host's getdents64 records, in one call from the daemon (src/sys/dirents.ts). In
 * JavaScript the per-entry copying and encoding ran in V8's interpreter for the first pages of
 * every cold path: 1-7 µs an entry for READDIR, against 0.1 in C, in the guest's first readdir of
 * a large directory. No allocation, no state, no system call: every buffer is the caller's, and
 * every record is checked against the bytes it was given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

/* struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name (NUL-terminated). */
#define D_OFF 8
#define D_RECLEN 16
#define D_TYPE 18
#define D_NAME 19

/* struct fuse_dirent: ino u64, off u64, namelen u32, type u32, name (not terminated), padded to 8. */
#define FUSE_DIRENT_NAMELEN 16
#define FUSE_DIRENT_TYPE 20
#define FUSE_DIRENT_NAME 24

/* FUSE_NAME_MAX: the longest name the guest's FUSE takes in a dirent. */
#define FUSE_NAME_MAX_BYTES 1024

/* Indices of vfs_dirents_encode's `state`. */
#define STATE_POS 0
#define STATE_OFF_LO 1
#define STATE_OFF_HI 2

static uint16_t u16_at(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static uint32_t u32_at(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static void put_u32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, sizeof v);
}

/*
 * The name length of the getdents64 record at src[pos] (`len` bytes of records), its length in
 * *reclen, or -EIO when it runs past them or its name is empty, unterminated or longer than FUSE
 * takes: nothing is trusted to be what the kernel wrote.
 */
static int record_at(const uint8_t *src, uint32_t pos, uint32_t len, uint16_t *reclen) {
  if (pos >= len || len - pos <= D_NAME) return -EIO;
  const uint8_t *rec = src + pos;
  *reclen = u16_at(rec + D_RECLEN);
  if (*reclen <= D_NAME || *reclen > len - pos) return -EIO;
  const uint8_t *end = memchr(rec + D_NAME, '\0', (size_t)*reclen - D_NAME);
  if (end == NULL) return -EIO;
  size_t namelen = (size_t)(end - (rec + D_NAME));
  if (namelen == 0 || namelen > FUSE_NAME_MAX_BYTES) return -EIO;
  return (int)namelen;
}

/* The fuse_dirent of record `rec` (name `namelen` bytes) at `dst`, zero-padded to `size` bytes. */
static void put_dirent(uint8_t *dst, const uint8_t *rec, uint32_t namelen, uint32_t size) {
  /* d_ino and d_off are fuse_dirent's ino and off, byte for byte. */
  memcpy(dst, rec, 16);
  put_u32(dst + FUSE_DIRENT_NAMELEN, namelen);
  put_u32(dst + FUSE_DIRENT_TYPE, rec[D_TYPE]);
  memcpy(dst + FUSE_DIRENT_NAME, rec + D_NAME, namelen);
  memset(dst + FUSE_DIRENT_NAME + namelen, 0, size - FUSE_DIRENT_NAME - namelen);
}

/*
 * Encodes the getdents64 records of src[pos, len) as fuse_dirent records into out[off, off + room)
 * (`out_len` bytes in all), in order, stopping before the first that does not fit or is malformed.
 * state[0] is set to the position after the last record encoded, state[1] and state[2] to its
 * d_off (low and high halves), all three left alone when none was. Returns the bytes written, or
 * -EIO when the first record is malformed (record_at); -EINVAL for a range outside the buffers.
 */
int vfs_dirents_encode(const uint8_t *src, uint32_t src_len, uint32_t pos, uint32_t len, uint8_t *out, uint32_t out_len,
                       uint32_t off, uint32_t room, uint32_t *state) {
  if (len > src_len || pos > len || off > out_len || room > out_len - off) return -EINVAL;
  uint32_t written = 0;
  while (pos < len) {
    uint16_t reclen = 0;
    int namelen = record_at(src, pos, len, &reclen);
    /* The records before a bad one go out; the next call, starting at it, reports it. */
    if (namelen < 0) return written > 0 ? (int)written : namelen;
    const uint8_t *rec = src + pos;
    uint32_t size = ((uint32_t)FUSE_DIRENT_NAME + (uint32_t)namelen + 7u) & ~7u;
    if (size > room - written) break;
    put_dirent(out + off + written, rec, (uint32_t)namelen, size);
    written += size;
    pos += reclen;
    state[STATE_POS] = pos;
    state[STATE_OFF_LO] = u32_at(rec + D_OFF);
    state[STATE_OFF_HI] = u32_at(rec + D_OFF + 4);
  }
  return (int)written;
}

/* struct fuse_entry_out (128 bytes) and its struct fuse_attr (88 bytes, at 40). */
#define ENTRY_OUT_SIZE 128
#define ENTRY_ATTR 40

/* vfs_direntplus_encode's entries: these u32 fields each (src/sys/dirents.ts PLUS_FIELDS). */
#define PLUS_REC 0
#define PLUS_SLOT 1
#define PLUS_NODE_LO 2
#define PLUS_NODE_HI 3
#define PLUS_FLAGS 4
#define PLUS_UID 5
#define PLUS_GID 6
#define PLUS_FIELDS 7
/* PLUS_SLOT of "." and "..": a zeroed entry, no node for the guest to instantiate. */
#define PLUS_NO_NODE 0xffffffffu

static void put_u64(uint8_t *p, uint64_t v) {
  memcpy(p, &v, sizeof v);
}

/* Linux's new_encode_dev: the 32-bit device number the guest decodes. */
static uint32_t encode_dev(uint32_t major, uint32_t minor) {
  return (minor & 0xffu) | ((major & 0xfffu) << 8) | ((minor & ~0xffu) << 12);
}

/* A fuse_entry_out at `dst` for node `nodeid` from statx result `stx`, as src/fuse/encode.ts encodeEntry. */
static void encode_entry(uint8_t *dst, uint64_t nodeid, uint32_t timeout_sec, const struct statx *stx,
                         const uint32_t *entry) {
  memset(dst, 0, ENTRY_OUT_SIZE);
  put_u64(dst, nodeid);
  put_u64(dst + 16, timeout_sec);
  put_u64(dst + 24, timeout_sec);
  uint8_t *attr = dst + ENTRY_ATTR;
  put_u64(attr, stx->stx_ino);
  put_u64(attr + 8, stx->stx_size);
  put_u64(attr + 16, stx->stx_blocks);
  put_u64(attr + 24, (uint64_t)stx->stx_atime.tv_sec);
  put_u64(attr + 32, (uint64_t)stx->stx_mtime.tv_sec);
  put_u64(attr + 40, (uint64_t)stx->stx_ctime.tv_sec);
  put_u32(attr + 48, stx->stx_atime.tv_nsec);
  put_u32(attr + 52, stx->stx_mtime.tv_nsec);
  put_u32(attr + 56, stx->stx_ctime.tv_nsec);
  put_u32(attr + 60, stx->stx_mode);
  put_u32(attr + 64, stx->stx_nlink);
  put_u32(attr + 68, entry[PLUS_UID]);
  put_u32(attr + 72, entry[PLUS_GID]);
  put_u32(attr + 76, encode_dev(stx->stx_rdev_major, stx->stx_rdev_minor));
  put_u32(attr + 80, stx->stx_blksize);
  put_u32(attr + 84, entry[PLUS_FLAGS]);
}

/*
 * Encodes `count` direntplus records into out[off, off + room) (`out_len` bytes in all). Entry i
 * is entries[i * PLUS_FIELDS ...]: the position of its getdents64 record in src (`src_len` bytes),
 * the slot of its statx result in `stx` (`stx_count` of them; PLUS_NO_NODE for "." and "..", whose
 * entry is zeroed), its node id (low and high halves), fuse_attr flags, and the uid and gid the
 * guest is to see; `timeout_sec` is every entry's and attributes' validity. The caller has
 * measured the records already, so one that is malformed or does not fit is -EIO, and a slot out
 * of range or a range outside the buffers -EINVAL. Returns the bytes written.
 */
int vfs_direntplus_encode(const uint8_t *src, uint32_t src_len, const uint32_t *entries, uint32_t count,
                          const struct statx *stx, uint32_t stx_count, uint32_t timeout_sec, uint8_t *out,
                          uint32_t out_len, uint32_t off, uint32_t room) {
  if (off > out_len || room > out_len - off) return -EINVAL;
  uint32_t written = 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint32_t *entry = entries + (size_t)i * PLUS_FIELDS;
    uint32_t pos = entry[PLUS_REC];
    uint32_t slot = entry[PLUS_SLOT];
    if (slot != PLUS_NO_NODE && slot >= stx_count) return -EINVAL;
    uint16_t reclen = 0;
    int namelen = record_at(src, pos, src_len, &reclen);
    if (namelen < 0) return namelen;
    const uint8_t *rec = src + pos;
    uint32_t size = ((uint32_t)ENTRY_OUT_SIZE + FUSE_DIRENT_NAME + (uint32_t)namelen + 7u) & ~7u;
    if (size > room - written) return -EIO;
    uint8_t *dst = out + off + written;
    if (slot == PLUS_NO_NODE) {
      memset(dst, 0, ENTRY_OUT_SIZE);
    } else {
      uint64_t nodeid = ((uint64_t)entry[PLUS_NODE_HI] << 32) | entry[PLUS_NODE_LO];
      encode_entry(dst, nodeid, timeout_sec, &stx[slot], entry);
    }
    put_dirent(dst + ENTRY_OUT_SIZE, rec, (uint32_t)namelen, size - ENTRY_OUT_SIZE);
    written += size;
  }
  return (int)written;
}
