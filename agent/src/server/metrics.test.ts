import { totalmem } from 'node:os';
import type { CgroupStats } from '../container/cgroups';
import { toMetrics } from './metrics';

const cpu = { usageUsec: 5, userUsec: 3, systemUsec: 2, nrPeriods: 1, nrThrottled: 0, throttledUsec: 0 };

function stats(memoryMax: number | 'max', pidsMax: number | 'max'): CgroupStats {
  return {
    memory: {
      currentBytes: 4096,
      maxBytes: memoryMax,
      stat: { anon: 10, file_mapped: 20, thp_fault_alloc: 3 },
      events: { oom: 1, oom_kill: 1 },
    },
    cpu,
    pids: { current: 2, max: pidsMax },
  };
}

describe('toMetrics', () => {
  it('maps memory.stat keys, limits and events to containerd cgroups v2 Metrics', () => {
    const metrics = toMetrics(stats(1 << 20, 50));
    expect(metrics.memory).toMatchObject({
      usage: 4096,
      usageLimit: 1 << 20,
      anon: 10,
      fileMapped: 20,
      thpFaultAlloc: 3,
      pgfault: 0,
    });
    expect(metrics.pids).toEqual({ current: 2, limit: 50 });
    expect(metrics.cpu).toMatchObject(cpu);
    expect(metrics.memoryEvents).toEqual({ low: 0, high: 0, max: 0, oom: 1, oomKill: 1 });
  });

  it('reports an unlimited memory as the VM memory and unlimited pids as 0', () => {
    const metrics = toMetrics(stats('max', 'max'));
    expect(metrics.memory?.usageLimit).toBe(totalmem());
    expect(metrics.pids?.limit).toBe(0);
  });
});
