// `make bench-net`: TCP throughput and request latency between two Kubernetes pods on a CNI bridge
// network, for each pair of runtime handlers asked for (client-server: runc-runc, vfs-vfs, vfs-runc,
// runc-vfs), with this program playing kubelet on a private containerd 1.6 with CRI and a private
// CNI network (harness/src/cni_network.ts). Each pod runs our static netbench server; the client
// side runs in the other pod through ExecSync. Rounds run every pair once, the order rotating, so
// the machine's noise falls on all alike. A pair whose pod would not start or not answer on its
// CNI address is reported as not run, with the reason, and the others still run. Host CPU comes
// from a cgroup the private containerd is moved into plus the pods' cgroups
// (bench_common/cpu_meter.ts). Pods, containerd and all it started, the network, the cgroup and
// the temp dir are removed at the end, on failure and on SIGINT.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemovePodSandboxRequest, StopPodSandboxRequest } from '@vfs/proto/gen/k8s.io/cri-api/runtime/v1/api';
import { errorMessage } from '@vfs/contracts';
import { CniNetwork } from '@vfs/harness/cni_network';
import { type BenchScope, progress, runBench } from '../bench_common/bench_main';
import type { CpuMeter } from '../bench_common/cpu_meter';
import { BENCH_IMAGE, startCriBench } from '../bench_common/cri_bench';
import { roundName, roundOrder } from '../bench_common/round_order';
import { type Handler, type NetArgs, type PairName, pairOf, parseNetArgs } from './net_args';
import { type NetBench, type NetPod, startNetPod } from './net_pods';
import { measurePair, type PairRun } from './net_run';
import { buildNetbench } from './netbench_binary';
import { buildNetReport, formatNetReport } from './report';

// Its own /24: the bridge has no address and nothing is routed to it (cni_network.ts).
const SUBNET = '10.250.201.0/24';
/** Pod a of a handler is the client side of its pairs, pod b the server side. */
type Role = 'a' | 'b';

interface Setup {
  readonly bench: NetBench;
  readonly meter: CpuMeter;
}

async function setUp(scope: BenchScope): Promise<Setup> {
  const network = CniNetwork.create({ subnet: SUBNET });
  scope.defer('remove the CNI network', () => network.remove());
  progress(`bench-net: CNI bridge ${network.bridge} (${SUBNET})`);
  const { containerd, cri, meter } = await startCriBench(scope, 'bench-net', network.dirs);
  const netbench = buildNetbench(join(scope.work, 'bench'));
  return { bench: { cri, containerd, image: BENCH_IMAGE, logRoot: join(scope.work, 'pods'), netbench }, meter };
}

async function removePod(bench: NetBench, pod: NetPod): Promise<void> {
  await bench.cri.runtime('stopPodSandbox', StopPodSandboxRequest.fromPartial({ podSandboxId: pod.id }));
  await bench.cri.runtime('removePodSandbox', RemovePodSandboxRequest.fromPartial({ podSandboxId: pod.id }));
}

/** Starts the pods the pairs need (runc first); a pod that fails is a reason, not an error. */
async function startPods(
  scope: BenchScope,
  bench: NetBench,
  pairs: readonly PairName[],
): Promise<Map<string, NetPod | string>> {
  const wanted = new Set(
    pairs.flatMap((name) => {
      const { client, server } = pairOf(name);
      return [`${client}-a`, `${server}-b`];
    }),
  );
  const pods = new Map<string, NetPod | string>();
  for (const key of [...wanted].sort().reverse()) {
    const [handler, role] = key.split('-') as [Handler, Role];
    progress(`bench-net: starting ${handler} pod ${role}`);
    try {
      const pod = await startNetPod(bench, handler, `net-${handler}-${role}`);
      scope.defer(`remove ${handler} pod ${role}`, () => removePod(bench, pod));
      pods.set(key, pod);
      progress(`bench-net: ${handler} pod ${role} is up at ${pod.ip}`);
    } catch (err) {
      pods.set(key, `${handler} pod ${role}: ${errorMessage(err)}`);
      progress(`bench-net: ${handler} pod ${role} failed: ${errorMessage(err)}`);
    }
  }
  return pods;
}

function describeRun(run: PairRun): string {
  const mbits = (run.bytes * 8) / 1e6 / run.seconds;
  return `${mbits.toFixed(0)} Mbit/s`;
}

async function bench(scope: BenchScope): Promise<void> {
  const args: NetArgs = parseNetArgs(process.argv.slice(2));
  const { bench: setup, meter } = await setUp(scope);
  const pods = await startPods(scope, setup, args.pairs);
  const notRun: Partial<Record<PairName, string>> = {};
  const runs: Partial<Record<PairName, PairRun[]>> = {};
  const podsOf = (name: PairName): [NetPod, NetPod] | string => {
    const { client, server } = pairOf(name);
    const a = pods.get(`${client}-a`);
    const b = pods.get(`${server}-b`);
    if (typeof a === 'string') return a;
    if (typeof b === 'string') return b;
    if (a === undefined || b === undefined) return 'no pod';
    return [a, b];
  };
  for (const name of args.pairs) {
    const found = podsOf(name);
    if (typeof found === 'string') notRun[name] = found;
    else runs[name] = [];
  }
  for (let round = 0; round < args.runs; round++) {
    const line: string[] = [];
    for (const name of roundOrder(Object.keys(runs) as PairName[], round)) {
      const [client, server] = podsOf(name) as [NetPod, NetPod];
      try {
        const run = await measurePair(setup, meter, client, server, args.seconds, args.requests);
        runs[name]?.push(run);
        line.push(`${name} ${describeRun(run)}`);
      } catch (err) {
        notRun[name] = errorMessage(err);
        delete runs[name];
        line.push(`${name} failed: ${errorMessage(err)}`);
      }
    }
    progress(`${roundName(round, 0, args.runs)}: ${line.join('; ')}`);
  }
  const report = buildNetReport(args, runs, notRun);
  process.stdout.write(formatNetReport(report, args.pairs));
  if (args.jsonPath !== undefined) writeFileSync(args.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
}

runBench('bench-net', '/tmp/vfs-bench-net-', bench);
