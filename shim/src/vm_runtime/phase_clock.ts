// Cold-start phase timestamps of one sandbox, for `make bench-coldstart`
// (tools/src/bench_coldstart). Marks are wall-clock Date.now() values, comparable across the
// processes of one host. They are written only when VFS_TIMINGS_DIR is set in the shim's
// environment (the benchmark's private containerd passes it on), as <dir>/<sandbox id>.json once
// the first container's exit has been relayed: the sandbox's state dir is gone after Delete.
// Without the variable a mark is one Date.now().

import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient } from './agent_dial';
import { shimBegan } from '../shim_began';
import { guestBootTimes, type GuestBootTimes } from './guest_boot_times';

export const TIMINGS_DIR_ENV = 'VFS_TIMINGS_DIR';

/** Host milestones, in bring-up order. */
export const HOST_PHASES = [
  /** The shim's process began (containerd's `start`, which goes on to serve the sandbox), or a spare shim was claimed. */
  'shimStart',
  'createCalled',
  'daemonSpawned',
  'daemonReady',
  /** The copy of the VM template that QEMU resumes instead of booting began, and was made (template/). */
  'templateCopyBegan',
  'templateCopied',
  'qemuSpawned',
  /** The boot shares hot-plugged, when QEMU started without them beside the daemon (vm_bringup.ts). */
  'sharesPlugged',
  'agentReady',
  'sandboxCreated',
  'containerCreated',
  'containerStarted',
  'exitSeen',
] as const;

export type HostPhase = (typeof HOST_PHASES)[number];

export interface SandboxTimings {
  readonly sandboxId: string;
  readonly host: Partial<Record<HostPhase, number>>;
  readonly guest: GuestBootTimes;
}

function timingsDir(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env[TIMINGS_DIR_ENV];
  return dir === undefined || dir === '' ? undefined : dir;
}

export class PhaseClock {
  private readonly host: Partial<Record<HostPhase, number>> = { shimStart: shimBegan() };
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
