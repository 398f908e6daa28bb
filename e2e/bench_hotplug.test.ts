// Smoke test of the bench-hotplug harness (not of speed): two add → read → remove cycles on a vfs
// container through the bundled CLI, then the JSON's shape, and nothing left behind. Needs root,
// QEMU, Debian's containerd, and `make build runtime`.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli, bundleShim } from '@vfs/harness/bundles';
import { benchDirs, leftovers, runBenchProgram } from './test_support/bench_program';

jest.setTimeout(300_000);

const OPS = ['add', 'first_read', 'remove', 'exec_baseline', 'cli_floor'];

interface Summary {
  readonly min: number;
  readonly median: number;
  readonly p90: number;
  readonly max: number;
}

interface HotplugJson {
  readonly benchmark: string;
  readonly cycles: number;
  readonly ops_ms: Record<string, Summary>;
  readonly cpu_ms: Record<string, Summary>;
  readonly ratios: Record<string, number | null>;
  readonly first_read_attempts_max: number;
  readonly samples: readonly unknown[];
}

describe('bench-hotplug', () => {
  let work: string;

  beforeAll(() => {
    bundleShim();
    bundleCli();
    work = mkdtempSync(join(tmpdir(), 'vfs-hotplug-test-'));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('runs two cycles, writes the JSON report, and leaves nothing behind', async () => {
    const json = join(work, 'out.json');
    const result = await runBenchProgram('bench-hotplug', ['--cycles', '2', '--warmup', '0', '--json', json], 280_000);
    if (result.code !== 0) throw new Error(`bench-hotplug failed (${result.code}):\n${result.stderr}`);
    const report = JSON.parse(readFileSync(json, 'utf8')) as HotplugJson;
    expect(report).toMatchObject({ benchmark: 'volume-hotplug', cycles: 2 });
    expect(Object.keys(report.ops_ms).sort()).toEqual([...OPS].sort());
    expect(Object.keys(report.cpu_ms).sort()).toEqual([...OPS].sort());
    for (const op of OPS) {
      const s = report.ops_ms[op] as Summary;
      expect(s.min).toBeGreaterThan(0);
      expect(s.median).toBeGreaterThanOrEqual(s.min);
      expect(s.p90).toBeGreaterThanOrEqual(s.median);
      expect(s.max).toBeGreaterThanOrEqual(s.p90);
    }
    expect(report.ratios.add_over_cli_floor).toBeGreaterThan(0);
    expect(report.first_read_attempts_max).toBeGreaterThanOrEqual(1);
    expect(report.samples).toHaveLength(2);
    expect(result.stdout).toMatch(/volume add \(CLI\)\s+\d+/);
    expect(leftovers(benchDirs(result.stderr))).toEqual([]);
  });
});
