// The fuzzer's front end to one daemon: a VhostUserFrontend (its options drawn per connection:
// ring size, indirect descriptors, EVENT_IDX, regions, memory slots), an initialised FUSE session
// and the pool of ids that session handed out.
import { type FrontendOptions, VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import type { Rng } from './prng';
import { SessionPool } from './session_pool';

const GUEST_RAM = 64 << 20;

export type DriverChoice = Omit<FrontendOptions, 'socketPath'>;

/** What QEMU and a guest might negotiate; the first connection of a daemon uses the defaults. */
export function driverChoice(rng: Rng): DriverChoice {
  return {
    queueSize: rng.pick([16, 64, 256, 1024]),
    indirect: rng.chance(0.5),
    eventIdx: rng.chance(0.5),
    memoryRegions: 1 + rng.below(3),
    memoryMode: rng.chance(0.2) ? 'slots' : 'table',
  };
}

export class FuzzSession {
  readonly pool = new SessionPool();
  private frontendNow: VhostUserFrontend | null = null;

  constructor(
    private readonly socketPath: string,
    private readonly hangMs: number,
    /** The DAX window every front end reserves and serves (0: none). */
    private readonly daxBytes = 0,
  ) {}

  get frontend(): VhostUserFrontend {
    if (this.frontendNow === null) throw new Error('no front end connected');
    return this.frontendNow;
  }

  /** Connects a new front end (closing the old one) and runs INIT. */
  connect(choice: DriverChoice = {}, connectTimeoutMs = this.hangMs): void {
    this.close();
    this.frontendNow = VhostUserFrontend.connect({
      memorySize: GUEST_RAM,
      queueSize: 256,
      ...choice,
      ...(this.daxBytes > 0 ? { backendChannel: true, shmemSize: this.daxBytes } : {}),
      socketPath: this.socketPath,
      connectTimeoutMs,
      timeoutMs: this.hangMs,
    });
    this.init();
  }

  /** Drops the connection and makes it again with the same guest RAM and rings (a VMM restart). */
  reconnect(): void {
    this.frontend.disconnect();
    this.frontend.reconnect();
    this.init();
  }

  /** A fresh FUSE session on the current connection (after DESTROY or a second INIT). */
  init(): void {
    this.pool.clear();
    new FuseClient(this.frontend).init();
  }

  close(): void {
    this.frontendNow?.close();
    this.frontendNow = null;
    this.pool.clear();
  }
}
