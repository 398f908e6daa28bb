// What bench-hotplug prints and writes (--json): p50/p90/min/max of each step of the cycles and the
// host CPU each cost, next to the two baselines that put them in proportion (any exec, any CLI
// call), and every cycle's figures.

import type { CpuSpent } from '../bench_common/cpu_meter';
import { ratio, ratioText, renderTable, round1, roundSummary, wholeMs } from '../bench_common/format';
import { summarize, type Summary } from '../bench_common/stats';
import { type Cycle, HOTPLUG_OPS, type OpKey } from './hotplug_cycle';

export interface HotplugReport {
  readonly benchmark: 'volume-hotplug';
  readonly cycles: number;
  readonly warmup: number;
  readonly ops_ms: Record<OpKey, Summary>;
  /** Host CPU per step: containerd, the shim, QEMU, vfs-virtiofsd, and the CLI or ctr call. */
  readonly cpu_ms: Record<OpKey, Summary>;
  /** Medians: the CLI's add over its floor, the first read over any exec. */
  readonly ratios: { readonly add_over_cli_floor: number | null; readonly first_read_over_exec: number | null };
  /** What the runtime side uses with nothing asked of it (a TCG guest's timer ticks): part of every CPU figure. */
  readonly idle_runtime_cpu_ms_per_s: number;
  /** The most `cat` calls a first read needed (1: the file was there when add returned). */
  readonly first_read_attempts_max: number;
  readonly samples: readonly {
    readonly ms: Record<OpKey, number>;
    readonly cpu_ms: Record<OpKey, { readonly runtime: number; readonly client: number }>;
    readonly read_attempts: number;
  }[];
}

const OP_KEYS = HOTPLUG_OPS.map((op) => op.key);

function perOp<V>(value: (key: OpKey) => V): Record<OpKey, V> {
  return Object.fromEntries(OP_KEYS.map((key) => [key, value(key)])) as Record<OpKey, V>;
}

function cpuJson(spent: CpuSpent): { runtime: number; client: number } {
  return { runtime: round1(spent.runtimeMs), client: round1(spent.clientMs) };
}

export function buildHotplugReport(cycles: readonly Cycle[], warmup: number, idleCpuMsPerS: number): HotplugReport {
  const ops = perOp((key) => roundSummary(summarize(cycles.map((c) => c.ms[key]))));
  return {
    benchmark: 'volume-hotplug',
    cycles: cycles.length,
    warmup,
    ops_ms: ops,
    cpu_ms: perOp((key) => roundSummary(summarize(cycles.map((c) => c.cpu[key].totalMs)))),
    ratios: {
      add_over_cli_floor: ratio(ops.add.median, ops.cli_floor.median),
      first_read_over_exec: ratio(ops.first_read.median, ops.exec_baseline.median),
    },
    idle_runtime_cpu_ms_per_s: round1(idleCpuMsPerS),
    first_read_attempts_max: Math.max(...cycles.map((c) => c.readAttempts)),
    samples: cycles.map((c) => ({
      ms: perOp((key) => round1(c.ms[key])),
      cpu_ms: perOp((key) => cpuJson(c.cpu[key])),
      read_attempts: c.readAttempts,
    })),
  };
}

export function formatHotplugReport(report: HotplugReport): string {
  const rows = [
    ['ms', 'p50', 'p90', 'min', 'max', 'CPU p50', ''],
    ...HOTPLUG_OPS.map((op) => {
      const s = report.ops_ms[op.key];
      return [
        op.label,
        ...[s.median, s.p90, s.min, s.max].map(wholeMs),
        wholeMs(report.cpu_ms[op.key].median),
        op.what,
      ];
    }),
  ];
  const { ratios } = report;
  const lines = [
    `volume hotplug: ${report.cycles} cycles of add → first read in the container → remove, one running vfs container`,
    ...renderTable(rows, [0, 6]),
    `  volume add / volume list (p50s): ${ratioText(ratios.add_over_cli_floor)}; first read / exec (p50s): ${ratioText(ratios.first_read_over_exec)}; most reads until the file showed: ${report.first_read_attempts_max}`,
    `  CPU: host CPU ms of containerd, the shim, QEMU and vfs-virtiofsd (idle: ${wholeMs(report.idle_runtime_cpu_ms_per_s)} ms/s), and of the CLI or ctr call`,
  ];
  return `${lines.join('\n')}\n`;
}
