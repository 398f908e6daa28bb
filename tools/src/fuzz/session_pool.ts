// What the daemon handed out in the current FUSE session (node ids, file and directory handles),
// so that generated requests mix ids the daemon knows with ones it never issued. Bounded rings:
// the newest ids replace the oldest. Cleared when the session ends (reconnect, DESTROY, restart).
import { FUSE_ROOT_ID } from '@vfs/daemon/fuse';
import type { Rng } from './prng';

const NODE_RING = 64;
const HANDLE_RING = 32;

/** Ids the daemon never issued: 0, huge, off by one, all ones. */
const BOGUS_IDS: readonly bigint[] = [
  0n,
  2n,
  3n,
  1000n,
  0x7fff_ffffn,
  0xffff_ffffn,
  2n ** 48n,
  2n ** 63n,
  2n ** 64n - 1n,
];

class Ring {
  private readonly items: bigint[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  add(id: bigint): void {
    if (this.items.length < this.capacity) this.items.push(id);
    else this.items[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
  }

  pick(rng: Rng): bigint | undefined {
    return this.items.length === 0 ? undefined : rng.pick(this.items);
  }

  clear(): void {
    this.items.length = 0;
    this.next = 0;
  }
}

export class SessionPool {
  private readonly nodes = new Ring(NODE_RING);
  private readonly fileHandles = new Ring(HANDLE_RING);
  private readonly dirHandles = new Ring(HANDLE_RING);

  addNode(nodeid: bigint): void {
    if (nodeid !== 0n) this.nodes.add(nodeid);
  }

  addFileHandle(fh: bigint): void {
    this.fileHandles.add(fh);
  }

  addDirHandle(fh: bigint): void {
    this.dirHandles.add(fh);
  }

  clear(): void {
    this.nodes.clear();
    this.fileHandles.clear();
    this.dirHandles.clear();
  }

  /** Mostly a node id the daemon issued, sometimes the root, sometimes one it never did. */
  nodeid(rng: Rng): bigint {
    const r = rng.float();
    if (r < 0.12) return BigInt(FUSE_ROOT_ID);
    if (r < 0.2) return rng.chance(0.5) ? rng.pick(BOGUS_IDS) : rng.u64();
    return this.nodes.pick(rng) ?? BigInt(FUSE_ROOT_ID);
  }

  /** A file handle (or, rarely, a directory handle or a bogus one). */
  fileHandle(rng: Rng): bigint {
    return this.handle(rng, this.fileHandles, this.dirHandles);
  }

  dirHandle(rng: Rng): bigint {
    return this.handle(rng, this.dirHandles, this.fileHandles);
  }

  private handle(rng: Rng, usual: Ring, other: Ring): bigint {
    const r = rng.float();
    if (r < 0.1) return rng.chance(0.5) ? rng.pick(BOGUS_IDS) : rng.u64();
    if (r < 0.15) return other.pick(rng) ?? 0n;
    return usual.pick(rng) ?? rng.pick(BOGUS_IDS);
  }
}
