// Cold-start phase timestamps of one sandbox, for `make bench-coldstart`
// (tools/src/bench_coldstart). Marks are wall-clock Date.now() values, comparable across the
// processes of one host. They are written only when VFS_TIMINGS_DIR is set in the shim's
// environment (the benchmark's private containerd passes it on), as <dir>/<sandbox id>.json once
// the first container's exit has been relayed: the sandbox's state dir is gone after Delete.
// Without the variable a mark is one Date.now().

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient } from './agent_dial';
import { guestBootTimes, type GuestBootTimes } from './guest_boot_times';

export const TIMINGS_DIR_ENV = 'VFS_TIMINGS_DIR';

/** Host milestones, in bring-up order. */
export type HostPhase =
  | 'serverStart'
  | 'createCalled'
  | 'daemonSpawned'
  | 'daemonReady'
  | 'qemuSpawned'
  | 'agentReady'
  | 'sandboxCreated'
  | 'containerCreated'
  | 'containerStarted'
  | 'exitSeen';

export interface SandboxTimings {
  readonly sandboxId: string;
  /** When the bootstrap `start` process began (10 ms resolution: /proc start times). */
  readonly shimStart: number | undefined;
  readonly host: Partial<Record<HostPhase, number>>;
  readonly guest: GuestBootTimes;
}

/** USER_HZ: the unit of /proc/<pid>/stat start times. */
const CLOCK_TICKS_PER_S = 100;

function timingsDir(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env[TIMINGS_DIR_ENV];
  return dir === undefined || dir === '' ? undefined : dir;
}

/** The wall-clock start of a live process: field 22 of its stat (ticks since boot) against /proc/uptime. */
function processStartWallMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Math.round(Date.now() - (uptimeS - startTicks / CLOCK_TICKS_PER_S) * 1000);
  } catch {
    return undefined;
  }
}

// The bootstrap `start` process is the server's parent only while the server starts up (it exits
// once the server listens), so its start time is read when this module loads — with timings on.
const bootstrapStartMs = timingsDir(process.env) === undefined ? undefined : processStartWallMs(process.ppid);

export class PhaseClock {
  private readonly host: Partial<Record<HostPhase, number>> = { serverStart: Math.round(performance.timeOrigin) };
  private saving: Promise<void> | undefined;

  constructor(
    private readonly sandboxId: string,
    /** Where the timings go; undefined: nowhere (production). */
    private readonly dir: string | undefined,
    private readonly consoleLog: string,
  ) {}

  /** Keeps the first time of each phase: a pod's later containers do not move them. */
  mark(phase: HostPhase): void {
    this.host[phase] ??= Date.now();
  }

  /** Writes the timings once, if asked to; never fails the caller (timings are a measurement aid). */
  save(agent: AgentClient): Promise<void> {
    this.saving ??= this.write(agent);
    return this.saving;
  }

  /** Settles once a started save is done: the VM must outlive the agent call it makes. */
  async saved(): Promise<void> {
    await this.saving;
  }

  private async write(agent: AgentClient): Promise<void> {
    if (this.dir === undefined) return;
    const path = join(this.dir, `${encodeURIComponent(this.sandboxId)}.json`);
    try {
      const timings: SandboxTimings = {
        sandboxId: this.sandboxId,
        shimStart: bootstrapStartMs,
        host: { ...this.host },
        guest: await guestBootTimes(agent, this.consoleLog),
      };
      // Renamed into place, so the benchmark never reads a half-written file.
      writeFileSync(`${path}.tmp`, `${JSON.stringify(timings)}\n`);
      renameSync(`${path}.tmp`, path);
    } catch {
      // An unreadable console or an unwritable directory costs the measurement, not the container.
    }
  }
}

export function phaseClock(sandboxId: string, consoleLog: string, env: NodeJS.ProcessEnv = process.env): PhaseClock {
  return new PhaseClock(sandboxId, timingsDir(env), consoleLog);
}
