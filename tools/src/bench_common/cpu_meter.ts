// Host CPU time of a benchmark's operations. The private containerd moves into a cgroup of the
// benchmark's own (the cpuacct hierarchy in cgroup v1, the unified tree in v2), so it and all it
// starts after — shims, QEMU, vfs-virtiofsd, runc — are charged there, exited processes included:
// a cgroup's usage keeps what its past members and removed child cgroups used. Containers runc
// places elsewhere (CRI pods under their cgroupParent) are added by naming those cgroups. The
// benchmark's own process and the children it has waited for (ctr, vfs-runtime) are the client
// side, from process.cpuUsage() and /proc/self/stat.

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const CGROUP_FS = '/sys/fs/cgroup';
/** /proc reports times in USER_HZ ticks, 100 a second on Linux. */
const MS_PER_TICK = 10;
const REMOVE_WAIT_MS = 5000;

export interface CpuSample {
  /** containerd, its shims and VMs, and the extra cgroups. */
  readonly runtimeMs: number;
  /** The benchmark process and the children it waited for. */
  readonly clientMs: number;
}

interface Hierarchy {
  readonly root: string;
  readonly usageMs: (dir: string) => number;
}

/** `usage_usec` of a cgroup v2 cpu.stat. */
export function parseCpuStatUsec(text: string): number {
  const match = /^usage_usec (\d+)$/m.exec(text);
  if (match === null) throw new Error('cpu.stat has no usage_usec line');
  return Number(match[1]);
}

/** cutime + cstime of a /proc/<pid>/stat line: CPU of the children waited for, in ticks. */
export function parseChildTicks(stat: string): number {
  // Fields after the command, which is in parentheses and may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Field 3 (state) is fields[0]: cutime and cstime are fields 16 and 17.
  return Number(fields[13]) + Number(fields[14]);
}

function hierarchy(): Hierarchy {
  if (existsSync(join(CGROUP_FS, 'cgroup.controllers')))
    return { root: CGROUP_FS, usageMs: (dir) => parseCpuStatUsec(readFileSync(join(dir, 'cpu.stat'), 'utf8')) / 1000 };
  const root = join(CGROUP_FS, 'cpuacct');
  if (!existsSync(join(root, 'cpuacct.usage')))
    throw new Error(`no cgroup v2 tree and no cpuacct hierarchy at ${root}: cannot measure CPU time`);
  return { root, usageMs: (dir) => Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8')) / 1e6 };
}

function clientMs(): number {
  const own = process.cpuUsage();
  const children = parseChildTicks(readFileSync('/proc/self/stat', 'utf8')) * MS_PER_TICK;
  return (own.user + own.system) / 1000 + children;
}

export class CpuMeter {
  private readonly extra: string[] = [];

  private constructor(
    private readonly hierarchy: Hierarchy,
    /** The benchmark's cgroup, a directory in the hierarchy. */
    readonly dir: string,
  ) {}

  /** Makes the cgroup `name` at the hierarchy's top; remove() takes it away. */
  static create(name: string): CpuMeter {
    const h = hierarchy();
    const dir = join(h.root, name);
    mkdirSync(dir);
    return new CpuMeter(h, dir);
  }

  /** Charges process `pid` (with its threads) and the children it starts from now on here. */
  adopt(pid: number): void {
    writeFileSync(join(this.dir, 'cgroup.procs'), String(pid));
  }

  /** Also counts cgroup `path` (as in /proc/<pid>/cgroup, e.g. a pod's cgroupParent); absent counts 0. */
  include(path: string): void {
    this.extra.push(join(this.hierarchy.root, path));
  }

  sample(): CpuSample {
    const extra = this.extra.filter((dir) => existsSync(dir)).map(this.hierarchy.usageMs);
    const runtimeMs = extra.reduce((sum, ms) => sum + ms, this.hierarchy.usageMs(this.dir));
    return { runtimeMs, clientMs: clientMs() };
  }

  /** Removes the cgroup once the processes in it are gone (killed ones may linger a moment). */
  async remove(): Promise<void> {
    const deadline = Date.now() + REMOVE_WAIT_MS;
    for (;;) {
      try {
        rmdirSync(this.dir);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY' || Date.now() > deadline) throw err;
        await sleep(50);
      }
    }
  }
}

export interface CpuSpent extends CpuSample {
  /** runtime + client. */
  readonly totalMs: number;
}

/** CPU spent between two samples. */
export function cpuSpent(before: CpuSample, after: CpuSample): CpuSpent {
  const runtimeMs = after.runtimeMs - before.runtimeMs;
  const clientMs = after.clientMs - before.clientMs;
  return { runtimeMs, clientMs, totalMs: runtimeMs + clientMs };
}
