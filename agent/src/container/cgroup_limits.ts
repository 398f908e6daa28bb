/**
 * linux.resources (written for cgroup v1 by the OCI spec) to cgroup v2 files, with runc's
 * conversions: cpu.weight from shares, memory.swap.max = swap − limit (v1 counted memory+swap).
 */
import type { OciResources } from '@vfs/contracts';
import { ContainerError } from './errors';

const DEFAULT_CPU_PERIOD = 100_000;

function maxOrValue(value: number): string {
  return value < 0 ? 'max' : String(value);
}

/** runc's conversion of cgroup v1 cpu.shares [2, 262144] to cgroup v2 cpu.weight [1, 10000]. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 100;
  return Math.floor(1 + ((Math.min(Math.max(shares, 2), 262144) - 2) * 9999) / 262142);
}

function memoryFiles(memory: NonNullable<OciResources['memory']>): [string, string][] {
  const files: [string, string][] = [];
  if (memory.limit !== undefined) files.push(['memory.max', maxOrValue(memory.limit)]);
  if (memory.reservation !== undefined) files.push(['memory.low', maxOrValue(memory.reservation)]);
  if (memory.swap !== undefined) {
    if (memory.swap < 0) files.push(['memory.swap.max', 'max']);
    else if (memory.limit !== undefined && memory.limit >= 0) {
      if (memory.swap < memory.limit) {
        throw new ContainerError('INVALID_SPEC', `memory.swap ${memory.swap} is below memory.limit ${memory.limit}`);
      }
      files.push(['memory.swap.max', String(memory.swap - memory.limit)]);
    }
  }
  return files;
}

function cpuFiles(cpu: NonNullable<OciResources['cpu']>): [string, string][] {
  const files: [string, string][] = [];
  if (cpu.shares !== undefined) files.push(['cpu.weight', String(sharesToWeight(cpu.shares))]);
  if (cpu.quota !== undefined || cpu.period !== undefined) {
    const quota = cpu.quota === undefined || cpu.quota < 0 ? 'max' : String(cpu.quota);
    files.push(['cpu.max', `${quota} ${cpu.period ?? DEFAULT_CPU_PERIOD}`]);
  }
  return files;
}

/** [file, value] pairs in the container's cgroup directory. */
export function cgroupLimitFiles(resources: OciResources | undefined): [string, string][] {
  if (resources === undefined) return [];
  const pids = resources.pids;
  return [
    ...(resources.memory === undefined ? [] : memoryFiles(resources.memory)),
    ...(resources.cpu === undefined ? [] : cpuFiles(resources.cpu)),
    ...(pids === undefined || pids.limit === 0 ? [] : [['pids.max', maxOrValue(pids.limit)] as [string, string]]),
  ];
}
