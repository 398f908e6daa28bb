// Results: per workload and depth, each daemon's (ours, C, Rust) rate in every round (and its CPU time per unit),
// reduced to medians; the table on stdout and the JSON file of the issue.
import { writeFileSync } from 'node:fs';
import type { DaemonKind } from './daemons';
import type { Unit } from './workloads';

export interface Sample {
  /** ops/s or MB/s. */
  readonly rate: number;
  /** The daemon's CPU time (all threads) per request or per MB, in µs. */
  readonly cpuUs: number;
}

export class Row {
  readonly samples: Record<DaemonKind, Sample[]> = { ours: [], c: [], rust: [] };

  constructor(
    readonly name: string,
    readonly depth: number,
    readonly unit: Unit,
  ) {}

  rate(kind: DaemonKind): number {
    return median(this.samples[kind].map((s) => s.rate));
  }

  cpu(kind: DaemonKind): number {
    return median(this.samples[kind].map((s) => s.cpuUs));
  }

  /** ours / the other daemon (C by default). */
  ratio(other: Exclude<DaemonKind, 'ours'> = 'c'): number {
    return this.rate('ours') / this.rate(other);
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '-';
  return n >= 1000 ? Math.round(n).toLocaleString('en-US') : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function spread(samples: readonly Sample[]): string {
  if (samples.length < 2) return '';
  const r = samples.map((s) => s.rate);
  const m = median(r);
  return `±${Math.round((100 * (Math.max(...r) - Math.min(...r))) / 2 / m)}%`;
}

export function formatTable(rows: readonly Row[], rss: Record<DaemonKind, number>): string {
  const header = [
    'workload',
    'depth',
    'unit',
    'ours',
    '(spread)',
    'C',
    '(spread)',
    'Rust',
    '(spread)',
    'ours/C',
    'ours/Rust',
    'ours cpu',
    'C cpu',
    'Rust cpu',
  ];
  const lines = rows.map((r) => [
    r.name,
    String(r.depth),
    r.unit,
    fmt(r.rate('ours')),
    spread(r.samples.ours),
    fmt(r.rate('c')),
    spread(r.samples.c),
    fmt(r.rate('rust')),
    spread(r.samples.rust),
    r.ratio().toFixed(2),
    r.ratio('rust').toFixed(2),
    `${fmt(r.cpu('ours'))} µs`,
    `${fmt(r.cpu('c'))} µs`,
    `${fmt(r.cpu('rust'))} µs`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const pad = (cells: readonly string[]): string =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    pad(header),
    pad(widths.map((w) => '-'.repeat(w))),
    ...lines.map(pad),
    '',
    'ops/s = FUSE requests per second; MB/s = 10^6 bytes per second; medians of the rounds;',
    'cpu = daemon CPU time (all threads) per request or per MB; ours/X = ours rate / X rate (> 1: ours faster).',
    `peak RSS of the process tree: ours ${rss.ours.toLocaleString('en-US')} KiB, C ${rss.c.toLocaleString('en-US')} KiB, ` +
      `Rust ${rss.rust.toLocaleString('en-US')} KiB`,
  ].join('\n');
}

export function writeJson(path: string, rows: readonly Row[], rss: Record<DaemonKind, number>): void {
  const doc = {
    workloads: rows.map((r) => ({
      name: r.name,
      depth: r.depth,
      unit: r.unit,
      ours: r.rate('ours'),
      c: r.rate('c'),
      rust: r.rate('rust'),
      ratio: r.ratio(),
      ratio_rust: r.ratio('rust'),
    })),
    rss_kib: { ours: rss.ours, c: rss.c, rust: rss.rust },
  };
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
}
