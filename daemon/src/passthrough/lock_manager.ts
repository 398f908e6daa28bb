// POSIX record locks and flock(2) on the host, so guest locks contend with host processes.
// Each guest lock owner gets its own open file description per inode and locks through it with
// OFD locks (owner = open file description), which gives the per-owner semantics of POSIX locks
// without the daemon's own process-wide lock ownership. A blocking SETLKW never blocks the queue:
// it is retried from poll() and completed through the CompletionSink, or interrupted. Owners'
// descriptions and parked requests are bounded (ResourceLimits): past a bound the request gets
// ENOLCK, as fcntl(2) answers when the kernel's lock table is full.
import type { CompletionSink, DescriptorChain } from '../virtio/descriptor_chain';
import {
  F_OFD_GETLK,
  F_OFD_SETLK,
  F_RDLCK,
  F_UNLCK,
  F_WRLCK,
  fcntlLock,
  FLOCK,
  FLOCK_SIZE,
  flock,
  LOCK_EX,
  LOCK_NB,
  LOCK_SH,
  LOCK_UN,
} from '../sys/locks';
import { O_DIRECTORY, O_RDONLY, O_RDWR, S_IFDIR, S_IFREG } from '../sys/fs';
import { tryClose } from '../sys/fd';
import { ChainWriter } from '../fuse/chain_io';
import { OUT_HEADER_SIZE } from '../fuse/abi';
import { EACCES, EAGAIN, EBADF, EINTR, EINVAL, ENOLCK, EROFS, EWOULDBLOCK } from '../fuse/errno';
import type { ResourceLimits } from './config';
import type { Handle } from './handle_table';
import type { Inode, InodeTable } from './inode_table';

/** A lock request as FUSE states it: an inclusive byte range, end = OFFSET_MAX meaning "to EOF". */
export interface LockRange {
  start: bigint;
  end: bigint;
  type: number;
}

const OFFSET_MAX = 0x7fff_ffff_ffff_ffffn;
const RETRY_MS = 10;
/**
 * INTERRUPTs remembered while their request has not come: the hiprio queue may be served before
 * the request queue holding it. (libfuse keeps them too, and answers EAGAIN so /dev/fuse sends them
 * again; a virtio-fs INTERRUPT has no reply buffer.) Past this many, the oldest go.
 */
const EARLY_INTERRUPTS = 64;

interface PendingLock {
  readonly chain: DescriptorChain;
  readonly queueIndex: number;
  readonly unique: bigint;
  readonly retry: () => number;
  readonly handle: Handle;
}

function ownerKey(lo: number, hi: number): string {
  return `${hi}:${lo}`;
}

export class LockManager {
  private pending: PendingLock[] = [];
  /** Uniques of INTERRUPTs that found nothing parked, oldest first. */
  private early: bigint[] = [];
  private readonly flockBuf = Buffer.alloc(FLOCK_SIZE);
  /** Reused for every completion: finish() runs to its end before the next one. */
  private readonly writer = new ChainWriter();
  private readonly header = Buffer.alloc(OUT_HEADER_SIZE);
  /** Owners' open file descriptions, over every inode (each counts against maxLockOwners). */
  private owners = 0;

  constructor(
    private readonly readonly: boolean,
    private readonly complete: CompletionSink,
    private readonly reopen: (inode: Inode, flags: number) => number,
    /** An inode with owners' descriptions is held as a handle holds it, so they close only here. */
    private readonly inodes: Pick<InodeTable, 'hold' | 'letGo'>,
    private readonly limits: Pick<ResourceLimits, 'maxLockOwners' | 'maxParkedLocks'>,
  ) {}

  /**
   * F_OFD_GETLK for the owner: fills `range` with the conflicting lock (or type F_UNLCK). An owner
   * without a description holds no locks, so a transient description answers for it: GETLK never
   * leaves an fd behind.
   */
  getlk(inode: Inode, ownerLo: number, ownerHi: number, range: LockRange): number {
    const known = inode.lockFds?.get(ownerKey(ownerLo, ownerHi));
    const fd = known ?? this.openForLocks(inode);
    if (fd < 0) return fd;
    this.fillFlock(range);
    const r = fcntlLock(fd, F_OFD_GETLK, this.flockBuf);
    if (known === undefined) tryClose(fd);
    if (r < 0) return r;
    const b = this.flockBuf;
    range.type = b.readInt16LE(FLOCK.type);
    if (range.type === F_UNLCK) return 0;
    range.start = b.readBigInt64LE(FLOCK.start);
    const len = b.readBigInt64LE(FLOCK.len);
    range.end = len === 0n ? OFFSET_MAX : range.start + len - 1n;
    return 0;
  }

  /**
   * A non-blocking POSIX lock or unlock: 0 or -errno (EAGAIN on conflict). An owner keeps its
   * description only while it may hold a lock: a refused first lock or an unlock of the whole
   * file closes it, so owners holding nothing pin no fds.
   */
  setlk(inode: Inode, ownerLo: number, ownerHi: number, range: LockRange): number {
    const held = inode.lockFds?.has(ownerKey(ownerLo, ownerHi)) === true;
    if (range.type === F_UNLCK && !held) return 0;
    if (range.type === F_WRLCK && this.readonly) return -EROFS;
    const fd = this.ownerFd(inode, ownerLo, ownerHi);
    if (fd < 0) return fd;
    this.fillFlock(range);
    const r = fcntlLock(fd, F_OFD_SETLK, this.flockBuf);
    const wholeUnlock = range.type === F_UNLCK && range.start === 0n && range.end >= OFFSET_MAX;
    if ((r < 0 && !held) || (r === 0 && wholeUnlock)) this.releaseOwner(inode, ownerLo, ownerHi);
    // fcntl may report a conflict as EACCES; FUSE expects EAGAIN.
    return r === -EACCES ? -EAGAIN : r;
  }

  /** A non-blocking flock(2) on the handle's own open file description. */
  flock(h: Handle, type: number): number {
    const op = type === F_RDLCK ? LOCK_SH : type === F_WRLCK ? LOCK_EX : type === F_UNLCK ? LOCK_UN : -1;
    if (op < 0) return -EINVAL;
    return flock(h.fd, op | LOCK_NB);
  }

  /**
   * Parks a blocking lock request: `attempt` is retried from poll() until it stops answering
   * EAGAIN, and its result completes `chain`. False, parking nothing, when maxParkedLocks wait.
   */
  defer(chain: DescriptorChain, queueIndex: number, unique: bigint, handle: Handle, attempt: () => number): boolean {
    if (this.pending.length >= this.limits.maxParkedLocks) return false;
    this.pending.push({ chain, queueIndex, unique, retry: attempt, handle });
    return true;
  }

  /** Retries parked requests; returns ms until the next retry, or -1 with nothing parked. */
  poll(): number {
    if (this.pending.length === 0) return -1;
    const still: PendingLock[] = [];
    for (const p of this.pending) {
      const r = p.retry();
      if (r === -EAGAIN || r === -EWOULDBLOCK) still.push(p);
      else this.finish(p, Math.min(r, 0));
    }
    this.pending = still;
    return still.length === 0 ? -1 : RETRY_MS;
  }

  /**
   * Answers a parked request with EINTR; false when none has that unique, which is then remembered
   * for a request still on its way (takeEarlyInterrupt).
   */
  interrupt(unique: bigint): boolean {
    const i = this.pending.findIndex((p) => p.unique === unique);
    if (i < 0) {
      if (this.early.length >= EARLY_INTERRUPTS) this.early.shift();
      this.early.push(unique);
      return false;
    }
    const [p] = this.pending.splice(i, 1);
    this.finish(p, -EINTR);
    return true;
  }

  /** Whether an INTERRUPT for `unique` came before the request itself; forgets it if so. */
  takeEarlyInterrupt(unique: bigint): boolean {
    const i = this.early.indexOf(unique);
    if (i < 0) return false;
    this.early.splice(i, 1);
    return true;
  }

  /** Drops the owner's POSIX locks on the inode: closing its description releases them. */
  releaseOwner(inode: Inode, ownerLo: number, ownerHi: number): void {
    const key = ownerKey(ownerLo, ownerHi);
    const fd = inode.lockFds?.get(key);
    if (fd === undefined) return;
    inode.lockFds?.delete(key);
    // Lock fds are never written through: closing one only drops its locks.
    tryClose(fd);
    this.owners--;
    if (inode.lockFds?.size === 0) this.inodes.letGo(inode);
  }

  /** The handle is being released: requests parked on it can never be granted. */
  dropHandle(h: Handle): void {
    // Every RELEASE comes here: nothing to allocate when nothing waits.
    if (this.pending.length === 0) return;
    for (const p of this.pending.filter((q) => q.handle === h)) this.finish(p, -EBADF);
    this.pending = this.pending.filter((q) => q.handle !== h);
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /**
   * The session ends (INIT again, DESTROY, the front-end gone): every parked request is answered
   * EINTR, so its chain leaves the ring's in-flight set and unpins guest memory.
   */
  reset(): void {
    const parked = this.pending;
    this.pending = [];
    this.early = [];
    // The inode table closes every description as it forgets its inodes.
    this.owners = 0;
    for (const p of parked) this.finish(p, -EINTR);
  }

  private finish(p: PendingLock, err: number): void {
    const w = this.writer;
    w.reset(p.chain.writable);
    const hdr = this.header;
    hdr.writeUInt32LE(OUT_HEADER_SIZE, 0);
    hdr.writeInt32LE(err, 4);
    hdr.writeBigUInt64LE(p.unique, 8);
    this.complete(p.chain, p.queueIndex, w.size < OUT_HEADER_SIZE ? 0 : w.write(0, hdr, 0, OUT_HEADER_SIZE));
  }

  private fillFlock(range: LockRange): void {
    const b = this.flockBuf;
    b.fill(0);
    b.writeInt16LE(range.type, FLOCK.type);
    b.writeInt16LE(0, FLOCK.whence);
    b.writeBigInt64LE(range.start, FLOCK.start);
    b.writeBigInt64LE(range.end >= OFFSET_MAX ? 0n : range.end - range.start + 1n, FLOCK.len);
  }

  /** The owner's own open file description of the inode, opened on first use; ENOLCK past maxLockOwners. */
  private ownerFd(inode: Inode, ownerLo: number, ownerHi: number): number {
    const key = ownerKey(ownerLo, ownerHi);
    const known = inode.lockFds?.get(key);
    if (known !== undefined) return known;
    if (this.owners >= this.limits.maxLockOwners) return -ENOLCK;
    const fd = this.openForLocks(inode);
    if (fd < 0) return fd;
    inode.lockFds ??= new Map();
    if (inode.lockFds.size === 0) this.inodes.hold(inode);
    inode.lockFds.set(key, fd);
    this.owners++;
    return fd;
  }

  /** A new open file description of the inode to lock through, or -errno. */
  private openForLocks(inode: Inode): number {
    if (inode.type !== S_IFREG && inode.type !== S_IFDIR) return -EINVAL;
    const flags = inode.type === S_IFDIR ? O_RDONLY | O_DIRECTORY : this.readonly ? O_RDONLY : O_RDWR;
    const fd = this.reopen(inode, flags);
    // A file we may not open for writing can still take read locks.
    return fd < 0 && flags === O_RDWR ? this.reopen(inode, O_RDONLY) : fd;
  }
}
