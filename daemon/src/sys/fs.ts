// File-system system calls for the passthrough file system. Hot-path wrappers return the raw
// result or -errno (the kernel's own convention) instead of throwing: a negative LOOKUP is a normal
// answer, and building an exception per request would dominate its cost. Buffers passed as paths
// must be NUL-terminated; `void *` parameters take a Buffer, `intptr_t` ones a host address.
import koffi from 'koffi';
import { libc } from './libc';

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_EMPTY_PATH = 0x1000;

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_ACCMODE = 3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4010000;
export const O_PATH = 0o10000000;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_IXGRP = 0o0010;

export const STATX_BASIC_STATS = 0x7ff;
export const STATX_BTIME = 0x800;
export const STATX_MNT_ID = 0x1000;

export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;

export const SEEK_SET = 0;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

/** struct statx offsets (linux/stat.h); the buffer is 256 bytes. */
export const STATX_SIZE = 256;
export const STX = {
  mask: 0,
  blksize: 4,
  nlink: 16,
  uid: 20,
  gid: 24,
  mode: 28,
  ino: 32,
  size: 40,
  blocks: 48,
  atime: 64,
  btime: 80,
  ctime: 96,
  mtime: 112,
  rdevMajor: 128,
  rdevMinor: 132,
  devMajor: 136,
  devMinor: 140,
  mntId: 144,
} as const;

/** struct statfs (x86_64/aarch64: every field is 64 bits wide). */
export const STATFS_SIZE = 120;
export const STATFS = {
  bsize: 8,
  blocks: 16,
  bfree: 24,
  bavail: 32,
  files: 40,
  ffree: 48,
  namelen: 64,
  frsize: 72,
} as const;

const ret = (r: number): number => (r < 0 ? -koffi.errno() : r);

const _openat = libc.func('int openat(int dirfd, const char *path, int flags, uint32_t mode)');
const _statx = libc.func('int statx(int dirfd, const char *path, int flags, uint32_t mask, void *buf)');
const _readlinkat = libc.func('intptr_t readlinkat(int dirfd, const char *path, void *buf, size_t size)');
const _mknodat = libc.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)');
const _mkdirat = libc.func('int mkdirat(int dirfd, const char *path, uint32_t mode)');
const _symlinkat = libc.func('int symlinkat(const char *target, int dirfd, const char *path)');
const _unlinkat = libc.func('int unlinkat(int dirfd, const char *path, int flags)');
const _renameat2 = libc.func(
  'int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, uint32_t flags)',
);
const _linkat = libc.func(
  'int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)',
);
const _fchmodat = libc.func('int fchmodat(int dirfd, const char *path, uint32_t mode, int flags)');
const _fchmod = libc.func('int fchmod(int fd, uint32_t mode)');
const _fchownat = libc.func('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)');
const _ftruncate = libc.func('int ftruncate(int fd, int64_t length)');
const _utimensat = libc.func('int utimensat(int dirfd, const char *path, void *times, int flags)');
const _preadv = libc.func('intptr_t preadv(int fd, void *iov, int iovcnt, int64_t offset)');
const _pwritev = libc.func('intptr_t pwritev(int fd, void *iov, int iovcnt, int64_t offset)');
const _fsync = libc.func('int fsync(int fd)');
const _fdatasync = libc.func('int fdatasync(int fd)');
const _syncfs = libc.func('int syncfs(int fd)');
const _fallocate = libc.func('int fallocate(int fd, int mode, int64_t offset, int64_t len)');
const _lseek = libc.func('int64_t lseek(int fd, int64_t offset, int whence)');
const _copyFileRange = libc.func(
  'intptr_t copy_file_range(int fdin, void *offin, int fdout, void *offout, size_t len, uint32_t flags)',
);
const _fstatfs = libc.func('int fstatfs(int fd, void *buf)');
const _getdents64 = libc.func('intptr_t getdents64(int fd, void *buf, size_t size)');
const _umask = libc.func('uint32_t umask(uint32_t mask)');

export const openat = (dirfd: number, path: Uint8Array, flags: number, mode = 0): number =>
  ret(_openat(dirfd, path, flags, mode));
export const statx = (dirfd: number, path: Uint8Array, flags: number, mask: number, buf: Uint8Array): number =>
  ret(_statx(dirfd, path, flags, mask, buf));
export const readlinkat = (dirfd: number, path: Uint8Array, buf: Uint8Array, size: number): number =>
  ret(_readlinkat(dirfd, path, buf, size));
export const mknodat = (dirfd: number, path: Uint8Array, mode: number, dev: number): number =>
  ret(_mknodat(dirfd, path, mode, dev));
export const mkdirat = (dirfd: number, path: Uint8Array, mode: number): number => ret(_mkdirat(dirfd, path, mode));
export const symlinkat = (target: Uint8Array, dirfd: number, path: Uint8Array): number =>
  ret(_symlinkat(target, dirfd, path));
export const unlinkat = (dirfd: number, path: Uint8Array, flags: number): number => ret(_unlinkat(dirfd, path, flags));
export const renameat2 = (od: number, op: Uint8Array, nd: number, np: Uint8Array, flags: number): number =>
  ret(_renameat2(od, op, nd, np, flags));
export const linkat = (od: number, op: Uint8Array, nd: number, np: Uint8Array, flags: number): number =>
  ret(_linkat(od, op, nd, np, flags));
export const fchmodat = (dirfd: number, path: Uint8Array, mode: number): number => ret(_fchmodat(dirfd, path, mode, 0));
export const fchmod = (fd: number, mode: number): number => ret(_fchmod(fd, mode));
export const fchownat = (dirfd: number, path: Uint8Array, uid: number, gid: number, flags: number): number =>
  ret(_fchownat(dirfd, path, uid, gid, flags));
export const ftruncate = (fd: number, length: number): number => ret(_ftruncate(fd, length));
export const utimensat = (dirfd: number, path: Uint8Array, times: Uint8Array, flags: number): number =>
  ret(_utimensat(dirfd, path, times, flags));
export const preadv = (fd: number, iov: Uint8Array, iovcnt: number, offset: number): number =>
  ret(_preadv(fd, iov, iovcnt, offset));
export const pwritev = (fd: number, iov: Uint8Array, iovcnt: number, offset: number): number =>
  ret(_pwritev(fd, iov, iovcnt, offset));
export const fsync = (fd: number): number => ret(_fsync(fd));
export const fdatasync = (fd: number): number => ret(_fdatasync(fd));
export const syncfs = (fd: number): number => ret(_syncfs(fd));
export const fallocate = (fd: number, mode: number, offset: number, len: number): number =>
  ret(_fallocate(fd, mode, offset, len));
/** Offsets of directories are opaque 64-bit cookies: they travel as BigInt on this rare path. */
export const lseek = (fd: number, offset: number | bigint, whence: number): number => {
  const r = Number(_lseek(fd, offset, whence));
  return r < 0 ? -koffi.errno() : r;
};
/** `offIn`/`offOut` hold the file offsets (loff_t); the kernel advances them. */
export const copyFileRange = (
  fdIn: number,
  offIn: Uint8Array,
  fdOut: number,
  offOut: Uint8Array,
  len: number,
): number => ret(_copyFileRange(fdIn, offIn, fdOut, offOut, len, 0));
export const fstatfs = (fd: number, buf: Uint8Array): number => ret(_fstatfs(fd, buf));
export const getdents64 = (fd: number, buf: Uint8Array, size: number): number => ret(_getdents64(fd, buf, size));
export const umask = (mask: number): number => _umask(mask);

/** Writes a NUL-terminated copy of `s` (ASCII/UTF-8) into a fresh Buffer: for start-up paths only. */
export function cPath(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8');
}

/** A NUL-terminated empty path, for AT_EMPTY_PATH calls. */
export const EMPTY_PATH: Buffer = Buffer.from([0]);

export const AT_EACCESS = 0x200;
export const W_OK = 2;
const _faccessat = libc.func('int faccessat(int dirfd, const char *path, int mode, int flags)');
export const faccessat = (dirfd: number, path: Uint8Array, mode: number, flags: number): number =>
  ret(_faccessat(dirfd, path, mode, flags));
