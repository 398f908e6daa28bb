// The inodes the guest knows: one O_PATH fd or one file handle per host inode, keyed by (dev, ino,
// mount id) so that hard links and repeated lookups share a node id, with the lookup count the
// kernel keeps for it and the number of open handles on it; it lives until both are zero. Node ids
// are never reused, so (nodeid, generation 0) stays unique for the session. A handle does not pin
// the inode as an fd does: the host can free it and reuse its number, so a handle inode matches a
// key only together with its handle.
import { tryClose } from '../sys/fd';
import { S_IFDIR, S_IFREG, STATX_BTIME, STX } from '../sys/fs';
import type { InodeFdCache } from './inode_fds';

export class Inode {
  /** Next inode in the same hash bucket. */
  next: Inode | null = null;
  /** OFD-lock fds by lock owner: each owner gets its own open file description. */
  lockFds: Map<string, number> | null = null;
  /** Neighbours in InodeFdCache's recency list (handle inodes with an open fd). */
  newer: Inode | null = null;
  older: Inode | null = null;

  constructor(
    readonly nodeid: number,
    /**
     * O_PATH|O_NOFOLLOW fd, never used for I/O, only as an *at() anchor or reopened via /proc:
     * held for life without a handle; with one, InodeFdCache's (-1 when closed). Read `fd`.
     */
    public pathFd: number,
    /** struct file_handle (header included) on the export root's mount, or null: the fd is held. */
    readonly handle: Buffer | null,
    private readonly fds: InodeFdCache,
    /** S_IFMT bits: an inode never changes type. */
    readonly type: number,
    readonly inoLo: number,
    readonly inoHi: number,
    readonly devMajor: number,
    readonly devMinor: number,
    readonly mntId: number,
    /** A directory on another host mount than its parent (FUSE_ATTR_SUBMOUNT). */
    readonly submount: boolean,
    /** Lookups the guest holds (FORGET drops them). */
    public refcount: number,
  ) {}

  /** Open handles on the inode: they use its fd, so it outlives the guest's lookups. */
  handles = 0;
  /** Birth time (statx btime), seconds and nanoseconds; birthSec -1 where the file system keeps none. */
  birthSec = -1;
  birthNsec = 0;

  /** The O_PATH fd, opened from the handle if need be; -errno if that failed (PassthroughFs.inode answers it). */
  get fd(): number {
    return this.handle === null ? this.pathFd : this.fds.acquire(this, this.handle);
  }

  /** The fd as a NUL-terminated decimal name inside /proc/self/fd. */
  get procName(): Buffer {
    return procNameOf(this.fd);
  }
}

/** Names by fd number, made on first use: fd numbers are few and reused, a handle inode's change. */
const procNames: Buffer[] = [];
const BAD_FD_NAME = Buffer.from('-1\0');

function procNameOf(fd: number): Buffer {
  if (fd < 0) return BAD_FD_NAME;
  return (procNames[fd] ??= Buffer.from(`${fd}\0`));
}

const S_IFMT = 0o170000;

/**
 * Only regular files and directories are ever opened for I/O, as virtiofsd's is_safe_inode: a
 * device node the guest made names a host device, and opening a FIFO blocks the queue.
 */
export function opensForIo(type: number): boolean {
  return type === S_IFREG || type === S_IFDIR;
}

/** The mount id of a statx result. */
export function mntIdOf(stx: DataView): number {
  return stx.getUint32(STX.mntId, true) + stx.getUint32(STX.mntId + 4, true) * 0x1_0000_0000;
}

function sameKey(i: Inode, stx: DataView): boolean {
  return (
    i.inoLo === stx.getUint32(STX.ino, true) &&
    i.inoHi === stx.getUint32(STX.ino + 4, true) &&
    i.devMajor === stx.getUint32(STX.devMajor, true) &&
    i.devMinor === stx.getUint32(STX.devMinor, true) &&
    i.mntId === mntIdOf(stx)
  );
}

/** btime seconds of a statx result, or -1 without STATX_BTIME in its mask. */
function birthSecOf(stx: DataView): number {
  if ((stx.getUint32(STX.mask, true) & STATX_BTIME) === 0) return -1;
  return stx.getUint32(STX.btime, true) + stx.getInt32(STX.btime + 4, true) * 0x1_0000_0000;
}

/**
 * Whether the inode `stx` describes (same key) is `inode` itself rather than a later one given its
 * freed number: undefined when either birth time is unknown.
 */
export function bornAs(inode: Inode, stx: DataView): boolean | undefined {
  const sec = birthSecOf(stx);
  if (sec < 0 || inode.birthSec < 0) return undefined;
  return sec === inode.birthSec && stx.getUint32(STX.btime + 8, true) === inode.birthNsec;
}

/** Whether `held` is the handle in `handle`'s first `len` bytes; compare() allocates nothing. */
export function sameHandle(held: Buffer, handle: Buffer, len: number): boolean {
  return held.length === len && held.compare(handle, 0, len) === 0;
}

/** Bucket key: the inode number, lossy above 2^53, which only costs a longer bucket. */
function bucketOf(stx: DataView): number {
  return stx.getUint32(STX.ino, true) + stx.getUint32(STX.ino + 4, true) * 0x1_0000_0000;
}

export class InodeTable {
  private readonly byId = new Map<number, Inode>();
  private readonly byIno = new Map<number, Inode>();
  private nextId = 2;

  constructor(
    /** Where handle inodes keep their O_PATH fds. */
    readonly fds: InodeFdCache,
  ) {}

  get(nodeid: number): Inode | undefined {
    return this.byId.get(nodeid);
  }

  /**
   * The known inode that `stx` (a statx result with STATX_MNT_ID) describes. Given its file handle
   * (`handle`'s first `handleLen` bytes), a handle inode must hold the same one; without, the first
   * with the key is returned, and one holding a handle has yet to be checked against the name's.
   */
  find(stx: DataView, handle: Buffer | null = null, handleLen = 0): Inode | undefined {
    for (let i: Inode | null = this.byIno.get(bucketOf(stx)) ?? null; i !== null; i = i.next) {
      if (!sameKey(i, stx)) continue;
      if (handle === null || i.handle === null || sameHandle(i.handle, handle, handleLen)) return i;
    }
    return undefined;
  }

  /**
   * Takes ownership of `fd` as a new inode with one lookup; `nodeid` is only given for the root.
   * With a `handle` the inode is held by it, and `fd` only starts as its cached fd.
   */
  add(fd: number, stx: DataView, nodeid = this.nextId++, submount = false, handle: Buffer | null = null): Inode {
    const bucket = bucketOf(stx);
    const inode = new Inode(
      nodeid,
      handle === null ? fd : -1,
      handle,
      this.fds,
      stx.getUint16(STX.mode, true) & S_IFMT,
      stx.getUint32(STX.ino, true),
      stx.getUint32(STX.ino + 4, true),
      stx.getUint32(STX.devMajor, true),
      stx.getUint32(STX.devMinor, true),
      mntIdOf(stx),
      submount,
      1,
    );
    inode.next = this.byIno.get(bucket) ?? null;
    this.byIno.set(bucket, inode);
    this.byId.set(nodeid, inode);
    inode.birthSec = birthSecOf(stx);
    inode.birthNsec = stx.getUint32(STX.btime + 8, true);
    if (handle !== null) this.fds.adopt(inode, fd);
    return inode;
  }

  /**
   * Drops `n` lookups; the inode (never the root, whose fd the export owns) goes away with its
   * fds once no lookup and no handle is left.
   */
  forget(inode: Inode, n: number): void {
    inode.refcount -= Math.min(n, inode.refcount);
    this.removeIfUnused(inode);
  }

  /** An open handle starts using the inode. */
  hold(inode: Inode): void {
    inode.handles++;
  }

  /** An open handle is done with the inode. */
  letGo(inode: Inode): void {
    inode.handles--;
    this.removeIfUnused(inode);
  }

  /** Forgets every inode but the root (the guest went away). */
  clear(): void {
    for (const inode of [...this.byId.values()]) {
      if (inode.nodeid !== 1) this.remove(inode);
      else this.closeLockFds(inode);
    }
  }

  get size(): number {
    return this.byId.size;
  }

  private removeIfUnused(inode: Inode): void {
    if (inode.nodeid !== 1 && inode.refcount === 0 && inode.handles === 0 && this.byId.get(inode.nodeid) === inode)
      this.remove(inode);
  }

  private remove(inode: Inode): void {
    this.byId.delete(inode.nodeid);
    this.unlinkBucket(inode);
    this.closeLockFds(inode);
    // An O_PATH fd has no data to write back: close(2) can only fail on a bad fd.
    if (inode.handle === null) tryClose(inode.pathFd);
    else this.fds.drop(inode);
  }

  private closeLockFds(inode: Inode): void {
    // Lock fds are never written through: nothing to report on close.
    if (inode.lockFds !== null) for (const fd of inode.lockFds.values()) tryClose(fd);
    inode.lockFds = null;
  }

  private unlinkBucket(inode: Inode): void {
    const bucket = inode.inoLo + inode.inoHi * 0x1_0000_0000;
    let prev: Inode | null = null;
    for (let i = this.byIno.get(bucket) ?? null; i !== null; prev = i, i = i.next) {
      if (i !== inode) continue;
      if (prev !== null) prev.next = i.next;
      else if (i.next !== null) this.byIno.set(bucket, i.next);
      else this.byIno.delete(bucket);
      return;
    }
  }
}
