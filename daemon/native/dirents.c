/*
 * A READDIR reply's records from the host's getdents64 records, in one call from the daemon
 * (src/sys/dirents.ts). In JavaScript the per-entry copying ran in V8's interpreter for the first
 * pages of every cold path: 1-7 µs an entry, against 0.1 in C, in the guest's first readdir of a
 * large directory. No allocation, no state, no system call: every buffer is the caller's, and every
 * record is checked against the bytes it was given.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

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

/* The name length of the record at `rec` (`reclen` bytes, inside the buffer), or -EIO if it has none. */
static int record_name_length(const uint8_t *rec, uint16_t reclen) {
  if (reclen <= D_NAME) return -EIO;
  size_t room = (size_t)reclen - D_NAME;
  const uint8_t *end = memchr(rec + D_NAME, '\0', room);
  if (end == NULL) return -EIO;
  size_t len = (size_t)(end - (rec + D_NAME));
  if (len == 0 || len > FUSE_NAME_MAX_BYTES) return -EIO;
  return (int)len;
}

/*
 * Encodes the getdents64 records of src[pos, len) as fuse_dirent records into out[off, off + room)
 * (`out_len` bytes in all), in order, stopping before the first that does not fit or is malformed.
 * state[0] is set to the position after the last record encoded, state[1] and state[2] to its
 * d_off (low and high halves), all three left alone when none was. Returns the bytes written, or,
 * when the first record is malformed (it runs past `len`, or its name is empty, unterminated or
 * longer than FUSE takes: nothing is trusted to be what the kernel wrote), -EIO; -EINVAL for a
 * range outside the buffers.
 */
int vfs_dirents_encode(const uint8_t *src, uint32_t src_len, uint32_t pos, uint32_t len, uint8_t *out, uint32_t out_len,
                       uint32_t off, uint32_t room, uint32_t *state) {
  if (len > src_len || pos > len || off > out_len || room > out_len - off) return -EINVAL;
  uint32_t written = 0;
  while (pos < len) {
    const uint8_t *rec = src + pos;
    uint16_t reclen = len - pos > D_NAME ? u16_at(rec + D_RECLEN) : 0;
    int namelen = reclen <= len - pos ? record_name_length(rec, reclen) : -EIO;
    /* The records before a bad one go out; the next call, starting at it, reports it. */
    if (namelen < 0) return written > 0 ? (int)written : namelen;
    uint32_t size = ((uint32_t)FUSE_DIRENT_NAME + (uint32_t)namelen + 7u) & ~7u;
    if (size > room - written) break;
    uint8_t *dst = out + off + written;
    /* d_ino and d_off are fuse_dirent's ino and off, byte for byte. */
    memcpy(dst, rec, 16);
    put_u32(dst + FUSE_DIRENT_NAMELEN, (uint32_t)namelen);
    put_u32(dst + FUSE_DIRENT_TYPE, rec[D_TYPE]);
    memcpy(dst + FUSE_DIRENT_NAME, rec + D_NAME, (size_t)namelen);
    memset(dst + FUSE_DIRENT_NAME + namelen, 0, size - FUSE_DIRENT_NAME - (uint32_t)namelen);
    written += size;
    pos += reclen;
    state[STATE_POS] = pos;
    state[STATE_OFF_LO] = u32_at(rec + D_OFF);
    state[STATE_OFF_HI] = u32_at(rec + D_OFF + 4);
  }
  return (int)written;
}
