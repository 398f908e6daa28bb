// Smoke tests of the cold-start tools (not of speed): bench-coldstart's one run of each kind through
// the real stack, then the JSON's shape and positivity; `vfs-bench coldstart` on a two-cell matrix
// (one cell skipped: no DAX-capable QEMU), then its output contract: results.json, results.csv, the
// plots and env.toml. Nothing may be left behind. Needs root, QEMU, Debian's containerd and runc,
// and `make build runtime`.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@vfs/harness/repo';
import { bundleShim } from '@vfs/harness/bundles';

jest.setTimeout(300_000);

const BENCH = join(REPO_ROOT, 'build', 'bin', 'bench-coldstart');
const VFS_BENCH = join(REPO_ROOT, 'build', 'bin', 'vfs-bench');
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
  readonly details_ms: Readonly<Record<string, number>>;
}

function runBench(
  args: readonly string[],
  program = BENCH,
  timeout = 280_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [program, ...args], { cwd: REPO_ROOT, timeout }, (err, stdout, stderr) => {
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
    expect([...report.floor_machines].sort()).toEqual(['microvm', 'q35']);
    expect(result.stdout).toMatch(/runc\s+\d+/);
    expect(report.vfs_ms).not.toBeNull();
    expectPositive(report.vfs_ms as Summary);
    expect(report.ratio_vfs_runc).toBeGreaterThan(0);
    expect(Object.keys(report.phases_ms).sort()).toEqual([...PHASE_KEYS].sort());
    // The defaults start the daemon beside QEMU and plug the shares late: the daemon's phase is off
    // the path (0), and its own time and the plugging show in the details.
    for (const key of PHASE_KEYS.filter((k) => k !== 'daemon_ready')) expect(report.phases_ms[key]).toBeGreaterThan(0);
    expect(report.phases_ms.daemon_ready).toBe(0);
    expect(report.details_ms.daemon_spawn_to_ready).toBeGreaterThan(0);
    expect(report.details_ms.plug_shares).toBeGreaterThan(0);
    expect(benchDirs()).toEqual(before);
  });
});

interface Quantiles {
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

interface ColdstartCell {
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly skipped: string | null;
  readonly vfs_ms: Quantiles | null;
  readonly runc_ms: Quantiles | null;
  readonly floor_ms: Quantiles | null;
  readonly phases_ms: Readonly<Record<string, number>>;
  readonly details_ms: Readonly<Record<string, number>>;
}

function expectQuantiles(q: Quantiles | null): void {
  expect(q).not.toBeNull();
  const { min, p50, p90, p99 } = q as Quantiles;
  expect(min).toBeGreaterThan(0);
  expect([min, p50, p90, p99]).toEqual([min, p50, p90, p99].sort((a, b) => a - b));
}

/** Well-formed markup: every tag closed in order, one <svg> root. */
function expectWellFormedSvg(svg: string): void {
  expect(svg).toMatch(/^<svg[\s>]/);
  const open: string[] = [];
  for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([A-Za-z][\w:.-]*)[^>]*?(\/?)>/g)) {
    if (closing === '/') expect(open.pop()).toBe(name);
    else if (selfClosing !== '/') open.push(name as string);
  }
  expect(open).toEqual([]);
}

describe('vfs-bench coldstart', () => {
  let work: string;

  beforeAll(() => {
    bundleShim();
    work = mkdtempSync(join(tmpdir(), 'vfs-vb-test-'));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('measures a two-cell matrix, skips what cannot run, and writes the contract files', async () => {
    const before = benchDirs();
    const out = join(work, 'out');
    const args = ['coldstart', '--runs', '1', '--warmup', '0', '--out', out, '--machine', 'microvm-pcie'];
    const result = await runBench([...args, '--dax', 'off,on'], VFS_BENCH, 580_000);
    if (result.code !== 0) throw new Error(`vfs-bench coldstart failed (${result.code}):\n${result.stderr}`);
    const { cells } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { cells: ColdstartCell[] };
    expect(cells.map((c) => [c.name, c.config.dax])).toEqual([
      ['nodax', false],
      ['dax', true],
    ]);
    const [ran, skipped] = cells as [ColdstartCell, ColdstartCell];
    expect(ran.config).toMatchObject({ machine: 'microvm-pcie', pool: false, image: 'busybox', concurrency: 1 });
    expect(ran.skipped).toBeNull();
    for (const q of [ran.vfs_ms, ran.runc_ms, ran.floor_ms]) expectQuantiles(q);
    expect(Object.keys(ran.phases_ms).sort()).toEqual([...PHASE_KEYS].sort());
    // The steps every booted start takes, from the shim's and the agent's timestamps.
    for (const key of ['shim_to_create', 'agent_started_to_ready', 'create_sandbox', 'create_container']) {
      expect({ key, ms: ran.details_ms[key] }).toEqual({ key, ms: expect.any(Number) });
      expect(ran.details_ms[key]).toBeGreaterThan(0);
    }
    expect(ran.details_ms.copy_template).toBeUndefined();
    // No DAX-capable QEMU here: reported, not faked.
    expect(skipped.skipped).toMatch(/DAX/);
    expect([skipped.vfs_ms, skipped.runc_ms, skipped.floor_ms]).toEqual([null, null, null]);
    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trimEnd().split('\n');
    expect(csv[0]).toMatch(/^cell,machine,.*,kind,round,slot,ms,shim_start_ms,/);
    expect(
      csv
        .slice(1)
        .map((line) => line.split(',')[(csv[0] ?? '').split(',').indexOf('kind')])
        .sort(),
    ).toEqual(['floor', 'runc', 'vfs']);
    for (const name of ['cdf', 'phases']) {
      expectWellFormedSvg(readFileSync(join(out, `${name}.svg`), 'utf8'));
      expect(
        readFileSync(join(out, `${name}.png`))
          .subarray(1, 4)
          .toString('latin1'),
      ).toBe('PNG');
    }
    expect(readFileSync(join(out, 'env.toml'), 'utf8')).toMatch(/^\[Runtime\]/);
    expect(existsSync(join(out, 'configs', 'cell-0.toml'))).toBe(true);
    expect(result.stdout).toMatch(/nodax\s+\d+/);
    expect(result.stdout).toMatch(/CreateContainer \(rootfs overlay, launcher\)\s+\d+/);
    expect(csv[0]).toMatch(/,teardown_ms,shim_to_create_ms,.*,create_to_start_ms$/);
    expect(benchDirs()).toEqual(before);
  }, 600_000);
});
