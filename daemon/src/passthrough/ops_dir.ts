// Directory operations: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR. A handle keeps the
// cookie of the last record returned, and the getdents64 records it read ahead while it owns the
// one read-ahead buffer, so sequential reads never seek; any other offset from the guest is an
// lseek to that (opaque, 64-bit) cookie. One buffer, not one per handle: a guest holding 262,144
// directories open would otherwise pin 8 GiB of them. A stream that lost the buffer to another
// reads again from its cookie.
import { fdatasync, fsync, getdents64, lseek, O_DIRECTORY, O_RDONLY, S_IFDIR, SEEK_SET, STX } from '../sys/fs';
import {
  DIRENTPLUS_HEADER_SIZE,
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
import { EBADF, EINVAL, EIO, ENOENT, ENOTDIR } from '../fuse/errno';
import type { Request } from '../fuse/request';
import { escapedError } from './containment';
import type { DirStream, Handle } from './handle_table';
import { DirentPlusPage, DirentsCursor } from '../sys/dirents';
import { LOOKUP_BATCH_MAX, type LookupBatch } from '../sys/lookup_batch';
import type { PassthroughFs } from './passthrough_fs';

/** struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name. */
const D_OFF = 8;
const D_RECLEN = 16;
const D_NAME = 19;
/** FUSE_NAME_MAX: the longest name the guest takes in a dirent. */
const FUSE_NAME_MAX = 1024;
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
/** A READDIRPLUS reply's records between encodes: one batch's names, and "." and "..". */
const plusPage = new DirentPlusPage(LOOKUP_BATCH_MAX + 2);
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
 * The name length of the getdents64 record at `p` of dirBuf's first `len` bytes, or -1 when the
 * record is malformed (as daemon/native/dirents.c checks it, so that what is counted as a lookup
 * can be encoded).
 */
function recordNameLength(p: number, len: number): number {
  if (len - p <= D_NAME) return -1;
  const reclen = dirBuf.readUInt16LE(p + D_RECLEN);
  if (reclen <= D_NAME || reclen > len - p) return -1;
  const namelen = dirBuf.indexOf(0, p + D_NAME) - (p + D_NAME);
  return namelen <= 0 || namelen >= reclen - D_NAME || namelen > FUSE_NAME_MAX ? -1 : namelen;
}

/**
 * Encodes the queued direntplus records (dirBuf's, of `ds`) after the reply's first `encoded` bytes:
 * the new total, or -errno. The records were measured with the checks the encoder makes, so it
 * refuses none; if it ever did, the reply fails, and the guest's lookups counted for them are
 * never forgotten (EIO rather than a reply that does not say what was counted).
 */
function encodeQueued(rq: Request, fs: PassthroughFs, ds: DirStream, encoded: number, size: number): number {
  const { batch } = fs;
  const off = OUT_HEADER_SIZE + encoded;
  const r = plusPage.encode(
    dirBuf,
    ds.len,
    batch.stx,
    batch.capacity,
    fs.policy.timeoutSec,
    rq.reply,
    off,
    size - encoded,
  );
  return r < 0 ? r : encoded + r;
}

/**
 * Fills the reply with direntplus records (each entry counted as a lookup except "." and "..")
 * up to `size` bytes; returns bytes written or -errno. The names that fit are looked up in
 * batches (fs.batch), one native call each, and the records are encoded in one native call
 * before the batch's results or dirBuf's records are replaced; the caller discards what a reply
 * ending early left of the last batch.
 */
function fillPlus(rq: Request, fs: PassthroughFs, h: Handle, ds: DirStream, size: number): number {
  plusPage.count = 0;
  /** Bytes of the records taken: encoded, or queued in plusPage. */
  let written = 0;
  let encoded = 0;
  /** Why the page ended: 0 (full, or the end of the directory) or -errno. */
  let stop = 0;
  /** Position in dirBuf after the records the current batch covers. */
  let planEnd = 0;
  for (;;) {
    if (ds.pos >= ds.len) {
      encoded = encodeQueued(rq, fs, ds, encoded, size);
      if (encoded < 0) return encoded;
      stop = readAhead(h, ds);
      if (stop <= 0) break;
      stop = 0;
      planEnd = 0;
    }
    const p = ds.pos;
    const namelen = recordNameLength(p, ds.len);
    if (namelen < 0) {
      stop = -EIO;
      break;
    }
    const recSize = recAlign(DIRENTPLUS_HEADER_SIZE + namelen);
    if (written + recSize > size) break;
    const nameStart = p + D_NAME;
    if (plusPage.full) {
      encoded = encodeQueued(rq, fs, ds, encoded, size);
      if (encoded < 0) return encoded;
    }
    if (isDotOrDotDot(dirBuf, nameStart, namelen)) {
      plusPage.addEmpty(p);
    } else {
      if (p >= planEnd) {
        // The next batch reuses the statx slots the queued records are encoded from.
        encoded = encodeQueued(rq, fs, ds, encoded, size);
        if (encoded < 0) return encoded;
        fs.batch.discard();
        planEnd = planBatch(ds, fs.batch, size - written);
        stop = fs.lookupBatch(h.inode, fs.batch);
        if (stop < 0) break;
      }
      const slot = fs.batch.take();
      const inode = fs.batchEntry(h.inode, fs.batch, slot, entryName(dirBuf, nameStart, namelen));
      if (inode === -ENOENT) {
        consume(ds);
        continue;
      }
      if (typeof inode === 'number') {
        stop = inode;
        break;
      }
      const stx = fs.entryStat;
      // Looked up apart (the fd limit met in the batch, or a name not known after all).
      if (stx !== fs.batch.stat[slot]) fs.batch.setStat(slot, stx);
      const uid = fs.ids.guestUid(stx.getUint32(STX.uid, true));
      const gid = fs.ids.guestGid(stx.getUint32(STX.gid, true));
      plusPage.add(p, slot, inode.nodeid, fs.attrFlags(inode, stx), uid, gid);
    }
    written += recSize;
    consume(ds);
  }
  encoded = encodeQueued(rq, fs, ds, encoded, size);
  if (encoded < 0) return encoded;
  return written === 0 && stop < 0 ? stop : encoded;
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
