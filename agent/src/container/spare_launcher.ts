/**
 * A vfs-launcher started ahead of its plan. Starting one is Node's spawn: a fork of the agent and
 * the launcher's exec, which the agent's event loop waits out, 20–30 ms of a pooled
 * CreateContainer's ≈ 230 under TCG (ARCHITECTURE.md, "The warm pool"). A launcher blocked in
 * reading its plan costs the guest nothing, so the agent keeps one: the next launch without a pty
 * takes it, and the next spare starts REFILL_DELAY_MS later, off that request's path (the host's
 * StartContainer follows a CreateContainer within ≈ 0.1 s). A spare has read no plan, so it holds
 * nothing of any tenant's; it exits on its own when the agent does (its plan pipe ends).
 */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Long enough for the create and start a launch belongs to (and the first output) to pass, short
 * enough for a pod's next container.
 */
export const REFILL_DELAY_MS = 500;

/** Descriptors 3 (plan, then control lines) and 4 (status lines); extra ones follow from 5. */
export function spawnLauncher(launcherPath: string, extraFds: readonly number[] = []): ChildProcess {
  return spawn(launcherPath, [], { stdio: ['ignore', 'ignore', 'inherit', 'pipe', 'pipe', ...extraFds] });
}

/** A launcher that can still take a plan: it started, and no exit has been seen. */
function waiting(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

export class SpareLauncher {
  private spare: ChildProcess | undefined;
  private refill: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly launcherPath: string,
    private readonly refillDelayMs: number = REFILL_DELAY_MS,
  ) {}

  /** The pid of the launcher waiting for a plan, if one is. */
  get waitingPid(): number | undefined {
    return this.spare !== undefined && waiting(this.spare) ? this.spare.pid : undefined;
  }

  /** Starts a spare now unless one waits. */
  fill(): void {
    if (this.closed || (this.spare !== undefined && waiting(this.spare))) return;
    const child = spawnLauncher(this.launcherPath);
    // A launcher that cannot be run fails the launch that would take it: take() starts that one
    // anew and its Launch reports why. Until then the error has nowhere to go.
    child.once('error', () => undefined);
    this.spare = child;
  }

  /** The waiting spare, or a launcher started now; either way the next spare follows later. */
  take(): ChildProcess {
    const spare = this.spare;
    this.spare = undefined;
    this.scheduleRefill();
    if (spare !== undefined && waiting(spare)) return spare;
    return spawnLauncher(this.launcherPath);
  }

  /** Stops the spare and any refill (the agent's own exit needs neither: the spare sees EOF). */
  close(): void {
    this.closed = true;
    if (this.refill !== undefined) clearTimeout(this.refill);
    this.refill = undefined;
    this.spare?.kill('SIGKILL');
    this.spare = undefined;
  }

  private scheduleRefill(): void {
    if (this.closed || this.refill !== undefined) return;
    this.refill = setTimeout(() => {
      this.refill = undefined;
      this.fill();
    }, this.refillDelayMs);
    // A pending refill never keeps the agent (or a test) alive.
    this.refill.unref();
  }
}
