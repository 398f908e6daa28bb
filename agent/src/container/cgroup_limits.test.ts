import { cgroupLimitFiles, sharesToWeight } from './cgroup_limits';
import { parseKeyValues } from './cgroups';

describe('cgroup v2 limits from linux.resources', () => {
  it('converts memory, cpu and pids the way runc does', () => {
    expect(
      cgroupLimitFiles({
        memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20 },
        cpu: { shares: 1024, quota: 50000, period: 100000 },
        pids: { limit: 50 },
      }),
    ).toEqual([
      ['memory.max', String(64 << 20)],
      ['memory.low', String(32 << 20)],
      ['memory.swap.max', String(64 << 20)],
      ['cpu.weight', '39'],
      ['cpu.max', '50000 100000'],
      ['pids.max', '50'],
    ]);
  });

  it('maps -1 to max and leaves unset values alone', () => {
    expect(cgroupLimitFiles({ memory: { limit: -1, swap: -1 }, cpu: { quota: -1 }, pids: { limit: -1 } })).toEqual([
      ['memory.max', 'max'],
      ['memory.swap.max', 'max'],
      ['cpu.max', 'max 100000'],
      ['pids.max', 'max'],
    ]);
    expect(cgroupLimitFiles(undefined)).toEqual([]);
    expect(cgroupLimitFiles({ pids: { limit: 0 } })).toEqual([]);
  });

  it('rejects swap below the memory limit', () => {
    expect(() => cgroupLimitFiles({ memory: { limit: 100, swap: 50 } })).toThrow(/below memory.limit/);
  });

  it('converts shares to weight over the full range', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(262144)).toBe(10000);
  });

  it('parses key-value cgroup files', () => {
    expect(parseKeyValues('usage_usec 12\nuser_usec 7\n\n')).toEqual({ usage_usec: 12, user_usec: 7 });
  });
});
