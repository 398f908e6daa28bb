// Smoke test of the bench-coldstart harness (not of speed): one run of each kind through the real
// stack, then the JSON's shape and positivity, and nothing left behind. Needs root, QEMU, Debian's
// containerd and runc, and `make build runtime`.

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@vfs/harness/repo';
import { bundleShim } from '@vfs/harness/bundles';

jest.setTimeout(300_000);

const BENCH = join(REPO_ROOT, 'build', 'bin', 'bench-coldstart');
const PHASE_KEYS = [
  'shim_start',
  'daemon_ready',
  'qemu_spawned',
  'kernel_to_init',
  'agent_ready',
  'container_started',
  'exit_seen',
  'teardown',
];

interface Summary {
  readonly min: number;
  readonly median: number;
  readonly p90: number;
}

interface BenchJson {
  readonly runc_ms: Summary;
  readonly vfs_ms: Summary | null;
  readonly floor_ms: Summary;
  readonly floor_other_machine_ms: Summary;
  readonly floor_machines: readonly string[];
  readonly ratio_vfs_runc: number | null;
  readonly phases_ms: Readonly<Record<string, number>>;
}

function runBench(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BENCH, ...args], { cwd: REPO_ROOT, timeout: 280_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

function expectPositive(summary: Summary): void {
  expect(summary.min).toBeGreaterThan(0);
  expect(summary.median).toBeGreaterThanOrEqual(summary.min);
  expect(summary.p90).toBeGreaterThanOrEqual(summary.median);
}

function benchDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('vfs-bench-cs-'));
}

describe('bench-coldstart', () => {
  let work: string;

  beforeAll(() => {
    bundleShim();
    work = mkdtempSync(join(tmpdir(), 'vfs-cs-test-'));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('runs once each and writes the JSON report', async () => {
    const before = benchDirs();
    const json = join(work, 'out.json');
    const result = await runBench(['--runs', '1', '--warmup', '0', '--json', json]);
    if (result.code !== 0) throw new Error(`bench-coldstart failed (${result.code}):\n${result.stderr}`);
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchJson;
    expectPositive(report.runc_ms);
    expectPositive(report.floor_ms);
    // Both machines' floors, so the price of hotplug shows.
    expectPositive(report.floor_other_machine_ms);
    expect([...report.floor_machines].sort()).toEqual(['microvm', 'microvm-pcie']);
    expect(result.stdout).toMatch(/runc\s+\d+/);
    expect(report.vfs_ms).not.toBeNull();
    expectPositive(report.vfs_ms as Summary);
    expect(report.ratio_vfs_runc).toBeGreaterThan(0);
    expect(Object.keys(report.phases_ms).sort()).toEqual([...PHASE_KEYS].sort());
    for (const key of PHASE_KEYS) expect(report.phases_ms[key]).toBeGreaterThan(0);
    expect(benchDirs()).toEqual(before);
  });
});
