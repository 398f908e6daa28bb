// The warm pool: keeps `size` VMs booted and unused, one boot at a time (a boot is CPU-bound, and
// under TCG two at once take as long as two in a row), and refills after each hand-out, once the
// refill delay has passed: the VM just handed out is starting its first container, and a boot
// beside it takes the CPU that start needs (ARCHITECTURE.md, the warm pool). A VM
// leaves the pool exactly once — handed to one shim, or discarded (lost, pool stopped) — so none
// is ever handed out twice or after a tenant had it. A failing boot is retried with a growing
// delay, and the last failure shows in the status.

import type { PooledVm, PoolEntry, PoolStatus } from '@vfs/contracts';
import { errorMessage } from '@vfs/contracts';
import type { ShimLogger } from '../logger';
import type { PoolVmHandle } from './pool_vm';

/** Boots one VM under the given id. */
export type PoolVmBooter = (id: string) => Promise<PoolVmHandle>;

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

interface Booting {
  readonly id: string;
  readonly since: number;
}

interface Ready {
  readonly handle: PoolVmHandle;
  readonly since: number;
}

export type TakeResult = { readonly vm: PooledVm } | { readonly vm?: undefined; readonly reason: string };

export interface WarmPoolShape {
  /** How many ready VMs to keep. */
  readonly size: number;
  /** How long after a hand-out the refill boot waits ([pool] refill_delay_ms). */
  readonly refillDelayMs: number;
}

export class WarmPool {
  private readonly ready: Ready[] = [];
  private booting: Booting | undefined;
  private filling: Promise<void> = Promise.resolve();
  private stopped = false;
  private handedOut = 0;
  private bootFailures = 0;
  private lastError = '';
  private retryMs = RETRY_FIRST_MS;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** When the refill may boot: set by the first hand-out since the last boot began. */
  private refillAt: number | undefined;
  private readonly size: number;
  private readonly refillDelayMs: number;

  constructor(
    shape: WarmPoolShape,
    private readonly fingerprint: string,
    private readonly boot: PoolVmBooter,
    private readonly newId: () => string,
    private readonly log: ShimLogger,
  ) {
    this.size = shape.size;
    this.refillDelayMs = shape.refillDelayMs;
  }

  /** Starts filling in the background. */
  start(): void {
    this.filling = this.fill();
  }

  /** The oldest ready VM, gone from the pool once returned; or why there is none. */
  take(fingerprint: string, sandboxId: string): TakeResult {
    if (fingerprint !== this.fingerprint)
      return { reason: `the pool serves another configuration (${this.fingerprint}, the shim's is ${fingerprint})` };
    const entry = this.ready.shift();
    if (entry === undefined)
      return { reason: `no ready VM (${this.booting === undefined ? 'none' : 'one'} booting, size ${this.size})` };
    this.handedOut += 1;
    this.refillAt ??= Date.now() + this.refillDelayMs;
    this.kick();
    const vm = entry.handle.handOver();
    this.log.info({ poolVm: vm.id, takenBy: sandboxId }, 'pool VM handed over');
    return { vm };
  }

  status(): Omit<PoolStatus, 'spareShims'> {
    const now = Date.now();
    const vms: PoolEntry[] = this.ready.map((r) => ({
      id: r.handle.id,
      state: 'ready',
      ageMs: now - r.since,
      qemuPid: r.handle.qemuPid,
    }));
    if (this.booting !== undefined)
      vms.push({ id: this.booting.id, state: 'booting', ageMs: now - this.booting.since, qemuPid: null });
    return {
      size: this.size,
      fingerprint: this.fingerprint,
      vms,
      handedOut: this.handedOut,
      bootFailures: this.bootFailures,
      lastError: this.lastError,
    };
  }

  /** Stops filling, waits for a boot under way, and stops every VM still in the pool. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.kick();
    await this.filling;
    const left = this.ready.splice(0);
    const results = await Promise.allSettled(left.map((r) => r.handle.discard()));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
    if (failed.length > 0) throw new Error(`stopping the pool's VMs: ${failed.join('; ')}`);
  }

  private kick(): void {
    this.wake?.();
  }

  private async fill(): Promise<void> {
    while (!this.stopped) {
      if (this.ready.length >= this.size) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      const wait = (this.refillAt ?? 0) - Date.now();
      if (wait > 0) {
        await this.pause(wait);
        continue;
      }
      this.refillAt = undefined;
      const booted = await this.bootOne();
      if (!booted && !this.stopped) await this.backOff();
    }
  }

  /** Waits `ms`, or less when kicked (a hand-out, a lost VM, stop); leaves no timer behind. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.timer = timer;
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async bootOne(): Promise<boolean> {
    const id = this.newId();
    this.booting = { id, since: Date.now() };
    try {
      const handle = await this.boot(id);
      if (this.stopped) {
        await handle.discard();
        return true;
      }
      this.ready.push({ handle, since: this.booting.since });
      void handle.lost.then((why) => this.onLost(handle, why));
      this.retryMs = RETRY_FIRST_MS;
      return true;
    } catch (err) {
      this.bootFailures += 1;
      this.lastError = errorMessage(err);
      this.log.error({ poolVm: id, err: this.lastError, retryMs: this.retryMs }, 'pool VM boot failed');
      return false;
    } finally {
      this.booting = undefined;
    }
  }

  private backOff(): Promise<void> {
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    return this.pause(delay);
  }

  /** A VM that died while waiting is taken out, cleaned up, and replaced. */
  private async onLost(handle: PoolVmHandle, why: string): Promise<void> {
    const index = this.ready.findIndex((r) => r.handle === handle);
    if (index < 0) return;
    this.ready.splice(index, 1);
    this.log.warn({ poolVm: handle.id, reason: why }, 'pool VM lost: replacing it');
    await handle.discard().catch((err: unknown) => {
      this.log.error({ poolVm: handle.id, err: errorMessage(err) }, 'cleaning up the lost pool VM failed');
    });
    this.kick();
  }
}
