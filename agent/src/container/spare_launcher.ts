/**
 * A vfs-launcher started ahead of its plan. Starting one is Node's spawn: a fork of the agent and
 * the launcher's exec, which the agent's event loop waits out, 20–30 ms of a pooled
 * CreateContainer's ≈ 230 under TCG (ARCHITECTURE.md, "The warm pool"). A launcher blocked in
 * reading its plan costs the guest nothing, so the agent keeps SPARES of them: a booted sandbox's
 * start runs two launches back to back (CreateSandbox's host sync and mounts, then its first
 * container's init; a pooled one's CreateSandbox has no mounts left, and its set-up rides in the
 * init's launch). Container inits and execs without a pty and share mounts take one. The spares
 * are made up REFILL_DELAY_MS after the last take, off those requests' path (the host's
 * StartContainer follows a CreateContainer within ≈ 0.1 s), one per turn of the event loop. A
 * spare has read no plan, so it holds nothing of any tenant's; it exits on its own when the agent
 * does (its plan pipe ends).
 */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * After the last take: long enough for the create and start a launch belongs to (and the first
 * output) to pass, short enough for a pod's next container.
 */
export const REFILL_DELAY_MS = 500;
/** A booted sandbox's CreateSandbox launch and first init; a pooled one's first init and next launch. */
export const SPARES = 2;

/** Descriptors 3 (plan, then control lines) and 4 (status lines); extra ones follow from 5. */
export function spawnLauncher(launcherPath: string, extraFds: readonly number[] = []): ChildProcess {
  return spawn(launcherPath, [], { stdio: ['ignore', 'ignore', 'inherit', 'pipe', 'pipe', ...extraFds] });
}

/** A launcher that can still take a plan: it started, and no exit has been seen. */
function waiting(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

export class SpareLauncher {
  private spares: ChildProcess[] = [];
  private refill: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly launcherPath: string,
    private readonly refillDelayMs: number = REFILL_DELAY_MS,
    private readonly count: number = SPARES,
  ) {}

  /** The pids of the launchers waiting for a plan, the next one to be taken first. */
  get waitingPids(): number[] {
    return this.spares.filter(waiting).map((child) => child.pid as number);
  }

  /**
   * Starts spares until `count` wait: one now, the next in the following turn of the event loop,
   * since each is a fork and exec the loop waits out and a request may be waiting.
   */
  fill(): void {
    if (this.closed) return;
    this.spares = this.spares.filter(waiting);
    if (this.spares.length >= this.count) return;
    const child = spawnLauncher(this.launcherPath);
    // A launcher that cannot be run fails the launch that would take it: take() starts that one
    // anew and its Launch reports why. Until then the error has nowhere to go.
    child.once('error', () => undefined);
    this.spares.push(child);
    if (this.spares.length < this.count) setImmediate(() => this.fill());
  }

  /** The next waiting spare, or a launcher started now; either way the spares are made up later. */
  take(): ChildProcess {
    this.spares = this.spares.filter(waiting);
    const spare = this.spares.shift();
    this.scheduleRefill();
    return spare ?? spawnLauncher(this.launcherPath);
  }

  /** Stops the spares and any refill (the agent's own exit needs neither: the spares see EOF). */
  close(): void {
    this.closed = true;
    if (this.refill !== undefined) clearTimeout(this.refill);
    this.refill = undefined;
    for (const spare of this.spares) spare.kill('SIGKILL');
    this.spares = [];
  }

  private scheduleRefill(): void {
    if (this.closed) return;
    clearTimeout(this.refill);
    this.refill = setTimeout(() => {
      this.refill = undefined;
      this.fill();
    }, this.refillDelayMs);
    // A pending refill never keeps the agent (or a test) alive.
    this.refill.unref();
  }
}
