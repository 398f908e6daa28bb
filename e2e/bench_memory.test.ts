// Smoke test of the bench-memory harness (not of the figures): one sandbox through the real stack,
// then the JSON's shape, figures that are positive and plausible, and nothing left behind. Needs
// root, QEMU, Debian's containerd and runc, and `make build`.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleShim } from '@vfs/harness/bundles';
import { memfdsMayUseHugePages } from '@vfs/harness/tmpfs_huge_pages';
import { leftovers, runBenchProgram } from './test_support/bench_program';

jest.setTimeout(240_000);

interface VfsPss {
  readonly shim: number;
  readonly daemon: number;
  readonly qemu: number;
  readonly total: number;
}

interface MemoryJson {
  readonly sandboxes: number;
  readonly template: boolean;
  readonly template_ram_mib?: number;
  readonly detail: { readonly dax_off: { readonly guest_ram_unmapped: { readonly mean: number } } };
  readonly pss_mib: { readonly dax_off: VfsPss; readonly dax_on: VfsPss | null; readonly dax_on_unavailable?: string };
  readonly shared_read: {
    readonly file_mib: number;
    readonly growth_mib: { readonly dax_off: number; readonly dax_on: number | null };
  };
  readonly runtimes: { readonly machine: string; readonly pss_mib: Readonly<Record<string, VfsPss>> };
}

/** The dirs the program announced; it has no CPU cgroup, so its work dir stands in for one. */
function announcedDirs(stderr: string): { work: string; containerd: string; cgroup: string } {
  const match = /work dir (\S+), containerd dir (\S+)/.exec(stderr);
  if (match === null) throw new Error(`bench-memory did not say where it works:\n${stderr}`);
  return { work: match[1] as string, containerd: match[2] as string, cgroup: match[1] as string };
}

describe('bench-memory', () => {
  let work: string;

  beforeAll(() => {
    bundleShim();
    work = mkdtempSync(join(tmpdir(), 'vfs-memory-test-'));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('measures one sandbox per runtime (vfs with the runtime share and pmem, runc), writes the JSON contract, and leaves nothing behind', async () => {
    const json = join(work, 'out.json');
    const args = ['--sandboxes', '1', '--runtime', 'share,pmem', '--machine', 'q35', '--json', json];
    const result = await runBenchProgram('bench-memory', args, 220_000);
    if (result.code !== 0) throw new Error(`bench-memory failed (${result.code}):\n${result.stderr}`);
    const report = JSON.parse(readFileSync(json, 'utf8')) as MemoryJson;
    expect(report.sandboxes).toBe(1);
    expect(report.template).toBe(false);
    // A booted guest wrote every page it holds through QEMU's mapping or the daemon's (counted page
    // by page: a huge page touched in part would be held whole).
    if (!memfdsMayUseHugePages()) expect(report.detail.dax_off.guest_ram_unmapped.mean).toBeLessThan(2);
    const { shim, daemon, qemu, total } = report.pss_mib.dax_off;
    expect(shim).toBeGreaterThan(0);
    expect(daemon).toBeGreaterThan(0);
    expect(qemu).toBeGreaterThan(daemon);
    expect(total).toBeCloseTo(shim + daemon + qemu, 0);
    // One reader: its guest's copy and at most the host's page cache copy, with some slack.
    expect(report.shared_read.file_mib).toBe(64);
    expect(report.shared_read.growth_mib.dax_off).toBeGreaterThan(0);
    expect(report.shared_read.growth_mib.dax_off).toBeLessThan(4 * 64);
    // Measured, or null with the reason beside it: never a made-up figure.
    if (report.pss_mib.dax_on === null) expect(report.pss_mib.dax_on_unavailable).toMatch(/\S/);
    else expect(report.pss_mib.dax_on.qemu).toBeGreaterThan(report.pss_mib.dax_on.daemon);
    expect(result.stdout).toMatch(/vfs, DAX off\s+\d/);
    expect(result.stdout).toMatch(/runc \(reference\)\s+\d/);
    // The pmem runtime's own cell, beside the share's (which is the DAX-off cell).
    expect(report.runtimes.machine).toBe('q35');
    expect(report.runtimes.pss_mib.share).toEqual(report.pss_mib.dax_off);
    expect(report.runtimes.pss_mib.pmem?.qemu).toBeGreaterThan(report.runtimes.pss_mib.pmem?.daemon ?? Infinity);
    expect(result.stdout).toMatch(/vfs, DAX off, runtime pmem\s+\d/);
    expect(leftovers(announcedDirs(result.stderr))).toEqual([]);
  });

  it('measures a sandbox resumed from a VM template it saves first, its RAM copy counted whole, and removes the template', async () => {
    const templates = (): string[] => readdirSync('/dev/shm').filter((n) => n.startsWith('vfs-bench-memory-template-'));
    const before = templates();
    const json = join(work, 'template.json');
    const args = ['--sandboxes', '1', '--machine', 'q35', '--template', '--json', json];
    const result = await runBenchProgram('bench-memory', args, 220_000);
    if (result.code !== 0) throw new Error(`bench-memory --template failed (${result.code}):\n${result.stderr}`);
    const report = JSON.parse(readFileSync(json, 'utf8')) as MemoryJson;
    expect(report.template).toBe(true);
    expect(result.stderr).toMatch(/VM template: template \S+: saved .* MiB held/);
    expect(result.stdout).toMatch(/vfs, DAX off, from a template\s+\d/);
    // The resumed guest's RAM (≈ 46 MiB) is held in a memfd the shim filled: ≈ 15 MiB of it no process
    // maps, which PSS alone would leave out. A booted guest (the first test) holds none so.
    const unmapped = report.detail.dax_off.guest_ram_unmapped.mean;
    if (!memfdsMayUseHugePages()) expect(unmapped).toBeGreaterThan(5);
    expect(report.pss_mib.dax_off.qemu).toBeGreaterThan(report.pss_mib.dax_off.daemon + unmapped);
    // The template's own RAM, held on tmpfs for every sandbox, reported beside the table.
    expect(report.template_ram_mib).toBeGreaterThan(20);
    expect(result.stdout).toMatch(/the VM template's RAM: [\d.]+ MiB on tmpfs/);
    expect(report.pss_mib.dax_on_unavailable).toMatch(/template/);
    expect(leftovers(announcedDirs(result.stderr))).toEqual([]);
    expect(templates()).toEqual(before);
  });
});
