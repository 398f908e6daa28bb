// Directory operations: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR. A handle keeps the
// cookie of the last record returned, and the getdents64 records it read ahead while it owns the
// one read-ahead buffer, so sequential reads never seek; any other offset from the guest is an
// lseek to that (opaque, 64-bit) cookie. One buffer, not one per handle: a guest holding 262,144
// directories open would otherwise pin 8 GiB of them. A stream that lost the buffer to another
// reads again from its cookie.
import { fdatasync, fsync, getdents64, lseek, O_DIRECTORY, O_RDONLY, S_IFDIR, SEEK_SET } from '../sys/fs';
import {
  Dirent,
  DIRENTPLUS_HEADER_SIZE,
  ENTRY_OUT_SIZE,
  FSYNC_IN_SIZE,
  FsyncIn,
  FUSE_FSYNC_FDATASYNC,
  OPEN_OUT_SIZE,
  OpenOut,
  OUT_HEADER_SIZE,
  READ_IN_SIZE,
  ReadIn,
  recAlign,
  RELEASE_IN_SIZE,
  ReleaseIn,
} from '../fuse/abi';
import { encodeEmptyEntry, encodeEntry } from '../fuse/encode';
import { EBADF, EINVAL, ENOENT, ENOTDIR } from '../fuse/errno';
import type { Request } from '../fuse/request';
import { escapedError } from './containment';
import type { DirStream, Handle } from './handle_table';
import { DirentsCursor } from '../sys/dirents';
import type { LookupBatch } from '../sys/lookup_batch';
import type { PassthroughFs } from './passthrough_fs';

/** struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name. */
const D_OFF = 8;
const D_RECLEN = 16;
const D_TYPE = 18;
const D_NAME = 19;
const DOT = 0x2e;

export function opendir(rq: Request, fs: PassthroughFs): number {
  const inode = fs.inode(rq.nodeid);
  if (typeof inode === 'number') return rq.error(inode);
  if (inode.type !== S_IFDIR) return rq.error(ENOTDIR);
  const escaped = escapedError(inode);
  if (escaped < 0) return rq.error(escaped);
  const fd = fs.reopen(inode, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return rq.error(fd);
  const h = fs.handles.add(fd, inode, true);
  const v = rq.replyView;
  v.setUint32(OUT_HEADER_SIZE + OpenOut.fh, h.fh, true);
  v.setUint32(OUT_HEADER_SIZE + OpenOut.fh + 4, 0, true);
  v.setUint32(OUT_HEADER_SIZE + OpenOut.openFlags, fs.policy.dirOpenFlags, true);
  v.setUint32(OUT_HEADER_SIZE + OpenOut.backingId, 0, true);
  return rq.ok(OPEN_OUT_SIZE);
}

function dirHandle(rq: Request, fs: PassthroughFs, off: number): Handle | undefined {
  const h = fs.handles.get(rq.id(off));
  return h !== undefined && h.dir !== null && h.inode.nodeid === rq.nodeid ? h : undefined;
}

/** lseek to a 64-bit directory cookie given as its halves (BigInt only past 2^32). */
function seekCookie(fd: number, lo: number, hi: number): number {
  const r = lseek(fd, hi === 0 ? lo : (BigInt(hi) << 32n) | BigInt(lo), SEEK_SET);
  return r < 0 ? r : 0;
}

/** Positions the stream at the guest's offset; 0 or -errno. */
function seekTo(fd: number, ds: DirStream, lo: number, hi: number): number {
  if (lo === ds.offLo && hi === ds.offHi) return 0;
  const r = seekCookie(fd, lo, hi);
  if (r < 0) return r;
  ds.len = 0;
  ds.pos = 0;
  ds.offLo = lo;
  ds.offHi = hi;
  return 0;
}

function isDotOrDotDot(buf: Buffer, start: number, len: number): boolean {
  return buf[start] === DOT && (len === 1 || (len === 2 && buf[start + 1] === DOT));
}

/** NAME_MAX plus the NUL. */
const nameScratch = Buffer.alloc(256);

/** getdents64 records read ahead, and the stream they belong to (handlers run one at a time). */
const dirBuf = Buffer.allocUnsafe(32768);
/** Where a READDIR's native encode stopped. */
const cursor = new DirentsCursor();
let dirBufOwner: DirStream | null = null;

/** Makes `ds` the owner of dirBuf: another stream's records there are not its own. 0 or -errno. */
function takeBuffer(fd: number, ds: DirStream): number {
  if (dirBufOwner === ds) return 0;
  if (ds.len !== 0) {
    // Its records were overwritten, and the fd stands past them: back to its cookie (a failed
    // seek changes nothing, so the next READDIR tries again).
    const r = seekCookie(fd, ds.offLo, ds.offHi);
    if (r < 0) return r;
    ds.len = 0;
    ds.pos = 0;
  }
  dirBufOwner = ds;
  return 0;
}

/** The NUL-terminated name at `start` of a getdents64 record, copied into a reused buffer for the lookup. */
function entryName(buf: Buffer, start: number, len: number): Buffer {
  for (let i = 0; i < len; i++) nameScratch[i] = buf[start + i]!;
  nameScratch[len] = 0;
  return nameScratch;
}

/**
 * Queues for one lookup batch the names of the records from ds.pos on (in the records read) that
 * fit in `room` bytes of direntplus records; returns the position after the last one covered.
 */
function planBatch(ds: DirStream, batch: LookupBatch, room: number): number {
  batch.clear();
  let used = 0;
  let p = ds.pos;
  while (p < ds.len) {
    const nameStart = p + D_NAME;
    const namelen = dirBuf.indexOf(0, nameStart) - nameStart;
    const recSize = recAlign(DIRENTPLUS_HEADER_SIZE + namelen);
    if (used + recSize > room) break;
    if (!isDotOrDotDot(dirBuf, nameStart, namelen) && !batch.add(dirBuf, nameStart, namelen)) break;
    used += recSize;
    p += dirBuf.readUInt16LE(p + D_RECLEN);
  }
  return p;
}

/** Marks the record at ds.pos as returned. */
function consume(ds: DirStream): void {
  ds.offLo = dirBuf.readUInt32LE(ds.pos + D_OFF);
  ds.offHi = dirBuf.readUInt32LE(ds.pos + D_OFF + 4);
  ds.pos += dirBuf.readUInt16LE(ds.pos + D_RECLEN);
}

/** Reads the next getdents64 records into dirBuf: their length, 0 at the end, or -errno. */
function readAhead(h: Handle, ds: DirStream): number {
  const n = getdents64(h.fd, dirBuf, dirBuf.length);
  if (n > 0) {
    ds.len = n;
    ds.pos = 0;
  }
  return n;
}

/** Fills the reply with dirents (READDIR) up to `size` bytes; returns bytes written or -errno. */
function fillPlain(rq: Request, h: Handle, ds: DirStream, size: number): number {
  let written = 0;
  for (;;) {
    if (ds.pos >= ds.len) {
      const n = readAhead(h, ds);
      if (n <= 0) return written === 0 ? n : written;
    }
    const w = cursor.encode(dirBuf, ds.pos, ds.len, rq.reply, OUT_HEADER_SIZE + written, size - written);
    if (w < 0) return written === 0 ? w : written;
    if (w === 0) return written;
    written += w;
    ds.pos = cursor.pos;
    ds.offLo = cursor.offLo;
    ds.offHi = cursor.offHi;
    if (ds.pos < ds.len) return written;
  }
}

/**
 * Fills the reply with direntplus records (each entry counted as a lookup except "." and "..")
 * up to `size` bytes; returns bytes written or -errno. The names that fit are looked up in
 * batches (fs.batch), one native call each; the caller discards what a reply ending early left
 * of the last one.
 */
function fillPlus(rq: Request, fs: PassthroughFs, h: Handle, ds: DirStream, size: number): number {
  const out = rq.reply;
  const view = rq.replyView;
  let written = 0;
  /** Position in dirBuf after the records the current batch covers. */
  let planEnd = 0;
  for (;;) {
    if (ds.pos >= ds.len) {
      const n = readAhead(h, ds);
      if (n <= 0) return written === 0 ? n : written;
      planEnd = 0;
    }
    const p = ds.pos;
    const nameStart = p + D_NAME;
    const namelen = dirBuf.indexOf(0, nameStart) - nameStart;
    const recSize = recAlign(DIRENTPLUS_HEADER_SIZE + namelen);
    if (written + recSize > size) return written;
    let off = OUT_HEADER_SIZE + written;
    if (isDotOrDotDot(dirBuf, nameStart, namelen)) {
      encodeEmptyEntry(out, off);
    } else {
      if (p >= planEnd) {
        fs.batch.discard();
        planEnd = planBatch(ds, fs.batch, size - written);
        const r = fs.lookupBatch(h.inode, fs.batch);
        if (r < 0) return written === 0 ? r : written;
      }
      const name = entryName(dirBuf, nameStart, namelen);
      const inode = fs.batchEntry(h.inode, fs.batch, fs.batch.take(), name);
      if (inode === -ENOENT) {
        consume(ds);
        continue;
      }
      if (typeof inode === 'number') return written === 0 ? inode : written;
      const flags = fs.attrFlags(inode, fs.entryStat);
      encodeEntry(view, off, inode.nodeid, fs.policy.timeoutSec, fs.entryStat, flags, fs.ids);
    }
    off += ENTRY_OUT_SIZE;
    // Byte loops: d_ino, d_off and a name are short, and Buffer#copy of a range allocates a view.
    const src = dirBuf;
    for (let i = 0; i < 16; i++) out[off + Dirent.ino + i] = src[p + i]!;
    view.setUint32(off + Dirent.namelen, namelen, true);
    view.setUint32(off + Dirent.type, src[p + D_TYPE]!, true);
    const dst = off + Dirent.name;
    for (let i = 0; i < namelen; i++) out[dst + i] = src[nameStart + i]!;
    for (let i = dst + namelen, end = OUT_HEADER_SIZE + written + recSize; i < end; i++) out[i] = 0;
    written += recSize;
    consume(ds);
  }
}

function readdirCommon(rq: Request, fs: PassthroughFs, plus: boolean): number {
  if (!rq.has(READ_IN_SIZE)) return rq.error(EINVAL);
  const h = dirHandle(rq, fs, ReadIn.fh);
  if (h === undefined || h.dir === null) return rq.error(EBADF);
  // READDIRPLUS looks each name up: new nodes, as LOOKUP makes. A plain READDIR only reads on.
  const escaped = plus ? escapedError(h.inode) : 0;
  if (escaped < 0) return rq.error(escaped);
  const ds = h.dir;
  const owned = takeBuffer(h.fd, ds);
  if (owned < 0) return rq.error(owned);
  const s = seekTo(h.fd, ds, rq.u32(ReadIn.offset), rq.u32(ReadIn.offset + 4));
  if (s < 0) return rq.error(s);
  const size = Math.min(rq.u32(ReadIn.size), rq.replyRoom());
  if (!plus) return rq.result(fillPlain(rq, h, ds, size));
  const n = fillPlus(rq, fs, h, ds, size);
  fs.batch.discard();
  return rq.result(n);
}

export const readdir = (rq: Request, fs: PassthroughFs): number => readdirCommon(rq, fs, false);
export const readdirplus = (rq: Request, fs: PassthroughFs): number => readdirCommon(rq, fs, true);

export function releasedir(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(RELEASE_IN_SIZE)) return rq.error(EINVAL);
  const h = dirHandle(rq, fs, ReleaseIn.fh);
  if (h === undefined) return rq.error(EBADF);
  // A directory can hold flock locks and waiters too: a waiter left behind would retry on whatever
  // file reuses the fd number.
  fs.locks.dropHandle(h);
  return rq.result(fs.handles.release(h));
}

export function fsyncdir(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(FSYNC_IN_SIZE)) return rq.error(EINVAL);
  const h = dirHandle(rq, fs, FsyncIn.fh);
  if (h === undefined) return rq.error(EBADF);
  return rq.result(rq.u32(FsyncIn.fsyncFlags) & FUSE_FSYNC_FDATASYNC ? fdatasync(h.fd) : fsync(h.fd));
}
