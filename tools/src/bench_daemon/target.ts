// One daemon as the benchmark drives it: its process, a front-end driver connected to it (guest
// RAM big enough for MAX_DEPTH requests of 1 MiB), an initialised FUSE session, the node ids of
// the tree's directories, and one RequestSlot per possible request in flight.
import { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { HIPRIO_QUEUE, REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import type { GuestChain } from '@vfs/harness/vhost_user_driver/frontend';
import { BATCH_FORGET_IN_SIZE, FORGET_ONE_SIZE, Opcode } from '@vfs/daemon/fuse';
import type { Daemon } from './daemons';
import { pacedStep } from './pace';
import { MAX_IO, RequestSlot } from './request_slot';
import { BIG_FILE, FILES_DIR, scratchDir } from './tree';

export const MAX_DEPTH = 16;
/** Guest RAM: MAX_DEPTH slots of 1 MiB data plus rings, tables and small buffers. */
const GUEST_RAM = 64 << 20;
/** Entries per BATCH_FORGET. */
const FORGET_BATCH = 512;

/** Called per slot: first with written = -1, then with each reply; refills the slot or returns false. */
export type SlotStep = (slot: number, written: number) => boolean;

export class Target {
  readonly slots: RequestSlot[];
  readonly filesDir: number;
  readonly bigFile: number;
  readonly scratch: number;
  private readonly client: FuseClient;
  private readonly chainSets: GuestChain[][] = [];
  private unique = 1 << 20;
  private readonly forgetArgs = Buffer.alloc(BATCH_FORGET_IN_SIZE + FORGET_BATCH * FORGET_ONE_SIZE);

  private constructor(
    readonly daemon: Daemon,
    private readonly frontend: VhostUserFrontend,
    /** The front-end's pause after each reply (pace.ts). */
    private readonly paceUs: number,
  ) {
    this.client = new FuseClient(frontend);
    this.client.init();
    this.filesDir = this.client.lookup(1, FILES_DIR).nodeid;
    this.bigFile = this.client.lookup(1, BIG_FILE).nodeid;
    this.scratch = this.client.lookup(1, scratchDir(daemon.kind)).nodeid;
    this.slots = Array.from({ length: MAX_DEPTH }, () => new RequestSlot(frontend, MAX_IO));
  }

  /** Connects to the daemon's socket (waiting for it to listen) and opens a FUSE session. */
  static connect(daemon: Daemon, socketPath: string, paceUs = 0): Target {
    const frontend = VhostUserFrontend.connect({
      socketPath,
      memorySize: GUEST_RAM,
      queueSize: 128,
      // What a Linux guest negotiates with QEMU's vhost-user-fs device.
      indirect: true,
      eventIdx: true,
      connectTimeoutMs: 10_000,
      timeoutMs: 30_000,
    });
    try {
      return new Target(daemon, frontend, paceUs);
    } catch (err) {
      frontend.close();
      throw err;
    }
  }

  get kind(): string {
    return this.daemon.kind;
  }

  nextUnique(): number {
    return this.unique++;
  }

  /** Runs `depth` slots on the request queue until `step` retires them all, paced; returns elapsed ms. */
  run(depth: number, step: SlotStep): number {
    const chains = (this.chainSets[depth] ??= this.slots.slice(0, depth).map((s) => s.chain));
    const t0 = performance.now();
    this.frontend.runSlots(REQUEST_QUEUE, chains, pacedStep(step, this.paceUs));
    return performance.now() - t0;
  }

  /** Drops one lookup of each of `nodeids[0..count)` (BATCH_FORGET on hiprio), as the guest's dcache would. */
  forget(nodeids: Float64Array, count: number): void {
    for (let at = 0; at < count; at += FORGET_BATCH) {
      const n = Math.min(FORGET_BATCH, count - at);
      const a = this.forgetArgs;
      a.writeUInt32LE(n, 0);
      a.writeUInt32LE(0, 4);
      for (let i = 0; i < n; i++) {
        const off = BATCH_FORGET_IN_SIZE + i * FORGET_ONE_SIZE;
        a.writeUIntLE(nodeids[at + i]!, off, 6);
        a.writeUInt16LE(0, off + 6);
        a.writeUInt32LE(1, off + 8);
        a.writeUInt32LE(0, off + 12);
      }
      const args = a.subarray(0, BATCH_FORGET_IN_SIZE + n * FORGET_ONE_SIZE);
      this.client.send([this.client.header(Opcode.BATCH_FORGET, 0, args.length), args], 0, HIPRIO_QUEUE);
    }
  }

  /** A one-off request through the plain client (set-up and tidy-up, never timed). */
  get fuse(): FuseClient {
    return this.client;
  }

  close(): void {
    this.frontend.close();
  }
}
