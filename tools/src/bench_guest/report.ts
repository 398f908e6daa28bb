// bench-guest's results: per cache mode and phase, each back end's rates over the measured rounds,
// and the host CPU of its daemon and its QEMU over the workload; printed as one table per cache
// mode (median, min–max) with ours' ratio of medians to each other back end on the system QEMU and,
// with the DAX pair, DAX's (ours-dax over ours-vmm, both on our QEMU), and as JSON.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { renderTable } from '../bench_common/format';
import { type Summary, summarize } from '../bench_common/stats';
import { type Backend, type Cache, NINE_P_CACHE, onOurQemu } from './backends';
import { cyclesJson, cyclesTable, type TracedCycles } from './cycles_report';
import { rateOf } from './guest_output';
import type { RunResult } from './guest_run';
import { emptyCycles, mergeCycles, type RequestCycles } from './request_cycles';

interface Series {
  readonly phase: string;
  readonly unit: string;
  readonly rates: Map<Backend, number[]>;
}

export class GuestResults {
  private readonly series = new Map<string, Series>();
  private readonly cpu = new Map<string, { daemonMs: number[]; qemuMs: number[] }>();
  private readonly cycles = new Map<string, TracedCycles>();

  constructor(
    readonly backends: readonly Backend[],
    readonly caches: readonly Cache[],
  ) {}

  add(cache: Cache, backend: Backend, run: RunResult): void {
    for (const p of run.phases) {
      const key = `${cache}|${p.phase}`;
      const { rate, unit } = rateOf(p);
      const s = this.series.get(key) ?? { phase: p.phase, unit, rates: new Map() };
      this.series.set(key, s);
      if (p.skipped === undefined) s.rates.set(backend, [...(s.rates.get(backend) ?? []), rate]);
    }
    const c = this.cpu.get(`${cache}|${backend}`) ?? { daemonMs: [], qemuMs: [] };
    this.cpu.set(`${cache}|${backend}`, c);
    // 9p has no daemon: its server's CPU is QEMU's.
    if (backend !== '9p') c.daemonMs.push(run.daemonCpuMs);
    c.qemuMs.push(run.qemuCpuMs);
    if (run.cycles !== undefined) this.addCycles(cache, backend, run.cycles);
  }

  private addCycles(cache: Cache, backend: Backend, run: RequestCycles): void {
    const key = `${cache}|${backend}`;
    const t = this.cycles.get(key) ?? { cache, backend, cycles: emptyCycles() };
    this.cycles.set(key, t);
    mergeCycles(t.cycles, run);
  }

  /** The traced daemons' request cycles (--trace). */
  cyclesTable(): string {
    return cyclesTable(this.tracedInOrder());
  }

  /** By cache mode, then back end, as the tables are, whatever order the rounds ran them in. */
  private tracedInOrder(): TracedCycles[] {
    return this.caches.flatMap((cache) =>
      this.backends.flatMap((backend) => this.cycles.get(`${cache}|${backend}`) ?? []),
    );
  }

  private seriesOf(cache: Cache): Series[] {
    return [...this.series.entries()].filter(([key]) => key.startsWith(`${cache}|`)).map(([, s]) => s);
  }

  cpuOf(cache: Cache, backend: Backend): { daemonMs: number[]; qemuMs: number[] } {
    return this.cpu.get(`${cache}|${backend}`) ?? { daemonMs: [], qemuMs: [] };
  }

  table(): string {
    const others = this.backends.filter((b) => b !== 'ours' && !onOurQemu(b));
    const withOurs = this.backends.includes('ours');
    const withDax = this.backends.includes('ours-vmm') && this.backends.includes('ours-dax');
    const withInode = this.backends.includes('ours-vmm') && this.backends.includes('ours-dax-inode');
    const lines: string[] = [];
    let skipped = false;
    for (const cache of this.caches) {
      lines.push(`cache=${cache} (9p: cache=${NINE_P_CACHE[cache]}); median (min–max) of each back end's runs`);
      const head = [
        'workload',
        'unit',
        ...this.backends,
        ...(withOurs ? others.map((b) => `ours/${b}`) : []),
        ...(withDax ? ['dax/no-dax'] : []),
        ...(withInode ? ['inode/no-dax'] : []),
      ];
      const rows: string[][] = [head];
      for (const s of this.seriesOf(cache)) {
        const medians = new Map(this.backends.map((b) => [b, medianOf(s.rates.get(b))]));
        skipped ||= this.backends.some((b) => medians.get(b) === undefined);
        rows.push([
          s.phase,
          s.unit,
          ...this.backends.map((b) => cell(s.rates.get(b))),
          ...(withOurs ? others.map((b) => ratioCell(medians.get('ours'), medians.get(b))) : []),
          ...(withDax ? [ratioCell(medians.get('ours-dax'), medians.get('ours-vmm'))] : []),
          ...(withInode ? [ratioCell(medians.get('ours-dax-inode'), medians.get('ours-vmm'))] : []),
        ]);
      }
      for (const [label, pick] of [
        ['host CPU, daemon', (b: Backend) => this.cpuOf(cache, b).daemonMs],
        ['host CPU, QEMU', (b: Backend) => this.cpuOf(cache, b).qemuMs],
      ] as const) {
        rows.push([
          label,
          'ms',
          ...this.backends.map((b) => cell(pick(b))),
          ...(withOurs ? others.map((b) => ratioCell(medianOf(pick(b)), medianOf(pick('ours')))) : []),
          ...(withDax ? [ratioCell(medianOf(pick('ours-vmm')), medianOf(pick('ours-dax')))] : []),
          ...(withInode ? [ratioCell(medianOf(pick('ours-vmm')), medianOf(pick('ours-dax-inode')))] : []),
        ]);
      }
      lines.push(...renderTable(rows, [0, 1]), '');
    }
    if (withOurs && others.length > 0)
      lines.push('ours/X: ratio of medians, > 1 means ours is faster (for CPU: ours uses less).');
    if (withDax)
      lines.push(
        'ours-vmm, ours-dax: ours on our QEMU (make vmm), without and with DAX; dax/no-dax: ratio of their medians,',
        '> 1 means DAX is faster (for CPU: uses less).',
      );
    if (withInode)
      lines.push('ours-dax-inode: dax=inode, only large files through the window; inode/no-dax: as dax/no-dax.');
    if (skipped) lines.push('—: the mount cannot do it (a shared writable mmap needs the page cache or DAX).');
    return lines.join('\n');
  }

  json(extra: Record<string, unknown>): unknown {
    const results = this.caches.flatMap((cache) =>
      this.seriesOf(cache).map((s) => ({
        cache,
        phase: s.phase,
        unit: s.unit,
        backends: Object.fromEntries(this.backends.map((b) => [b, jsonSeries(s.rates.get(b))])),
      })),
    );
    const cpu = this.caches.flatMap((cache) =>
      this.backends.map((backend) => {
        const c = this.cpuOf(cache, backend);
        return { cache, backend, daemonMs: jsonSeries(c.daemonMs), qemuMs: jsonSeries(c.qemuMs) };
      }),
    );
    const trace = this.cycles.size === 0 ? {} : { trace: cyclesJson(this.tracedInOrder()) };
    return { ...extra, machine: machineOf(), results, cpu, ...trace };
  }

  writeJson(path: string, extra: Record<string, unknown>): void {
    writeFileSync(path, `${JSON.stringify(this.json(extra), null, 2)}\n`);
  }
}

function machineOf(): { cpu: string; cores: number } {
  const list = cpus();
  return { cpu: list[0]?.model ?? 'unknown', cores: list.length };
}

function medianOf(values: readonly number[] | undefined): number | undefined {
  return values === undefined || values.length === 0 ? undefined : summarize(values).median;
}

/** Three significant digits, whole numbers from 100 up. */
function num(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

function cell(values: readonly number[] | undefined): string {
  if (values === undefined || values.length === 0) return '—';
  const s: Summary = summarize(values);
  return values.length === 1 ? num(s.median) : `${num(s.median)} (${num(s.min)}–${num(s.max)})`;
}

function ratioCell(numerator: number | undefined, denominator: number | undefined): string {
  return numerator === undefined || denominator === undefined || denominator <= 0
    ? '—'
    : `${(numerator / denominator).toFixed(2)}`;
}

function jsonSeries(values: readonly number[] | undefined): { samples: number[]; summary: Summary } | null {
  if (values === undefined || values.length === 0) return null;
  return { samples: values.map((v) => Math.round(v * 1000) / 1000), summary: summarize(values) };
}
