import { parseNetArgs } from './net_args';
import type { PairRun } from './net_run';
import { buildNetReport, formatNetReport } from './report';

function run(megabytes: number, cpuMs: number, latencyUs: number): PairRun {
  return {
    bytes: megabytes * 1e6,
    seconds: 1,
    cpu: { runtimeMs: cpuMs - 1, clientMs: 1, totalMs: cpuMs },
    rrUs: latencyUs,
    crrUs: latencyUs * 10,
  };
}

const ARGS = { runs: 2, seconds: 1, requests: 2 };

describe('buildNetReport', () => {
  it('summarizes each measured pair over its runs: throughput, host CPU per GB, mean latencies', () => {
    const report = buildNetReport(ARGS, { 'runc-runc': [run(500, 250, 20), run(1000, 400, 30)] }, {});
    expect(report).toMatchObject({ benchmark: 'pod-network', runs: 2, seconds: 1, requests: 2, not_run: {} });
    expect(report.pairs['runc-runc']).toMatchObject({
      client: 'runc',
      server: 'runc',
      throughput_mbit_s: { min: 4000, median: 4000, max: 8000 },
      cpu_ms_per_gb: { min: 400, median: 400, max: 500 },
      rr_us: { min: 20, median: 20, max: 30 },
      crr_us: { min: 200, median: 200, max: 300 },
    });
    expect(report.samples['runc-runc']).toHaveLength(2);
  });

  it('lists a pair that could not run with its reason, and no figures for it', () => {
    const report = buildNetReport(ARGS, { 'runc-runc': [run(500, 250, 20)] }, { 'vfs-vfs': 'vfs pod a: no address' });
    expect(report.pairs['vfs-vfs']).toBeUndefined();
    const text = formatNetReport(report, ['runc-runc', 'vfs-vfs']);
    expect(text).toMatch(/runc → runc\s+4000 \(4000\)\s+500\s+20 \(20\)\s+200 \(200\)/);
    expect(text).toMatch(/vfs → vfs\s+not run/);
    expect(text).toContain('not run: vfs-vfs: vfs pod a: no address');
  });
});

describe('parseNetArgs', () => {
  it('defaults to every pair, 3 runs of 5 s and 500 requests', () => {
    expect(parseNetArgs([])).toEqual({
      runs: 3,
      seconds: 5,
      requests: 500,
      pairs: ['runc-runc', 'vfs-vfs', 'vfs-runc', 'runc-vfs'],
      jsonPath: undefined,
    });
  });

  it('takes a subset of pairs and refuses an unknown one', () => {
    expect(parseNetArgs(['--pairs', 'vfs-runc,runc-runc']).pairs).toEqual(['vfs-runc', 'runc-runc']);
    expect(() => parseNetArgs(['--pairs', 'vfs-kata'])).toThrow(/unknown pair vfs-kata/);
  });
});
