// What bench-net prints and writes (--json): per pair (client → server), summaries over the runs of
// TCP throughput, host CPU per GB sent and the mean round-trip times; the pairs that could not run,
// with the reason; and every run's figures.

import { renderTable, round1, roundSummary } from '../bench_common/format';
import { summarize, type Summary } from '../bench_common/stats';
import { type NetArgs, type PairName, pairOf } from './net_args';
import type { PairRun } from './net_run';

export interface PairReport {
  readonly client: string;
  readonly server: string;
  readonly throughput_mbit_s: Summary;
  /** Host CPU ms per 10⁹ bytes of the throughput runs. */
  readonly cpu_ms_per_gb: Summary;
  /** Each run's mean round trip on one connection. */
  readonly rr_us: Summary;
  /** Each run's mean connect + round trip + close. */
  readonly crr_us: Summary;
}

interface RunJson {
  readonly bytes: number;
  readonly seconds: number;
  readonly cpu_ms: { readonly runtime: number; readonly client: number };
  readonly rr_us: number;
  readonly crr_us: number;
}

export interface NetReport {
  readonly benchmark: 'pod-network';
  readonly runs: number;
  readonly seconds: number;
  readonly requests: number;
  readonly pairs: Partial<Record<PairName, PairReport>>;
  /** Pairs asked for that did not run: why (a pod that would not start or not answer). */
  readonly not_run: Partial<Record<PairName, string>>;
  readonly samples: Partial<Record<PairName, readonly RunJson[]>>;
}

const megabits = (run: PairRun): number => (run.bytes * 8) / 1e6 / run.seconds;
const cpuPerGb = (run: PairRun): number => run.cpu.totalMs / (run.bytes / 1e9);

function pairReport(name: PairName, runs: readonly PairRun[]): PairReport {
  const { client, server } = pairOf(name);
  return {
    client,
    server,
    throughput_mbit_s: roundSummary(summarize(runs.map(megabits))),
    cpu_ms_per_gb: roundSummary(summarize(runs.map(cpuPerGb))),
    rr_us: roundSummary(summarize(runs.map((r) => r.rrUs))),
    crr_us: roundSummary(summarize(runs.map((r) => r.crrUs))),
  };
}

function runJson(run: PairRun): RunJson {
  return {
    bytes: run.bytes,
    seconds: round1(run.seconds * 1000) / 1000,
    cpu_ms: { runtime: round1(run.cpu.runtimeMs), client: round1(run.cpu.clientMs) },
    rr_us: round1(run.rrUs),
    crr_us: round1(run.crrUs),
  };
}

export function buildNetReport(
  args: Pick<NetArgs, 'runs' | 'seconds' | 'requests'>,
  runs: Partial<Record<PairName, readonly PairRun[]>>,
  notRun: Partial<Record<PairName, string>>,
): NetReport {
  const measured = (Object.keys(runs) as PairName[]).filter((name) => (runs[name]?.length ?? 0) > 0);
  return {
    benchmark: 'pod-network',
    runs: args.runs,
    seconds: args.seconds,
    requests: args.requests,
    pairs: Object.fromEntries(measured.map((name) => [name, pairReport(name, runs[name] ?? [])])),
    not_run: notRun,
    samples: Object.fromEntries(measured.map((name) => [name, (runs[name] ?? []).map(runJson)])),
  };
}

const whole = (value: number): string => value.toFixed(0);

export function formatNetReport(report: NetReport, order: readonly PairName[]): string {
  const rows: string[][] = [
    ['client → server', 'Mbit/s: median (min)', 'host CPU ms/GB', 'RR µs: median (max)', 'connect+RR µs: median (max)'],
  ];
  for (const name of order) {
    const { client, server } = pairOf(name);
    const label = `${client} → ${server}`;
    const pair = report.pairs[name];
    if (pair !== undefined)
      rows.push([
        label,
        `${whole(pair.throughput_mbit_s.median)} (${whole(pair.throughput_mbit_s.min)})`,
        whole(pair.cpu_ms_per_gb.median),
        `${whole(pair.rr_us.median)} (${whole(pair.rr_us.max)})`,
        `${whole(pair.crr_us.median)} (${whole(pair.crr_us.max)})`,
      ]);
    else rows.push([label, 'not run', '', '', '']);
  }
  const lines = [
    `pod network: TCP between two pods on a CNI bridge (netbench), ${report.runs} runs of ${report.seconds} s throughput and ${report.requests} requests each, interleaved`,
    ...renderTable(rows),
    '  RR: a 64-byte request and answer; each run gives its mean (a TCG guest clock may be too coarse for one)',
    '  host CPU: containerd, the shims and all they start (QEMU, runc), the pods, this client; per 10⁹ bytes sent',
    ...order.flatMap((name) => {
      const reason = report.not_run[name];
      return reason === undefined ? [] : [`  not run: ${name}: ${reason}`];
    }),
  ];
  return `${lines.join('\n')}\n`;
}
