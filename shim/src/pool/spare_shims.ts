// The warm pool's spare shims (contracts/src/warm_pool/spare_shim.ts): `count` shim processes
// started and loaded ahead, so that containerd's `start` of a new sandbox takes one instead of
// starting Node. A claimed spare tells the pool on its socket and is the sandbox's from then on:
// the pool lets go of it and starts its replacement once the refill delay has passed (the claimed
// spare's sandbox is starting then, as a taken VM's is). A spare that dies unclaimed is replaced
// after a growing delay. Stopping retires every unclaimed spare first — the same rename a claim
// makes, so each spare is either claimed or retired, never both — and then stops it.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, parseSpareDirName, SPARE_RESULT_TIMEOUT_S, spareDir, spareShimsDir } from '@vfs/contracts';
import type { ShimLogger } from '../logger';

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;
const STOP_WAIT_MS = 5000;

export interface SpareShimsOptions {
  /** The shim program to run (containerd-shim-vfs-v2). */
  readonly program: string;
  readonly runDir: string;
  readonly count: number;
  /** How long after a claim the replacement starts ([pool] refill_delay_ms). */
  readonly refillDelayMs: number;
  readonly log: ShimLogger;
}

interface SpareProcess {
  readonly id: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

export class SpareShims {
  private readonly spares = new Map<string, SpareProcess>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private retryMs = RETRY_FIRST_MS;
  private claims = 0;
  private refusals = 0;

  constructor(private readonly options: SpareShimsOptions) {}

  /** Removes what an earlier pool left and starts the spares. */
  start(): void {
    this.removeStale();
    for (let i = 0; i < this.options.count; i++) this.spawnOne();
  }

  /** Spares running and not claimed; claims and refusals since the start. */
  status(): { readonly running: number; readonly claimed: number; readonly refused: number } {
    return { running: this.spares.size, claimed: this.claims, refused: this.refusals };
  }

  /** Retires and stops every unclaimed spare. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all([...this.spares.values()].map((spare) => this.retire(spare)));
    try {
      // Only an empty dir goes: a claim in flight keeps its own.
      rmdirSync(spareShimsDir(this.options.runDir));
    } catch {
      // not empty, or never made
    }
  }

  private spawnOne(): void {
    if (this.stopped) return;
    const id = randomBytes(8).toString('hex');
    const child = spawn(this.options.program, ['-id', id, 'spare'], {
      // Its own session, as the prologue's setsid gives a shim; the pool's run dir, whatever the environment says.
      detached: true,
      env: { ...process.env, VFS_RUN_DIR: this.options.runDir },
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
    });
    // A program that cannot be started reports an error and may never exit.
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    const spare: SpareProcess = { id, child, exited };
    this.spares.set(id, spare);
    child.once('error', (err) =>
      this.options.log.error({ spare: id, err: errorMessage(err) }, 'spare shim not started'),
    );
    const control = child.stdio[3];
    let said = '';
    control?.on('data', (chunk: Buffer) => {
      said += chunk.toString('latin1');
      for (let newline = said.indexOf('\n'); newline >= 0; newline = said.indexOf('\n')) {
        const line = said.slice(0, newline);
        said = said.slice(newline + 1);
        if (line === 'claimed') this.onClaimed(spare);
        else this.onRefused(spare, line.replace(/^refused /, ''));
      }
    });
    control?.on('error', () => {});
    void exited.then(() => this.onExit(spare, child.exitCode, child.signalCode));
  }

  private onClaimed(spare: SpareProcess): void {
    if (!this.spares.delete(spare.id)) return;
    this.claims += 1;
    this.retryMs = RETRY_FIRST_MS;
    spare.child.stdio[3]?.destroy();
    spare.child.unref();
    this.options.log.info({ spare: spare.id, pid: spare.child.pid }, 'spare shim claimed');
    this.later(this.options.refillDelayMs);
  }

  /** A start a spare turned down runs Node itself: said here, or a spare that never fits goes unnoticed. */
  private onRefused(spare: SpareProcess, why: string): void {
    this.refusals += 1;
    this.options.log.warn({ spare: spare.id, why }, 'spare shim refused a start');
  }

  private onExit(spare: SpareProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (!this.spares.delete(spare.id) || this.stopped) return;
    // A stale spare (the program rebuilt) retires itself with 0; anything else is a failure.
    const delay = code === 0 ? 0 : this.backOff();
    this.options.log[code === 0 ? 'info' : 'error'](
      { spare: spare.id, code, signal, retryMs: delay },
      'spare shim exited unclaimed: replacing it',
    );
    // A claimed dir stays for the start waiting on it: whether it may start Node itself is settled
    // in that dir (the contract); the next pool removes it.
    for (const stage of ['loading', 'spare'] as const)
      rmSync(spareDir(this.options.runDir, spare.id, stage), { recursive: true, force: true });
    this.later(delay);
  }

  private backOff(): number {
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    return delay;
  }

  private later(ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.spawnOne();
    }, ms);
    this.timers.add(timer);
  }

  /** Wins the spare from any claimant by renaming its dir first, then stops it. */
  private async retire(spare: SpareProcess): Promise<void> {
    const retired = spareDir(this.options.runDir, spare.id, 'retired');
    const won = (['spare', 'loading'] as const).some((stage) => {
      try {
        renameSync(spareDir(this.options.runDir, spare.id, stage), retired);
        return true;
      } catch {
        return false; // not at that stage
      }
    });
    const running = spare.child.pid !== undefined && spare.child.exitCode === null && spare.child.signalCode === null;
    // Neither stage: a claimant renamed it first (its claim is on its way here), or it has exited.
    // The socket's end tells it the pool is gone: after that claim, or a while without one, it retires.
    if (!won && running) {
      spare.child.stdio[3]?.destroy();
      return;
    }
    if (running) {
      spare.child.kill('SIGTERM');
      const timer = setTimeout(() => spare.child.kill('SIGKILL'), STOP_WAIT_MS);
      await spare.exited;
      clearTimeout(timer);
    }
    rmSync(retired, { recursive: true, force: true });
  }

  /**
   * An earlier pool's spares end with their pool (their socket closes) and remove their dirs; a
   * dir left by one killed outright, or by a claim that died half-way, is removed here.
   */
  private removeStale(): void {
    const dir = spareShimsDir(this.options.runDir);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    const claimWindowMs = 2 * SPARE_RESULT_TIMEOUT_S * 1000;
    for (const name of names) {
      const parsed = parseSpareDirName(name);
      if (parsed === undefined) continue;
      const path = join(dir, name);
      // A claimed dir may belong to a `start` under way, which its spare removes when done. A
      // rename changes a dir's ctime, not its mtime.
      let changed: number;
      try {
        changed = statSync(path).ctimeMs;
      } catch {
        continue; // removed meanwhile by its spare
      }
      if (parsed.stage === 'claimed' && Date.now() - changed < claimWindowMs) continue;
      rmSync(path, { recursive: true, force: true });
    }
  }
}
