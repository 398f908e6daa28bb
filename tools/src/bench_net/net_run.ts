// One measurement of a pair: the client pod runs netbench against the server pod's CNI address —
// a throughput run (host CPU sampled around it, for CPU per GB), then the mean request/response
// latency on one connection and with a connection per request (netbench.c: why means).

import type { CpuMeter, CpuSpent } from '../bench_common/cpu_meter';
import { cpuSpent } from '../bench_common/cpu_meter';
import { type ExecResult, NETBENCH_PORT, type NetBench, type NetPod, netbenchIn } from './net_pods';

export interface PairRun {
  readonly bytes: number;
  readonly seconds: number;
  /** Host CPU of the throughput run: containerd, shims, QEMU, the pods, this client. */
  readonly cpu: CpuSpent;
  /** Mean round-trip time on one connection, µs. */
  readonly rrUs: number;
  /** Mean connect + round trip + close, µs. */
  readonly crrUs: number;
}

interface StreamOutput {
  readonly bytes: number;
  readonly ns: number;
}

interface RoundTripsOutput {
  readonly requests: number;
  readonly ns: number;
}

/** TCG guests answer slowly: room beyond the run itself. */
const EXEC_SLACK_S = 60;

function parsed<T>(what: string, result: ExecResult): T {
  if (result.exitCode !== 0) throw new Error(`netbench ${what} exited ${result.exitCode}: ${result.stderr.trim()}`);
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`netbench ${what} printed no JSON: ${result.stdout.slice(0, 200)}`);
  }
}

async function meanLatencyUs(
  bench: NetBench,
  client: NetPod,
  server: NetPod,
  mode: 'rr' | 'crr',
  requests: number,
): Promise<number> {
  const args = [mode, server.ip, String(NETBENCH_PORT), String(requests)];
  const { ns } = parsed<RoundTripsOutput>(mode, await netbenchIn(bench, client, args, EXEC_SLACK_S + requests));
  return ns / 1000 / requests;
}

export async function measurePair(
  bench: NetBench,
  meter: CpuMeter,
  client: NetPod,
  server: NetPod,
  seconds: number,
  requests: number,
): Promise<PairRun> {
  const before = meter.sample();
  const streamed = await netbenchIn(
    bench,
    client,
    ['stream', server.ip, String(NETBENCH_PORT), String(seconds)],
    seconds + EXEC_SLACK_S,
  );
  const cpu = cpuSpent(before, meter.sample());
  const { bytes, ns } = parsed<StreamOutput>('stream', streamed);
  return {
    bytes,
    seconds: ns / 1e9,
    cpu,
    rrUs: await meanLatencyUs(bench, client, server, 'rr', requests),
    crrUs: await meanLatencyUs(bench, client, server, 'crr', requests),
  };
}
