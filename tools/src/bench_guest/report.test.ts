import { GuestResults } from './report';

const run = (seconds: number, daemonCpuMs: number, qemuCpuMs: number) => ({
  phases: [{ phase: 'create', seconds, amount: 100, unit: 'ops' }],
  daemonCpuMs,
  qemuCpuMs,
});

describe('GuestResults', () => {
  const results = new GuestResults(['ours', 'c', '9p'], ['auto']);
  results.add('auto', 'ours', run(1, 300, 1000));
  results.add('auto', 'ours', run(0.5, 100, 1000));
  results.add('auto', 'ours', run(2, 200, 1000));
  results.add('auto', 'c', run(2, 100, 2000));
  results.add('auto', '9p', run(4, 0, 500));

  it('prints medians with min–max and ours/X ratios of medians (> 1: ours faster or cheaper)', () => {
    const rows = results.table().split('\n');
    expect(rows[1]?.trim().split(/\s{3,}/)).toEqual(['workload', 'unit', 'ours', 'c', '9p', 'ours/c', 'ours/9p']);
    expect(rows[2]?.trim().split(/\s{3,}/)).toEqual([
      'create',
      'ops/s',
      '100 (50.0–200)',
      '50.0',
      '25.0',
      '2.00',
      '4.00',
    ]);
    expect(rows[3]?.trim().split(/\s{3,}/)).toEqual([
      'host CPU, daemon',
      'ms',
      '200 (100–300)',
      '100',
      '—',
      '0.50',
      '—',
    ]);
    expect(rows[4]?.trim().split(/\s{3,}/)).toEqual([
      'host CPU, QEMU',
      'ms',
      '1000 (1000–1000)',
      '2000',
      '500',
      '2.00',
      '0.50',
    ]);
  });

  it('adds the DAX pair beside the others with a dax/no-dax ratio, and a dash where a mount skipped a phase', () => {
    const dax = new GuestResults(['ours', 'c', 'ours-vmm', 'ours-dax'], ['none']);
    const mmap = (seconds: number | null, cpuMs: number) => ({
      phases: [
        seconds === null
          ? { phase: 'mmap-write', seconds: 0, amount: 0, unit: 'bytes', skipped: 'No such device' }
          : { phase: 'mmap-write', seconds, amount: 4e6, unit: 'bytes' },
      ],
      daemonCpuMs: cpuMs,
      qemuCpuMs: 1000,
    });
    dax.add('none', 'ours', mmap(null, 100));
    dax.add('none', 'c', mmap(null, 100));
    dax.add('none', 'ours-vmm', mmap(null, 400));
    dax.add('none', 'ours-dax', mmap(1, 100));
    const rows = dax.table().split('\n');
    expect(rows[1]?.trim().split(/\s{3,}/)).toEqual([
      'workload',
      'unit',
      'ours',
      'c',
      'ours-vmm',
      'ours-dax',
      'ours/c',
      'dax/no-dax',
    ]);
    expect(rows[2]?.trim().split(/\s{3,}/)).toEqual(['mmap-write', 'MB/s', '—', '—', '—', '4.00', '—', '—']);
    expect(rows[3]?.trim().split(/\s{3,}/)).toEqual([
      'host CPU, daemon',
      'ms',
      '100',
      '100',
      '400',
      '100',
      '1.00',
      '4.00',
    ]);
    expect(rows.some((r) => r.startsWith('—: the mount cannot do it'))).toBe(true);
  });

  it('writes every sample, and no daemon CPU for 9p', () => {
    const doc = results.json({}) as {
      results: { backends: Record<string, { samples: number[] } | null> }[];
      cpu: { backend: string; daemonMs: unknown }[];
    };
    expect(doc.results[0]?.backends.ours?.samples).toEqual([100, 200, 50]);
    expect(doc.cpu.find((c) => c.backend === '9p')?.daemonMs).toBeNull();
  });
});
