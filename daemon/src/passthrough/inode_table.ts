// The inodes the guest knows: one O_PATH fd per host inode, keyed by (dev, ino, mount id) so that
// hard links and repeated lookups share a node id, with the lookup count the kernel keeps for it
// and the number of open handles on it; it lives until both are zero. Node ids are never reused,
// so (nodeid, generation 0) stays unique for the session.
import { tryClose } from '../sys/fd';
import { STX } from '../sys/fs';

export class Inode {
  /** Next inode in the same hash bucket. */
  next: Inode | null = null;
  /** OFD-lock fds by lock owner: each owner gets its own open file description. */
  lockFds: Map<string, number> | null = null;
  private proc: Buffer | null = null;

  constructor(
    readonly nodeid: number,
    /** O_PATH|O_NOFOLLOW fd; never used for I/O, only as an *at() anchor or reopened via /proc. */
    readonly fd: number,
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

  /** The fd as a NUL-terminated decimal name inside /proc/self/fd; made on first use (most inodes are never opened). */
  get procName(): Buffer {
    return (this.proc ??= Buffer.from(`${this.fd}\0`));
  }
}

const S_IFMT = 0o170000;

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

/** Bucket key: the inode number, lossy above 2^53, which only costs a longer bucket. */
function bucketOf(stx: DataView): number {
  return stx.getUint32(STX.ino, true) + stx.getUint32(STX.ino + 4, true) * 0x1_0000_0000;
}

export class InodeTable {
  private readonly byId = new Map<number, Inode>();
  private readonly byIno = new Map<number, Inode>();
  private nextId = 2;

  get(nodeid: number): Inode | undefined {
    return this.byId.get(nodeid);
  }

  /** The known inode that `stx` (a statx result with STATX_MNT_ID) describes. */
  find(stx: DataView): Inode | undefined {
    for (let i: Inode | null = this.byIno.get(bucketOf(stx)) ?? null; i !== null; i = i.next) {
      if (sameKey(i, stx)) return i;
    }
    return undefined;
  }

  /** Takes ownership of `fd` as a new inode with one lookup; `nodeid` is only given for the root. */
  add(fd: number, stx: DataView, nodeid = this.nextId++, submount = false): Inode {
    const bucket = bucketOf(stx);
    const inode = new Inode(
      nodeid,
      fd,
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
    tryClose(inode.fd);
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
