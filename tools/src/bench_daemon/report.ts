// Results: per workload and depth, each daemon's (ours, C, Rust) rate in every round (and its CPU time per unit),
// reduced to medians; the table on stdout and the JSON file of the issue.
import { writeFileSync } from 'node:fs';
import { DAEMON_KINDS, type DaemonKind, type DaemonMemory } from './daemons';
import type { Unit } from './workloads';

/** Each daemon's memory when idle (started, nothing served yet) and after the last workload. */
export interface MemoryReport {
  readonly idle: Record<DaemonKind, DaemonMemory>;
  readonly end: Record<DaemonKind, DaemonMemory>;
}

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

const KIND_NAMES: Record<DaemonKind, string> = { ours: 'ours', c: 'C', rust: 'Rust' };

const mib = (kib: number): string => (kib / 1024).toFixed(1);

/** One line per daemon: RSS and PSS idle and at the end, and peak RSS, in MiB. */
function formatMemory(memory: MemoryReport): string[] {
  return [
    'memory of the process tree (MiB; PSS splits shared pages among their users):',
    ...DAEMON_KINDS.map((k) => {
      const idle = memory.idle[k];
      const end = memory.end[k];
      return (
        `  ${KIND_NAMES[k].padEnd(4)}  idle RSS ${mib(idle.rssKib)} PSS ${mib(idle.pssKib)}; ` +
        `after the workloads RSS ${mib(end.rssKib)} PSS ${mib(end.pssKib)}; peak RSS ${mib(end.peakRssKib)}`
      );
    }),
  ];
}

export function formatTable(rows: readonly Row[], memory: MemoryReport): string {
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
    ...formatMemory(memory),
  ].join('\n');
}

export function writeJson(path: string, rows: readonly Row[], memory: MemoryReport): void {
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
    rss_kib: { ours: memory.end.ours.peakRssKib, c: memory.end.c.peakRssKib, rust: memory.end.rust.peakRssKib },
    memory_kib: memory,
  };
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
}
