// Smoke test of the bench-net harness (not of speed): runc → runc and vfs → runc through the real
// CRI stack on a private CNI network, one short run each, then the JSON's shape, and nothing left
// behind: no temp dir, containerd, cgroup, process, mount, nor the CNI bridge. Needs root, QEMU,
// Debian's containerd, runc and containernetworking-plugins, gcc, and `make build runtime`.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleShim } from '@vfs/harness/bundles';
import { benchDirs, leftovers, runBenchProgram } from './test_support/bench_program';

jest.setTimeout(300_000);

const PAIRS = ['runc-runc', 'vfs-runc'] as const;

interface Summary {
  readonly min: number;
  readonly median: number;
  readonly p90: number;
  readonly max: number;
}

interface NetJson {
  readonly benchmark: string;
  readonly runs: number;
  readonly pairs: Record<string, Record<'throughput_mbit_s' | 'cpu_ms_per_gb' | 'rr_us' | 'crr_us', Summary>>;
  readonly not_run: Record<string, string>;
  readonly samples: Record<string, readonly unknown[]>;
}

describe('bench-net', () => {
  let work: string;

  beforeAll(() => {
    bundleShim();
    work = mkdtempSync(join(tmpdir(), 'vfs-net-test-'));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('measures runc → runc and vfs → runc, writes the JSON report, and leaves nothing behind', async () => {
    const json = join(work, 'out.json');
    const args = ['--runs', '1', '--seconds', '1', '--requests', '20', '--pairs', PAIRS.join(','), '--json', json];
    const result = await runBenchProgram('bench-net', args, 280_000);
    if (result.code !== 0) throw new Error(`bench-net failed (${result.code}):\n${result.stderr}`);
    const report = JSON.parse(readFileSync(json, 'utf8')) as NetJson;
    expect(report).toMatchObject({ benchmark: 'pod-network', runs: 1, not_run: {} });
    for (const pair of PAIRS) {
      const figures = report.pairs[pair];
      expect(figures?.throughput_mbit_s.min).toBeGreaterThan(0);
      expect(figures?.cpu_ms_per_gb.min).toBeGreaterThan(0);
      expect(figures?.rr_us.median).toBeGreaterThan(0);
      expect(figures?.crr_us.median).toBeGreaterThan(0);
      expect(report.samples[pair]).toHaveLength(1);
    }
    expect(result.stdout).toMatch(/vfs → runc\s+\d+ \(\d+\)/);
    expect(leftovers(benchDirs(result.stderr))).toEqual([]);
    const bridge = /CNI bridge (\S+)/.exec(result.stderr)?.[1];
    expect(bridge).toBeDefined();
    expect(existsSync(`/sys/class/net/${bridge}`)).toBe(false);
  });
});
