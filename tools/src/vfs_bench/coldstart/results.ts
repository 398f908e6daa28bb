// What `vfs-bench coldstart` writes (the output contract other tools read): results.json =
// {"cells":[{name, config, vfs_ms, runc_ms, floor_ms, phases_ms, details_ms, …}]} with min/p50/p90/p99
// of each kind, the median of each vfs phase and of each finer step inside the phases (details_ms;
// they overlap and need not add up), and results.csv with every measured run, one per row.
// A cell that could not run keeps its place with `skipped` saying why and null figures.

import { ratio, round1 } from '../../bench_common/format';
import { median } from '../../bench_common/stats';
import { DETAILS, type DetailKey, PHASES, type PhaseKey, type RunPhases } from '../../bench_coldstart/phases';
import { type Cell, type CellConfig, DIMENSIONS } from './matrix';
import { type Quantiles, quantiles } from './quantiles';

export type Kind = 'vfs' | 'runc' | 'floor';
export const KINDS: readonly Kind[] = ['vfs', 'runc', 'floor'];

/** One sandbox's (or floor VM's) start to exit; `slot` is its place in a burst of K. */
export interface RunRecord {
  readonly kind: Kind;
  readonly round: number;
  readonly slot: number;
  readonly ms: number;
  readonly phases?: RunPhases['phases'];
  readonly details?: RunPhases['details'];
}

export interface CellOutcome {
  readonly cell: Cell;
  /** Why the cell was not run; undefined when it ran. */
  readonly skipped?: string;
  readonly runs: readonly RunRecord[];
}

export interface CellResult {
  readonly name: string;
  readonly config: CellConfig;
  readonly skipped: string | null;
  readonly vfs_ms: Quantiles | null;
  readonly runc_ms: Quantiles | null;
  readonly floor_ms: Quantiles | null;
  /** Medians over the vfs runs; the phases add up to the run. */
  readonly phases_ms: Partial<Record<PhaseKey, number>>;
  /** Medians over the vfs runs of the steps a run took (a step a run did not take is left out). */
  readonly details_ms: Partial<Record<DetailKey, number>>;
  readonly ratio_vfs_runc: number | null;
  readonly ratio_vfs_floor: number | null;
  readonly samples_ms: Readonly<Record<Kind, readonly number[]>>;
}

export interface Results {
  readonly runs: number;
  readonly cells: readonly CellResult[];
}

function samplesOf(runs: readonly RunRecord[], kind: Kind): number[] {
  return runs.filter((run) => run.kind === kind).map((run) => round1(run.ms));
}

function medians<K extends string>(
  keys: readonly { readonly key: K }[],
  valueAt: (run: RunRecord, key: K) => number | undefined,
  runs: readonly RunRecord[],
): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const { key } of keys) {
    const values = runs.map((run) => valueAt(run, key)).filter((v): v is number => v !== undefined);
    if (values.length > 0) out[key] = round1(median(values));
  }
  return out;
}

function p50Ratio(numerator: Quantiles | null, denominator: Quantiles | null): number | null {
  return numerator === null || denominator === null ? null : ratio(numerator.p50, denominator.p50);
}

export function cellResult(outcome: CellOutcome): CellResult {
  const samples = {
    vfs: samplesOf(outcome.runs, 'vfs'),
    runc: samplesOf(outcome.runs, 'runc'),
    floor: samplesOf(outcome.runs, 'floor'),
  };
  const [vfs, runc, floor] = [quantiles(samples.vfs), quantiles(samples.runc), quantiles(samples.floor)];
  const vfsRuns = outcome.runs.filter((run) => run.kind === 'vfs');
  return {
    name: outcome.cell.name,
    config: outcome.cell.config,
    skipped: outcome.skipped ?? null,
    vfs_ms: vfs,
    runc_ms: runc,
    floor_ms: floor,
    phases_ms: medians(PHASES, (run, key) => run.phases?.[key], vfsRuns),
    details_ms: medians(DETAILS, (run, key) => run.details?.[key], vfsRuns),
    ratio_vfs_runc: p50Ratio(vfs, runc),
    ratio_vfs_floor: p50Ratio(vfs, floor),
    samples_ms: samples,
  };
}

export function buildResults(runs: number, outcomes: readonly CellOutcome[]): Results {
  return { runs, cells: outcomes.map(cellResult) };
}

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
function csvField(value: string | number | boolean | undefined): string {
  const text = value === undefined ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const CSV_HEADER: readonly string[] = [
  'cell',
  ...DIMENSIONS,
  'kind',
  'round',
  'slot',
  'ms',
  ...PHASES.map((p) => `${p.key}_ms`),
  ...DETAILS.map((d) => `${d.key}_ms`),
];

function optionalMs(value: number | undefined): number | undefined {
  return value === undefined ? undefined : round1(value);
}

/** Every measured run, one row each; runc and floor runs shared by cells appear under each. */
export function resultsCsv(outcomes: readonly CellOutcome[]): string {
  const rows = [CSV_HEADER.join(',')];
  for (const { cell, runs } of outcomes) {
    for (const run of runs) {
      const fields = [
        cell.name,
        ...DIMENSIONS.map((d) => cell.config[d]),
        run.kind,
        run.round,
        run.slot,
        round1(run.ms),
        ...PHASES.map((p) => optionalMs(run.phases?.[p.key])),
        ...DETAILS.map((d) => optionalMs(run.details?.[d.key])),
      ];
      rows.push(fields.map(csvField).join(','));
    }
  }
  return `${rows.join('\n')}\n`;
}
