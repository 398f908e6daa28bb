// Smoke test of the bench-pods harness (not of speed): one pod per runtime handler through the real
// CRI stack, then the JSON's shape, and nothing left behind. Needs root, QEMU, Debian's containerd
// and runc, gcc, and `make build runtime`.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleShim } from '@vfs/harness/bundles';
import { benchDirs, leftovers, runBenchProgram } from './test_support/bench_program';

jest.setTimeout(300_000);

const HANDLERS = ['runc', 'vfs'] as const;
const PHASES = [
  'run_pod_sandbox',
  'create_container',
  'start_container',
  'running_seen',
  'start_total',
  'stop_pod_sandbox',
  'remove_pod_sandbox',
  'teardown_total',
  'shim_exit',
];

interface Summary {
  readonly min: number;
  readonly median: number;
  readonly p90: number;
  readonly max: number;
}

interface PodsJson {
  readonly benchmark: string;
  readonly runs: number;
  readonly handlers: Record<string, { phases_ms: Record<string, Summary>; cpu_ms: Record<string, Summary> }>;
  readonly ratio_vfs_runc: Record<string, number | null>;
  readonly samples: Record<string, readonly unknown[]>;
}

function expectOrdered(s: Summary): void {
  expect(s.min).toBeGreaterThanOrEqual(0);
  expect(s.median).toBeGreaterThanOrEqual(s.min);
  expect(s.p90).toBeGreaterThanOrEqual(s.median);
  expect(s.max).toBeGreaterThanOrEqual(s.p90);
}

describe('bench-pods', () => {
  let work: string;

  beforeAll(() => {
    bundleShim();
    work = mkdtempSync(join(tmpdir(), 'vfs-pods-test-'));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('starts and removes one pod per handler, writes the JSON report, and leaves nothing behind', async () => {
    const json = join(work, 'out.json');
    const result = await runBenchProgram('bench-pods', ['--runs', '1', '--warmup', '0', '--json', json], 280_000);
    if (result.code !== 0) throw new Error(`bench-pods failed (${result.code}):\n${result.stderr}`);
    const report = JSON.parse(readFileSync(json, 'utf8')) as PodsJson;
    expect(report).toMatchObject({ benchmark: 'pod-start', runs: 1 });
    for (const handler of HANDLERS) {
      const { phases_ms, cpu_ms } = report.handlers[handler] ?? { phases_ms: {}, cpu_ms: {} };
      expect(Object.keys(phases_ms).sort()).toEqual([...PHASES].sort());
      for (const key of PHASES) expectOrdered(phases_ms[key] as Summary);
      expect(phases_ms.start_total?.min).toBeGreaterThan(0);
      expect(phases_ms.teardown_total?.min).toBeGreaterThan(0);
      expect(Object.keys(cpu_ms).sort()).toEqual(['start', 'teardown']);
      expect(cpu_ms.start?.min).toBeGreaterThan(0);
      expect(report.samples[handler]).toHaveLength(1);
    }
    expect(report.ratio_vfs_runc.start_total).toBeGreaterThan(0);
    expect(result.stdout).toMatch(/pod start \(sum\)\s+\d+/);
    expect(leftovers(benchDirs(result.stderr))).toEqual([]);
  });
});
