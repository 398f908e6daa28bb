// File operations: OPEN, CREATE, READ, WRITE, FLUSH, RELEASE, FSYNC, FALLOCATE, LSEEK,
// COPY_FILE_RANGE, SYNCFS. READ and WRITE move data between the file and guest memory with
// preadv/pwritev on iovecs that point into the chain's buffers: no copy in this process.
import {
  copyFileRange,
  fallocate,
  fdatasync,
  fsync,
  lseek,
  O_ACCMODE,
  O_APPEND,
  O_CREAT,
  O_DIRECT,
  O_DIRECTORY,
  O_DSYNC,
  O_EXCL,
  O_LARGEFILE,
  O_NOATIME,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_SYNC,
  O_TRUNC,
  O_WRONLY,
  O_CLOEXEC,
  openat,
  preadv,
  pwritev,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  SEEK_DATA,
  SEEK_HOLE,
  SEEK_SET,
  syncfs as sysSyncfs,
} from '../sys/fs';
import { tryClose, tryDup } from '../sys/fd';
import {
  COPY_FILE_RANGE_IN_SIZE,
  CopyFileRangeIn,
  CREATE_IN_SIZE,
  CreateIn,
  ENTRY_OUT_SIZE,
  FALLOCATE_IN_SIZE,
  FallocateIn,
  FLUSH_IN_SIZE,
  FlushIn,
  FSYNC_IN_SIZE,
  FsyncIn,
  FUSE_FSYNC_FDATASYNC,
  FUSE_OPEN_KILL_SUIDGID,
  FUSE_WRITE_KILL_SUIDGID,
  IN_HEADER_SIZE,
  LSEEK_IN_SIZE,
  LSEEK_OUT_SIZE,
  LseekIn,
  OPEN_IN_SIZE,
  OPEN_OUT_SIZE,
  OpenIn,
  OpenOut,
  OUT_HEADER_SIZE,
  READ_IN_SIZE,
  ReadIn,
  RELEASE_IN_SIZE,
  ReleaseIn,
  WRITE_IN_SIZE,
  WRITE_OUT_SIZE,
  WriteIn,
} from '../fuse/abi';
import { encodeEntry } from '../fuse/encode';
import { EACCES, EBADF, EEXIST, EINVAL, EISDIR, ELOOP, EROFS } from '../fuse/errno';
import type { Request } from '../fuse/request';
import { suppGroupOf } from '../fuse/request_ext';
import { escapedError } from './containment';
import type { Handle } from './handle_table';
import type { Inode } from './inode_table';
import { killSuidgidFd } from './ops_entry';
import type { PassthroughFs } from './passthrough_fs';

/** Flags the guest may pass through; creation and path-walk flags are ours to choose. */
const PASS_FLAGS = O_ACCMODE | O_APPEND | O_TRUNC | O_NONBLOCK | O_DSYNC | O_SYNC | O_NOATIME | O_LARGEFILE;
/** Largest I/O the guest may ask for in one request (max_write and max_pages give 1 MiB). */
export const MAX_IO = 1 << 20;

/** Host open flags for guest open flags, per the export's options. */
function hostFlags(fs: PassthroughFs, guest: number): number {
  let flags = guest & (PASS_FLAGS | (fs.config.allowDirectIo ? O_DIRECT : 0));
  // The writeback cache reads pages around partial writes and appends at its own offsets.
  if (fs.config.writeback) {
    if ((flags & O_ACCMODE) === O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
    flags &= ~O_APPEND;
  }
  return flags;
}

function writes(flags: number): boolean {
  return (flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0;
}

/** fuse_open_out for a new handle, at `off` in the reply. */
function encodeOpenOut(rq: Request, off: number, fh: number, openFlags: number): void {
  const v = rq.replyView;
  v.setUint32(off + OpenOut.fh, fh, true);
  v.setUint32(off + OpenOut.fh + 4, 0, true);
  v.setUint32(off + OpenOut.openFlags, openFlags, true);
  v.setUint32(off + OpenOut.backingId, 0, true);
}

/** Only regular files are opened on the host: a FIFO would block the queue, a device escape it. */
function openableError(inode: Inode): number {
  if (inode.type === S_IFREG) return 0;
  if (inode.type === S_IFDIR) return -EISDIR;
  return inode.type === S_IFLNK ? -ELOOP : -EACCES;
}

/**
 * What a truncating open drops (HANDLE_KILLPRIV_V2): the file capability of an existing file
 * (`inode`; null for one just created), and the set-id bits when the guest asks. 0 or -errno.
 */
function killPrivOnTrunc(fs: PassthroughFs, inode: Inode | null, fd: number, openFlags: number): number {
  const r = inode === null ? 0 : fs.xattr.killCapability(inode, fd);
  if (r < 0 || (openFlags & FUSE_OPEN_KILL_SUIDGID) === 0) return r;
  return killSuidgidFd(fs, fd);
}

export function open(rq: Request, fs: PassthroughFs): number {
  const inode = fs.inode(rq.nodeid);
  if (typeof inode === 'number') return rq.error(inode);
  if (!rq.has(OPEN_IN_SIZE)) return rq.error(EINVAL);
  const notOpenable = openableError(inode);
  if (notOpenable < 0) return rq.error(notOpenable);
  const guestFlags = rq.u32(OpenIn.flags);
  if (fs.config.readonly && writes(guestFlags)) return rq.error(EROFS);
  const fd = fs.reopen(inode, hostFlags(fs, guestFlags));
  if (fd < 0) return rq.error(fd);
  if (guestFlags & O_TRUNC) {
    const r = killPrivOnTrunc(fs, inode, fd, rq.u32(OpenIn.openFlags));
    if (r < 0) {
      tryClose(fd);
      return rq.error(r);
    }
  }
  encodeOpenOut(rq, OUT_HEADER_SIZE, fs.handles.add(fd, inode, false, writes(guestFlags)).fh, fs.policy.fileOpenFlags);
  return rq.ok(OPEN_OUT_SIZE);
}

export function create(rq: Request, fs: PassthroughFs): number {
  const parent = fs.inode(rq.nodeid);
  if (typeof parent === 'number') return rq.error(parent);
  if (!rq.has(CREATE_IN_SIZE)) return rq.error(EINVAL);
  const len = rq.entryName(CREATE_IN_SIZE);
  if (len < 0) return rq.error(len);
  if (fs.config.readonly) return rq.error(EROFS);
  const escaped = escapedError(parent);
  if (escaped < 0) return rq.error(escaped);
  const guestFlags = rq.u32(CreateIn.flags);
  const group = suppGroupOf(rq);
  if (group < 0) return rq.error(group);
  const opened = createOrOpen(rq, fs, parent, guestFlags, group);
  if (opened.fd < 0) return rq.error(opened.fd);
  const fd = opened.fd;
  const inode = createdInode(rq, fs, parent, guestFlags, opened);
  if (typeof inode === 'number') {
    if (opened.inode !== null) fs.inodes.forget(opened.inode, 1);
    tryClose(fd);
    return rq.error(inode);
  }
  const flags = fs.attrFlags(inode, fs.statView);
  encodeEntry(rq.replyView, OUT_HEADER_SIZE, inode.nodeid, fs.policy.timeoutSec, fs.statView, flags, fs.ids);
  const h = fs.handles.add(fd, inode, false, true);
  encodeOpenOut(rq, OUT_HEADER_SIZE + ENTRY_OUT_SIZE, h.fh, fs.policy.fileOpenFlags);
  return rq.ok(ENTRY_OUT_SIZE + OPEN_OUT_SIZE);
}

/** An fd for CREATE, and the inode (one lookup counted) when the name already existed. */
interface Created {
  readonly fd: number;
  readonly inode: Inode | null;
}

/** Kills set-id bits as asked, then the inode with its attributes in `fs.stat`, or -errno. */
function createdInode(
  rq: Request,
  fs: PassthroughFs,
  parent: Inode,
  guestFlags: number,
  opened: Created,
): Inode | number {
  if (guestFlags & O_TRUNC) {
    const killed = killPrivOnTrunc(fs, opened.inode, opened.fd, rq.u32(CreateIn.openFlags));
    if (killed < 0) return killed;
  }
  if (opened.inode === null) return fs.lookup(parent, rq.cstr(CREATE_IN_SIZE));
  const r = fs.statFd(opened.inode.fd);
  return r < 0 ? r : opened.inode;
}

const failed = (err: number): Created => ({ fd: err, inode: null });

/**
 * Creates the file exclusively, so the host never opens what is already there: an existing
 * name goes through OPEN's checks (a FIFO would block the worker, a device node is the host's).
 */
function createOrOpen(rq: Request, fs: PassthroughFs, parent: Inode, guestFlags: number, group: number): Created {
  const flags = hostFlags(fs, guestFlags) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  const mask = rq.u32(CreateIn.umask);
  const entered = fs.enterCreds(rq.uid, rq.gid, group, mask);
  if (entered < 0) return failed(entered);
  let fd: number;
  try {
    fd = openat(parent.fd, rq.cstr(CREATE_IN_SIZE), flags, rq.u32(CreateIn.mode) & 0o7777);
  } finally {
    fs.leaveCreds(rq.uid, rq.gid, group, mask);
  }
  if (fd !== -EEXIST || (guestFlags & O_EXCL) !== 0) return failed(fd);
  return openExisting(rq, fs, parent, guestFlags, group);
}

function openExisting(rq: Request, fs: PassthroughFs, parent: Inode, guestFlags: number, group: number): Created {
  const inode = fs.lookup(parent, rq.cstr(CREATE_IN_SIZE));
  if (typeof inode === 'number') return failed(inode);
  const notOpenable = openableError(inode);
  const fd = notOpenable < 0 ? notOpenable : reopenAsCaller(rq, fs, inode, guestFlags, group);
  if (fd >= 0) return { fd, inode };
  fs.inodes.forget(inode, 1);
  return failed(fd);
}

/**
 * The guest kernel checked only the parent for CREATE, so the host's permission check on the
 * existing file (and on O_TRUNC) must be the caller's, not the daemon's.
 */
function reopenAsCaller(rq: Request, fs: PassthroughFs, inode: Inode, guestFlags: number, group: number): number {
  const entered = fs.enterCreds(rq.uid, rq.gid, group);
  if (entered < 0) return entered;
  const fd = fs.reopen(inode, hostFlags(fs, guestFlags));
  fs.leaveCreds(rq.uid, rq.gid, group);
  return fd;
}

/** The file handle named by the u64 at argument offset `off`, when it belongs to the header's inode. */
function fileHandle(rq: Request, fs: PassthroughFs, off: number): Handle | undefined {
  const h = fs.handles.get(rq.id(off));
  return h !== undefined && h.dir === null && h.inode.nodeid === rq.nodeid ? h : undefined;
}

export function read(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(READ_IN_SIZE)) return rq.error(EINVAL);
  const h = fileHandle(rq, fs, ReadIn.fh);
  if (h === undefined) return rq.error(EBADF);
  const offset = rq.offset(ReadIn.offset);
  if (offset < 0) return rq.error(EINVAL);
  const size = Math.min(rq.u32(ReadIn.size), MAX_IO, Math.max(0, rq.writer.size - OUT_HEADER_SIZE));
  rq.iov.clear();
  rq.writer.iovecs(OUT_HEADER_SIZE, size, rq.iov);
  const n = rq.iov.count === 0 ? 0 : preadv(h.fd, rq.iov.buf, rq.iov.count, offset);
  return n < 0 ? rq.error(n) : rq.sendHeaderOnly(n);
}

export function write(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(WRITE_IN_SIZE)) return rq.error(EINVAL);
  const h = fileHandle(rq, fs, WriteIn.fh);
  if (h === undefined) return rq.error(EBADF);
  if (fs.config.readonly) return rq.error(EROFS);
  const offset = rq.offset(WriteIn.offset);
  const size = rq.u32(WriteIn.size);
  if (offset < 0 || size > MAX_IO || size > rq.argLen - WRITE_IN_SIZE) return rq.error(EINVAL);
  const dropped = fs.xattr.killCapability(h.inode, h.fd);
  if (dropped < 0) return rq.error(dropped);
  if (rq.u32(WriteIn.writeFlags) & FUSE_WRITE_KILL_SUIDGID) {
    const k = killSuidgidFd(fs, h.fd);
    if (k < 0) return rq.error(k);
  }
  rq.iov.clear();
  rq.reader.iovecs(IN_HEADER_SIZE + WRITE_IN_SIZE, size, rq.iov);
  const n = rq.iov.count === 0 ? 0 : pwritev(h.fd, rq.iov.buf, rq.iov.count, offset);
  if (n < 0) return rq.error(n);
  rq.replyView.setUint32(OUT_HEADER_SIZE, n, true);
  rq.replyView.setUint32(OUT_HEADER_SIZE + 4, 0, true);
  return rq.ok(WRITE_OUT_SIZE);
}

export function flush(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(FLUSH_IN_SIZE)) return rq.error(EINVAL);
  const h = fileHandle(rq, fs, FlushIn.fh);
  if (h === undefined) return rq.error(EBADF);
  // close(2) in the guest drops the POSIX locks of its owner on this file.
  fs.locks.releaseOwner(h.inode, rq.u32(FlushIn.lockOwner), rq.u32(FlushIn.lockOwner + 4));
  return rq.result(h.writes ? flushErrors(h.fd) : 0);
}

/**
 * A write-back error (NFS, a full disk under delayed allocation) shows at close(2), which the
 * guest's close(2) must return: closing a duplicate reports it and keeps the handle open.
 */
function flushErrors(fd: number): number {
  const copy = tryDup(fd);
  return copy < 0 ? copy : tryClose(copy);
}

export function release(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(RELEASE_IN_SIZE)) return rq.error(EINVAL);
  const h = fileHandle(rq, fs, ReleaseIn.fh);
  if (h === undefined) return rq.error(EBADF);
  fs.locks.dropHandle(h);
  // The kernel sends RELEASE asynchronously and drops its answer: FLUSH reported what matters.
  return rq.result(fs.handles.release(h));
}

export function fsyncFile(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(FSYNC_IN_SIZE)) return rq.error(EINVAL);
  const h = fileHandle(rq, fs, FsyncIn.fh);
  if (h === undefined) return rq.error(EBADF);
  return rq.result(rq.u32(FsyncIn.fsyncFlags) & FUSE_FSYNC_FDATASYNC ? fdatasync(h.fd) : fsync(h.fd));
}

export function fallocateFile(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(FALLOCATE_IN_SIZE)) return rq.error(EINVAL);
  const h = fileHandle(rq, fs, FallocateIn.fh);
  if (h === undefined) return rq.error(EBADF);
  if (fs.config.readonly) return rq.error(EROFS);
  const offset = rq.offset(FallocateIn.offset);
  const length = rq.offset(FallocateIn.length);
  if (offset < 0 || length < 0) return rq.error(EINVAL);
  return rq.result(fallocate(h.fd, rq.u32(FallocateIn.mode), offset, length));
}

export function lseekFile(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(LSEEK_IN_SIZE)) return rq.error(EINVAL);
  const h = fileHandle(rq, fs, LseekIn.fh);
  if (h === undefined) return rq.error(EBADF);
  const offset = rq.offset(LseekIn.offset);
  const whence = rq.u32(LseekIn.whence);
  if (offset < 0 || (whence !== SEEK_SET && whence !== SEEK_DATA && whence !== SEEK_HOLE)) return rq.error(EINVAL);
  const r = lseek(h.fd, offset, whence);
  if (r < 0) return rq.error(r);
  rq.replyView.setUint32(OUT_HEADER_SIZE, r % 0x1_0000_0000, true);
  rq.replyView.setUint32(OUT_HEADER_SIZE + 4, Math.floor(r / 0x1_0000_0000), true);
  return rq.ok(LSEEK_OUT_SIZE);
}

const offIn = Buffer.alloc(8);
const offOut = Buffer.alloc(8);
/**
 * The most one COPY_FILE_RANGE copies: it holds the device thread no longer than the largest
 * WRITE. A short count is a correct answer: copy_file_range(2) callers loop until done.
 */
export const MAX_COPY = MAX_IO;

export function copyFileRangeOp(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(COPY_FILE_RANGE_IN_SIZE)) return rq.error(EINVAL);
  const hIn = fileHandle(rq, fs, CopyFileRangeIn.fhIn);
  const hOut = fs.handles.get(rq.id(CopyFileRangeIn.fhOut));
  if (
    hIn === undefined ||
    hOut === undefined ||
    hOut.dir !== null ||
    hOut.inode.nodeid !== rq.id(CopyFileRangeIn.nodeidOut)
  ) {
    return rq.error(EBADF);
  }
  // As copy_file_range(2) does: only between regular files (a pipe would block the thread).
  if (hIn.inode.type !== S_IFREG || hOut.inode.type !== S_IFREG) return rq.error(EINVAL);
  if (fs.config.readonly) return rq.error(EROFS);
  const len = rq.offset(CopyFileRangeIn.len);
  if (rq.offset(CopyFileRangeIn.offIn) < 0 || rq.offset(CopyFileRangeIn.offOut) < 0 || len < 0) return rq.error(EINVAL);
  if (rq.u32(CopyFileRangeIn.flags) !== 0 || rq.u32(CopyFileRangeIn.flags + 4) !== 0) return rq.error(EINVAL);
  offIn.writeUInt32LE(rq.u32(CopyFileRangeIn.offIn), 0);
  offIn.writeUInt32LE(rq.u32(CopyFileRangeIn.offIn + 4), 4);
  offOut.writeUInt32LE(rq.u32(CopyFileRangeIn.offOut), 0);
  offOut.writeUInt32LE(rq.u32(CopyFileRangeIn.offOut + 4), 4);
  const n = copyFileRange(hIn.fd, offIn, hOut.fd, offOut, Math.min(len, MAX_COPY));
  if (n < 0) return rq.error(n);
  rq.replyView.setUint32(OUT_HEADER_SIZE, n, true);
  rq.replyView.setUint32(OUT_HEADER_SIZE + 4, 0, true);
  return rq.ok(WRITE_OUT_SIZE);
}

export function syncfs(rq: Request, fs: PassthroughFs): number {
  const inode = fs.inode(rq.nodeid);
  if (typeof inode === 'number') return rq.error(inode);
  // syncfs(2) refuses O_PATH fds, and opening a FIFO blocks while a device node is the host's:
  // those sync through the export root, which syncs the same filesystem unless it is a submount.
  const target = inode.type === S_IFREG || inode.type === S_IFDIR ? inode : fs.root;
  const fd = fs.reopen(target, O_RDONLY | (target.type === S_IFDIR ? O_DIRECTORY : 0));
  if (fd < 0) return rq.error(fd);
  const r = sysSyncfs(fd);
  // Opened read-only to name the filesystem: nothing of ours to write back on close.
  tryClose(fd);
  return rq.result(r);
}
