// What bench-pods prints and writes (--json): per handler, min/median/p90/max of each CRI call of a
// pod's start and teardown and of the host CPU they cost; the vfs/runc ratio of the medians; and
// every run's figures.

import type { CpuSpent } from '../bench_common/cpu_meter';
import { ratio, ratioText, renderTable, round1, roundSummary, wholeMs } from '../bench_common/format';
import { summarize, type Summary } from '../bench_common/stats';
import { type Handler, POD_PHASES, type PodPhase, type PodRun } from './pod_run';

export const HANDLERS: readonly Handler[] = ['runc', 'vfs'];
const CPU_PARTS = ['start', 'teardown'] as const;
type CpuPart = (typeof CPU_PARTS)[number];

export interface HandlerReport {
  readonly phases_ms: Record<PodPhase, Summary>;
  /** Host CPU: containerd, the shims and what they started (QEMU, vfs-virtiofsd, runc), the pods' cgroups, this client. */
  readonly cpu_ms: Record<CpuPart, Summary>;
}

interface RunJson {
  readonly phases_ms: Record<PodPhase, number>;
  readonly cpu_ms: Record<CpuPart, { readonly runtime: number; readonly client: number }>;
}

export interface PodsReport {
  readonly benchmark: 'pod-start';
  readonly runs: number;
  readonly warmup: number;
  readonly handlers: Record<Handler, HandlerReport>;
  /** vfs median / runc median, per phase and for the CPU of start and teardown. */
  readonly ratio_vfs_runc: Record<PodPhase | `cpu_${CpuPart}`, number | null>;
  readonly samples: Record<Handler, readonly RunJson[]>;
}

function mapKeys<K extends string, V>(keys: readonly K[], value: (key: K) => V): Record<K, V> {
  return Object.fromEntries(keys.map((key) => [key, value(key)])) as Record<K, V>;
}

const PHASE_KEYS = POD_PHASES.map((p) => p.key);

function handlerReport(runs: readonly PodRun[]): HandlerReport {
  return {
    phases_ms: mapKeys(PHASE_KEYS, (key) => roundSummary(summarize(runs.map((r) => r.phases[key])))),
    cpu_ms: mapKeys(CPU_PARTS, (part) => roundSummary(summarize(runs.map((r) => r.cpu[part].totalMs)))),
  };
}

function runJson(run: PodRun): RunJson {
  const cpu = (spent: CpuSpent) => ({ runtime: round1(spent.runtimeMs), client: round1(spent.clientMs) });
  return {
    phases_ms: mapKeys(PHASE_KEYS, (key) => round1(run.phases[key])),
    cpu_ms: mapKeys(CPU_PARTS, (part) => cpu(run.cpu[part])),
  };
}

export function buildPodsReport(runs: Record<Handler, readonly PodRun[]>, warmup: number): PodsReport {
  const handlers = mapKeys(HANDLERS, (h) => handlerReport(runs[h]));
  const { runc, vfs } = handlers;
  return {
    benchmark: 'pod-start',
    runs: runs.runc.length,
    warmup,
    handlers,
    ratio_vfs_runc: {
      ...mapKeys(PHASE_KEYS, (key) => ratio(vfs.phases_ms[key].median, runc.phases_ms[key].median)),
      cpu_start: ratio(vfs.cpu_ms.start.median, runc.cpu_ms.start.median),
      cpu_teardown: ratio(vfs.cpu_ms.teardown.median, runc.cpu_ms.teardown.median),
    },
    samples: mapKeys(HANDLERS, (h) => runs[h].map(runJson)),
  };
}

function cell(s: Summary): string {
  return `${wholeMs(s.median)} (${wholeMs(s.p90)}, ${wholeMs(s.min)})`;
}

export function formatPodsReport(report: PodsReport): string {
  const { runc, vfs } = report.handlers;
  const rows = [
    ['ms: median (p90, min)', 'runc', 'vfs', 'vfs/runc'],
    ...POD_PHASES.map((p) => [
      p.label,
      cell(runc.phases_ms[p.key]),
      cell(vfs.phases_ms[p.key]),
      ratioText(report.ratio_vfs_runc[p.key]),
    ]),
    ['host CPU ms: median (p90, min)', '', '', ''],
    ['pod start', cell(runc.cpu_ms.start), cell(vfs.cpu_ms.start), ratioText(report.ratio_vfs_runc.cpu_start)],
    [
      'teardown + shim exit',
      cell(runc.cpu_ms.teardown),
      cell(vfs.cpu_ms.teardown),
      ratioText(report.ratio_vfs_runc.cpu_teardown),
    ],
  ];
  const lines = [
    `pod start: RunPodSandbox → container RUNNING, then teardown; a host-network pod with one container, ${report.runs} runs each, interleaved`,
    ...renderTable(rows),
    '  host CPU: containerd, the shims and all they start (QEMU, vfs-virtiofsd, runc), the pods, this client',
  ];
  return `${lines.join('\n')}\n`;
}
