// The report of one sandbox count: JSON (the output contract of issue 10, plus `runtimes`, the DAX-off
// PSS of each guest runtime measured, and a `detail` key) and
// a table. PSS per sandbox is the mean over the sandboxes; the table adds min and max, since the
// first sandbox pays for the shared libraries' pages alone less often than PSS suggests.

import { renderTable, round1 } from '../bench_common/format';
import type { Role } from '../vfs_bench/coldstart/pss';
import { FILE_MIB } from './shared_read';
import type { GuestRuntime } from '@vfs/runtime-config';
import type { Machine } from './memory_args';
import type { SandboxPss } from './sandbox_memory';

export interface VfsPss {
  readonly shim: number;
  readonly daemon: number;
  readonly qemu: number;
  readonly total: number;
}

export interface Spread {
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

/** One cell's measurements: each sandbox's PSS while idle, and the shared read's host growth. */
export interface CellMeasure {
  readonly sandboxes: readonly SandboxPss[];
  readonly growthMib: number | null;
}

export type Column = Role | 'tcg_code_cache' | 'guest_ram_unmapped' | 'total';
export const COLUMNS: readonly Column[] = [
  'shim',
  'daemon',
  'qemu',
  'tcg_code_cache',
  'guest_ram_unmapped',
  'container',
  'total',
];

export interface MemoryReport {
  readonly sandboxes: number;
  /** The vfs sandboxes resumed a VM template (--template) instead of booting. */
  readonly template: boolean;
  /**
   * With --template: the template's RAM file, MiB. Every sandbox copied it and none maps it, so no
   * PSS holds it; per sandbox it is this over `sandboxes`, outside pss_mib.
   */
  readonly template_ram_mib?: number;
  readonly pss_mib: {
    readonly dax_off: VfsPss;
    readonly dax_on: VfsPss | null;
    readonly dax_on_unavailable?: string;
  };
  readonly shared_read: {
    readonly file_mib: number;
    readonly growth_mib: {
      readonly dax_off: number;
      readonly dax_on: number | null;
      readonly dax_on_unavailable?: string;
    };
  };
  /**
   * DAX off, per guest runtime ([agent] runtime), all on `machine`; the first is the one of
   * pss_mib.dax_off (the same measurement).
   */
  readonly runtimes: {
    readonly machine: Machine;
    readonly pss_mib: Readonly<Partial<Record<GuestRuntime, VfsPss>>>;
  };
  /** Mean, min and max per sandbox of each column; runc's for reference. */
  readonly detail: {
    readonly dax_off: Readonly<Record<Column, Spread>>;
    readonly dax_on: Readonly<Record<Column, Spread>> | null;
    readonly runc: Readonly<Record<Column, Spread>>;
    readonly runtimes: Readonly<Partial<Record<GuestRuntime, Readonly<Record<Column, Spread>>>>>;
  };
}

function columnOf(sandbox: SandboxPss, column: Column): number {
  const { roles } = sandbox;
  if (column === 'tcg_code_cache') return sandbox.tcgCodeCache;
  if (column === 'guest_ram_unmapped') return sandbox.guestRamUnmapped;
  if (column === 'total') return roles.shim + roles.daemon + roles.qemu + roles.container;
  return roles[column];
}

export function spreads(sandboxes: readonly SandboxPss[]): Record<Column, Spread> {
  if (sandboxes.length === 0) throw new Error('no sandbox was measured');
  const out = {} as Record<Column, Spread>;
  for (const column of COLUMNS) {
    const values = sandboxes.map((s) => columnOf(s, column));
    out[column] = {
      mean: round1(values.reduce((a, b) => a + b, 0) / values.length),
      min: round1(Math.min(...values)),
      max: round1(Math.max(...values)),
    };
  }
  return out;
}

function vfsPss(detail: Readonly<Record<Column, Spread>>): VfsPss {
  return { shim: detail.shim.mean, daemon: detail.daemon.mean, qemu: detail.qemu.mean, total: detail.total.mean };
}

export interface ReportInput {
  readonly count: number;
  readonly daxOff: CellMeasure;
  /** The measurements, or why DAX could not be measured. */
  readonly daxOn: CellMeasure | string;
  readonly runc: CellMeasure;
  readonly machine: Machine;
  /** The runtime of daxOff (and daxOn), then each other runtime's DAX-off cell. */
  readonly runtime: GuestRuntime;
  readonly otherRuntimes: readonly (readonly [GuestRuntime, CellMeasure])[];
  /** The template's RAM file, MiB, when the vfs sandboxes resumed one (--template). */
  readonly templateRamMib?: number;
}

function runtimeDetails(input: ReportInput): Partial<Record<GuestRuntime, Record<Column, Spread>>> {
  const cells: (readonly [GuestRuntime, CellMeasure])[] = [[input.runtime, input.daxOff], ...input.otherRuntimes];
  return Object.fromEntries(cells.map(([runtime, cell]) => [runtime, spreads(cell.sandboxes)]));
}

export function buildMemoryReport(input: ReportInput): MemoryReport {
  const { count, daxOff, daxOn, runc } = input;
  const off = spreads(daxOff.sandboxes);
  const runtimes = runtimeDetails(input);
  const on = typeof daxOn === 'string' ? null : spreads(daxOn.sandboxes);
  const unavailable = typeof daxOn === 'string' ? { dax_on_unavailable: daxOn } : {};
  return {
    sandboxes: count,
    template: input.templateRamMib !== undefined,
    ...(input.templateRamMib === undefined ? {} : { template_ram_mib: round1(input.templateRamMib) }),
    pss_mib: { dax_off: vfsPss(off), dax_on: on === null ? null : vfsPss(on), ...unavailable },
    shared_read: {
      file_mib: FILE_MIB,
      growth_mib: {
        dax_off: round1(daxOff.growthMib ?? 0),
        dax_on: typeof daxOn === 'string' ? null : round1(daxOn.growthMib ?? 0),
        ...unavailable,
      },
    },
    runtimes: {
      machine: input.machine,
      pss_mib: Object.fromEntries(Object.entries(runtimes).map(([name, detail]) => [name, vfsPss(detail)])),
    },
    detail: { dax_off: off, dax_on: on, runc: spreads(runc.sandboxes), runtimes },
  };
}

function spreadText(s: Spread | undefined): string {
  if (s === undefined) return '—';
  return s.min === s.max ? s.mean.toFixed(1) : `${s.mean.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
}

function row(name: string, detail: Readonly<Record<Column, Spread>>, columns: readonly Column[]): string[] {
  return [name, ...COLUMNS.map((c) => (columns.includes(c) ? spreadText(detail[c]) : '—'))];
}

const VFS_COLUMNS = COLUMNS.filter((c) => c !== 'container');

export function formatMemoryReport(report: MemoryReport): string {
  const { detail, shared_read } = report;
  const header = ['', 'shim', 'daemon', 'QEMU', 'of which TCG code cache', 'RAM held unmapped', 'container', 'total'];
  const rows = [
    header,
    row(report.template ? 'vfs, DAX off, from a template' : 'vfs, DAX off', detail.dax_off, VFS_COLUMNS),
  ];
  if (detail.dax_on !== null) rows.push(row('vfs, DAX on', detail.dax_on, VFS_COLUMNS));
  const [first, ...others] = Object.entries(detail.runtimes);
  for (const [runtime, spread] of others) rows.push(row(`vfs, DAX off, runtime ${runtime}`, spread, VFS_COLUMNS));
  rows.push(row('runc (reference)', detail.runc, ['shim', 'container', 'total']));
  const growth = (mib: number | null): string =>
    mib === null ? '—' : `${mib.toFixed(1)} MiB (${(mib / shared_read.file_mib).toFixed(2)} × the file)`;
  const lines = [
    `bench-memory: ${report.sandboxes} idle sandbox${report.sandboxes === 1 ? '' : 'es'} on ${report.runtimes.machine}, runtime ${first?.[0]} unless named, PSS per sandbox in MiB: mean (min–max)`,
    ...renderTable(rows),
  ];
  if (report.template_ram_mib !== undefined) {
    const share = report.template_ram_mib / report.sandboxes;
    lines.push(
      `  the VM template's RAM: ${report.template_ram_mib.toFixed(1)} MiB on tmpfs, ${share.toFixed(1)} per sandbox (in no process's PSS, nor above)`,
    );
  }
  if (report.pss_mib.dax_on_unavailable !== undefined)
    lines.push(`  vfs, DAX on: not measured: ${report.pss_mib.dax_on_unavailable}`);
  lines.push(
    `shared read: host memory growth when all ${report.sandboxes} read the same ${shared_read.file_mib} MiB file`,
    ...renderTable(
      [
        ['DAX off', growth(shared_read.growth_mib.dax_off)],
        ['DAX on', growth(shared_read.growth_mib.dax_on)],
      ],
      [0, 1],
    ),
  );
  return `${lines.join('\n')}\n`;
}
