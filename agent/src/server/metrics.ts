/**
 * StatsContainer: the container's cgroup v2 files as containerd's cgroups v2 Metrics. memory.stat
 * keys are the snake_case of the Metrics field names; "max" limits become the VM's memory (the
 * real ceiling of a container in it) for memory and 0 (none) for pids, as containerd reports them.
 */
import { totalmem } from 'node:os';
import type { MemoryStat, Metrics } from '@vfs/proto/gen/cgroups/v2/metrics';
import type { CgroupStats } from '../container/cgroups';

const MEMORY_STAT_FIELDS = [
  'anon',
  'file',
  'kernelStack',
  'slab',
  'sock',
  'shmem',
  'fileMapped',
  'fileDirty',
  'fileWriteback',
  'anonThp',
  'inactiveAnon',
  'activeAnon',
  'inactiveFile',
  'activeFile',
  'unevictable',
  'slabReclaimable',
  'slabUnreclaimable',
  'pgfault',
  'pgmajfault',
  'workingsetRefault',
  'workingsetActivate',
  'workingsetNodereclaim',
  'pgrefill',
  'pgscan',
  'pgsteal',
  'pgactivate',
  'pgdeactivate',
  'pglazyfree',
  'pglazyfreed',
  'thpFaultAlloc',
  'thpCollapseAlloc',
] as const satisfies readonly (keyof MemoryStat)[];

const snakeCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function memoryStat(stats: CgroupStats['memory']): Partial<MemoryStat> {
  const fields: Partial<Record<(typeof MEMORY_STAT_FIELDS)[number], number>> = {};
  for (const field of MEMORY_STAT_FIELDS) fields[field] = stats.stat[snakeCase(field)] ?? 0;
  return { ...fields, usage: stats.currentBytes, usageLimit: stats.maxBytes === 'max' ? totalmem() : stats.maxBytes };
}

export function toMetrics(stats: CgroupStats): Partial<Metrics> {
  const events = stats.memory.events;
  return {
    pids: { current: stats.pids.current, limit: stats.pids.max === 'max' ? 0 : stats.pids.max },
    cpu: { ...stats.cpu, nrBursts: 0, burstUsec: 0 },
    memory: memoryStat(stats.memory) as MemoryStat,
    memoryEvents: {
      low: events.low ?? 0,
      high: events.high ?? 0,
      max: events.max ?? 0,
      oom: events.oom ?? 0,
      oomKill: events.oom_kill ?? 0,
    },
  };
}
