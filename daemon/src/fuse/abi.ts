// The FUSE kernel ABI (include/uapi/linux/fuse.h, protocol 7.45): opcodes, flags, and the byte
// layout of every structure this daemon reads or writes. All fields are little-endian on the
// architectures we run on; offsets are in bytes from the start of each structure.

export const FUSE_KERNEL_VERSION = 7;
/** The minor version we speak; the session uses min(kernel's, ours). */
export const FUSE_KERNEL_MINOR_VERSION = 38;
/** Oldest minor we accept: 7.31 brought the fields and flags virtio-fs relies on. */
export const FUSE_MIN_MINOR_VERSION = 31;
export const FUSE_ROOT_ID = 1;

export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  COPY_FILE_RANGE_64: 53,
} as const;

/** INIT flags (fuse_init_in/out.flags); bits 32.. travel in flags2 as `FLAGS2_*` below. */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  POSIX_LOCKS: 1 << 1,
  FILE_OPS: 1 << 2,
  ATOMIC_O_TRUNC: 1 << 3,
  EXPORT_SUPPORT: 1 << 4,
  BIG_WRITES: 1 << 5,
  DONT_MASK: 1 << 6,
  SPLICE_WRITE: 1 << 7,
  SPLICE_MOVE: 1 << 8,
  SPLICE_READ: 1 << 9,
  FLOCK_LOCKS: 1 << 10,
  HAS_IOCTL_DIR: 1 << 11,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  WRITEBACK_CACHE: 1 << 16,
  NO_OPEN_SUPPORT: 1 << 17,
  PARALLEL_DIROPS: 1 << 18,
  HANDLE_KILLPRIV: 1 << 19,
  POSIX_ACL: 1 << 20,
  ABORT_ERROR: 1 << 21,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
  NO_OPENDIR_SUPPORT: 1 << 24,
  EXPLICIT_INVAL_DATA: 1 << 25,
  MAP_ALIGNMENT: 1 << 26,
  SUBMOUNTS: 1 << 27,
  HANDLE_KILLPRIV_V2: 1 << 28,
  SETXATTR_EXT: 1 << 29,
  INIT_EXT: 1 << 30,
  INIT_RESERVED: 2 ** 31,
} as const;

/** INIT flags 32..63, as bits of the flags2 word. */
export const InitFlag2 = {
  SECURITY_CTX: 1 << 0,
  HAS_INODE_DAX: 1 << 1,
  CREATE_SUPP_GROUP: 1 << 2,
  HAS_EXPIRE_ONLY: 1 << 3,
  DIRECT_IO_ALLOW_MMAP: 1 << 4,
  PASSTHROUGH: 1 << 5,
  NO_EXPORT_SUPPORT: 1 << 6,
  HAS_RESEND: 1 << 7,
  ALLOW_IDMAP: 1 << 8,
  OVER_IO_URING: 1 << 9,
  REQUEST_TIMEOUT: 1 << 10,
} as const;

/** fuse_setattr_in.valid */
export const Fattr = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  LOCKOWNER: 1 << 9,
  CTIME: 1 << 10,
  KILL_SUIDGID: 1 << 11,
} as const;

/** fuse_open_out.open_flags */
export const Fopen = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  NONSEEKABLE: 1 << 2,
  CACHE_DIR: 1 << 3,
  STREAM: 1 << 4,
  NOFLUSH: 1 << 5,
  PARALLEL_DIRECT_WRITES: 1 << 6,
  PASSTHROUGH: 1 << 7,
} as const;

export const FUSE_RELEASE_FLUSH = 1 << 0;
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
export const FUSE_GETATTR_FH = 1 << 0;
export const FUSE_LK_FLOCK = 1 << 0;
export const FUSE_WRITE_CACHE = 1 << 0;
export const FUSE_WRITE_LOCKOWNER = 1 << 1;
export const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
export const FUSE_READ_LOCKOWNER = 1 << 1;
export const FUSE_FSYNC_FDATASYNC = 1 << 0;
export const FUSE_ATTR_SUBMOUNT = 1 << 0;
export const FUSE_ATTR_DAX = 1 << 1;
export const FUSE_OPEN_KILL_SUIDGID = 1 << 0;
export const FUSE_SETXATTR_ACL_KILL_SGID = 1 << 0;
export const FUSE_SETUPMAPPING_FLAG_WRITE = 1 << 0;
export const FUSE_SETUPMAPPING_FLAG_READ = 1 << 1;

/** renameat2 flags carried by fuse_rename2_in.flags. */
export const RENAME_NOREPLACE = 1 << 0;
export const RENAME_EXCHANGE = 1 << 1;
export const RENAME_WHITEOUT = 1 << 2;

// ---- headers ----
export const IN_HEADER_SIZE = 40;
export const InHeader = {
  len: 0,
  opcode: 4,
  unique: 8,
  nodeid: 16,
  uid: 24,
  gid: 28,
  pid: 32,
  totalExtlen: 36,
} as const;
export const OUT_HEADER_SIZE = 16;
export const OutHeader = { len: 0, error: 4, unique: 8 } as const;

// ---- attributes and entries ----
export const ATTR_SIZE = 88;
export const Attr = {
  ino: 0,
  size: 8,
  blocks: 16,
  atime: 24,
  mtime: 32,
  ctime: 40,
  atimensec: 48,
  mtimensec: 52,
  ctimensec: 56,
  mode: 60,
  nlink: 64,
  uid: 68,
  gid: 72,
  rdev: 76,
  blksize: 80,
  flags: 84,
} as const;
export const ENTRY_OUT_SIZE = 128;
export const EntryOut = {
  nodeid: 0,
  generation: 8,
  entryValid: 16,
  attrValid: 24,
  entryValidNsec: 32,
  attrValidNsec: 36,
  attr: 40,
} as const;
export const ATTR_OUT_SIZE = 104;
export const AttrOut = { attrValid: 0, attrValidNsec: 8, attr: 16 } as const;

// ---- request arguments ----
export const FORGET_IN_SIZE = 8; // nlookup
export const BATCH_FORGET_IN_SIZE = 8; // count, dummy
export const FORGET_ONE_SIZE = 16; // nodeid, nlookup
export const GETATTR_IN_SIZE = 16;
export const GetattrIn = { flags: 0, fh: 8 } as const;
export const SETATTR_IN_SIZE = 88;
export const SetattrIn = {
  valid: 0,
  fh: 8,
  size: 16,
  lockOwner: 24,
  atime: 32,
  mtime: 40,
  ctime: 48,
  atimensec: 56,
  mtimensec: 60,
  ctimensec: 64,
  mode: 68,
  uid: 76,
  gid: 80,
} as const;
export const MKNOD_IN_SIZE = 16;
export const MknodIn = { mode: 0, rdev: 4, umask: 8 } as const;
export const MKDIR_IN_SIZE = 8;
export const MkdirIn = { mode: 0, umask: 4 } as const;
export const RENAME_IN_SIZE = 8; // newdir
export const RENAME2_IN_SIZE = 16;
export const Rename2In = { newdir: 0, flags: 8 } as const;
export const LINK_IN_SIZE = 8; // oldnodeid
export const OPEN_IN_SIZE = 8;
export const OpenIn = { flags: 0, openFlags: 4 } as const;
export const CREATE_IN_SIZE = 16;
export const CreateIn = { flags: 0, mode: 4, umask: 8, openFlags: 12 } as const;
export const OPEN_OUT_SIZE = 16;
export const OpenOut = { fh: 0, openFlags: 8, backingId: 12 } as const;
export const RELEASE_IN_SIZE = 24;
export const ReleaseIn = { fh: 0, flags: 8, releaseFlags: 12, lockOwner: 16 } as const;
export const FLUSH_IN_SIZE = 24;
export const FlushIn = { fh: 0, lockOwner: 16 } as const;
export const READ_IN_SIZE = 40;
export const ReadIn = { fh: 0, offset: 8, size: 16, readFlags: 20, lockOwner: 24, flags: 32 } as const;
export const WRITE_IN_SIZE = 40;
export const WriteIn = { fh: 0, offset: 8, size: 16, writeFlags: 20, lockOwner: 24, flags: 32 } as const;
export const WRITE_OUT_SIZE = 8;
export const FSYNC_IN_SIZE = 16;
export const FsyncIn = { fh: 0, fsyncFlags: 8 } as const;
/** Without FUSE_SETXATTR_EXT the kernel sends the 8-byte compat form {size, flags}. */
export const SETXATTR_IN_COMPAT_SIZE = 8;
export const SETXATTR_IN_SIZE = 16;
export const SetxattrIn = { size: 0, flags: 4, setxattrFlags: 8 } as const;
export const GETXATTR_IN_SIZE = 8; // size, padding
export const GETXATTR_OUT_SIZE = 8; // size, padding
export const FILE_LOCK_SIZE = 24;
export const FileLock = { start: 0, end: 8, type: 16, pid: 20 } as const;
export const LK_IN_SIZE = 48;
export const LkIn = { fh: 0, owner: 8, lk: 16, lkFlags: 40 } as const;
export const LK_OUT_SIZE = 24;
export const ACCESS_IN_SIZE = 8; // mask, padding
export const INIT_IN_SIZE = 64;
/** Kernels before 7.36 send only the first 16 bytes. */
export const INIT_IN_COMPAT_SIZE = 16;
export const InitIn = { major: 0, minor: 4, maxReadahead: 8, flags: 12, flags2: 16 } as const;
export const INIT_OUT_SIZE = 64;
export const InitOut = {
  major: 0,
  minor: 4,
  maxReadahead: 8,
  flags: 12,
  maxBackground: 16,
  congestionThreshold: 18,
  maxWrite: 20,
  timeGran: 24,
  maxPages: 28,
  mapAlignment: 30,
  flags2: 32,
  maxStackDepth: 36,
  requestTimeout: 40,
} as const;
export const INTERRUPT_IN_SIZE = 8; // unique
export const FALLOCATE_IN_SIZE = 32;
export const FallocateIn = { fh: 0, offset: 8, length: 16, mode: 24 } as const;
export const LSEEK_IN_SIZE = 24;
export const LseekIn = { fh: 0, offset: 8, whence: 16 } as const;
export const LSEEK_OUT_SIZE = 8;
export const COPY_FILE_RANGE_IN_SIZE = 56;
export const CopyFileRangeIn = { fhIn: 0, offIn: 8, nodeidOut: 16, fhOut: 24, offOut: 32, len: 40, flags: 48 } as const;
export const SYNCFS_IN_SIZE = 8;
export const SETUPMAPPING_IN_SIZE = 40;
export const SetupmappingIn = { fh: 0, foffset: 8, len: 16, flags: 24, moffset: 32 } as const;
export const REMOVEMAPPING_IN_SIZE = 4; // count, followed by fuse_removemapping_one[count]
export const REMOVEMAPPING_ONE_SIZE = 16; // moffset, len
export const RemovemappingOne = { moffset: 0, len: 8 } as const;
/** FUSE_REMOVEMAPPING_MAX_ENTRY: the kernel sends at most a page of entries per request. */
export const REMOVEMAPPING_MAX_ENTRIES = 4096 / REMOVEMAPPING_ONE_SIZE;

// ---- replies with variable parts ----
export const KSTATFS_SIZE = 80;
export const Kstatfs = {
  blocks: 0,
  bfree: 8,
  bavail: 16,
  files: 24,
  ffree: 32,
  bsize: 40,
  namelen: 44,
  frsize: 48,
} as const;
export const DIRENT_HEADER_SIZE = 24;
export const Dirent = { ino: 0, off: 8, namelen: 16, type: 20, name: 24 } as const;
export const DIRENTPLUS_HEADER_SIZE = ENTRY_OUT_SIZE + DIRENT_HEADER_SIZE;

/** Variable-length records are padded to 8 bytes. */
export function recAlign(len: number): number {
  return (len + 7) & ~7;
}
