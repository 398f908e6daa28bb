// What bench-coldstart prints and writes (--json): min/median/p90 of runc, vfs and the bare-VM
// floor, the vfs/runc ratio, and vfs's overhead over the floor as the median of each phase.

import { ratio, round1 as round, roundSummary, wholeMs as ms } from '../bench_common/format';
import { median, summarize, type Summary } from '../bench_common/stats';
import { DETAILS, PHASES, type DetailKey, type PhaseKey, type RunPhases } from './phases';

export interface Samples {
  readonly runc: readonly number[];
  /** Empty when vfs was skipped. */
  readonly vfs: readonly number[];
  readonly floor: readonly number[];
  /** The other machine's floor (the configured machine's price: q35 or microvm-pcie against microvm). */
  readonly floorOther: readonly number[];
  /** The machines of the two floors: the configured one, then the other. */
  readonly floorMachines: readonly [string, string];
  readonly vfsPhases: readonly RunPhases[];
  /** Guest uptime at /init's start in the floor VMs, seconds. */
  readonly floorInitS: readonly number[];
}

export interface Report {
  readonly runs: number;
  readonly runc_ms: Summary;
  readonly vfs_ms: Summary | null;
  readonly floor_ms: Summary;
  readonly floor_other_machine_ms: Summary | null;
  readonly floor_machines: readonly [string, string];
  readonly ratio_vfs_runc: number | null;
  readonly overhead_over_floor_ms: number | null;
  readonly phases_ms: Partial<Record<PhaseKey, number>>;
  readonly details_ms: Partial<Record<DetailKey, number>>;
  readonly floor_init_uptime_ms: number | null;
  readonly samples_ms: {
    readonly runc: readonly number[];
    readonly vfs: readonly number[];
    readonly floor: readonly number[];
  };
}

function medians<K extends string>(
  keys: readonly K[],
  pick: (run: RunPhases) => Partial<Record<K, number>>,
  runs: readonly RunPhases[],
): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const key of keys) {
    const values = runs.map((run) => pick(run)[key]).filter((v): v is number => v !== undefined);
    if (values.length > 0) out[key] = round(median(values));
  }
  return out;
}

export function buildReport(samples: Samples): Report {
  const runc = summarize(samples.runc);
  const floor = summarize(samples.floor);
  const vfs = samples.vfs.length === 0 ? undefined : summarize(samples.vfs);
  return {
    runs: samples.runc.length,
    runc_ms: roundSummary(runc),
    vfs_ms: vfs === undefined ? null : roundSummary(vfs),
    floor_ms: roundSummary(floor),
    floor_other_machine_ms: samples.floorOther.length === 0 ? null : roundSummary(summarize(samples.floorOther)),
    floor_machines: samples.floorMachines,
    ratio_vfs_runc: vfs === undefined ? null : ratio(vfs.median, runc.median),
    overhead_over_floor_ms: vfs === undefined ? null : round(vfs.median - floor.median),
    phases_ms: medians(
      PHASES.map((p) => p.key),
      (r) => r.phases,
      samples.vfsPhases,
    ),
    details_ms: medians(
      DETAILS.map((d) => d.key),
      (r) => r.details,
      samples.vfsPhases,
    ),
    floor_init_uptime_ms: samples.floorInitS.length === 0 ? null : round(median(samples.floorInitS) * 1000),
    samples_ms: { runc: samples.runc.map(round), vfs: samples.vfs.map(round), floor: samples.floor.map(round) },
  };
}

function summaryRow(name: string, s: Summary | null): string {
  if (s === null) return `  ${name.padEnd(18)}(skipped: the guest agent's server is not built)`;
  return `  ${name.padEnd(18)}${ms(s.min).padStart(8)}${ms(s.median).padStart(8)}${ms(s.p90).padStart(8)}`;
}

function anchorNote(runs: readonly RunPhases[]): string {
  const byAgent = runs.filter((r) => r.anchor === 'agent-ready').length;
  if (byAgent === runs.length)
    return "kernel → /init: /init's guest uptime anchored at the agent's ready time (host Check vs guest uptime)";
  return `kernel → /init: ${runs.length - byAgent} of ${runs.length} runs lack the agent's boot times: guest uptime 0 taken as QEMU's spawn (underestimate)`;
}

function phaseLines(report: Report, runs: readonly RunPhases[]): string[] {
  if (report.vfs_ms === null || report.overhead_over_floor_ms === null) return [];
  const lines = [
    '',
    `vfs overhead over the floor (medians): ${ms(report.vfs_ms.median)} − ${ms(report.floor_ms.median)} = ${ms(report.overhead_over_floor_ms)} ms`,
  ];
  lines.push(`  ${'phase'.padEnd(20)}${'ms'.padStart(7)}   ends when`);
  for (const phase of PHASES)
    lines.push(`  ${phase.label.padEnd(20)}${ms(report.phases_ms[phase.key]).padStart(7)}   ${phase.what}`);
  const sum = PHASES.reduce((total, phase) => total + (report.phases_ms[phase.key] ?? 0), 0);
  lines.push(`  ${'sum of medians'.padEnd(20)}${ms(sum).padStart(7)}`, '', '  inside those phases:');
  for (const detail of DETAILS) {
    const value = report.details_ms[detail.key];
    if (value !== undefined) lines.push(`    ${detail.label.padEnd(48)}${ms(value).padStart(7)}`);
  }
  if (report.floor_init_uptime_ms !== null)
    lines.push(`    ${'floor VM: guest uptime at /init'.padEnd(48)}${ms(report.floor_init_uptime_ms).padStart(7)}`);
  lines.push('', `  ${anchorNote(runs)}`);
  return lines;
}

export function formatReport(report: Report, runs: readonly RunPhases[]): string {
  const lines = [
    `cold start: ${report.runs} runs each, interleaved; ms`,
    `  ${''.padEnd(18)}${'min'.padStart(8)}${'median'.padStart(8)}${'p90'.padStart(8)}`,
    summaryRow('runc', report.runc_ms),
    summaryRow('vfs', report.vfs_ms),
    summaryRow(`floor ${report.floor_machines[0]}`, report.floor_ms),
    ...(report.floor_other_machine_ms === null
      ? []
      : [summaryRow(`floor ${report.floor_machines[1]}`, report.floor_other_machine_ms)]),
  ];
  if (report.ratio_vfs_runc !== null) lines.push(`  vfs / runc (medians): ${report.ratio_vfs_runc.toFixed(2)}×`);
  return [...lines, ...phaseLines(report, runs)].join('\n') + '\n';
}
