// `make bench-pods`: a Kubernetes pod's start (RunPodSandbox → its container RUNNING) and teardown
// through containerd's CRI plugin, runtime handler vfs next to runc, with this program playing
// kubelet on a private containerd 1.6 (the offline busybox and pause images, host-network pods: no
// CNI). Runs alternate between the handlers, the order rotating each round, so the machine's noise
// falls on both alike. Host CPU comes from a cgroup the private containerd is moved into
// (bench_common/cpu_meter.ts) plus the pods' cgroups. containerd, the shims and their VMs, mounts,
// the cgroups and the temp dir are removed at the end, on failure and on SIGINT.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchScope, progress, runBench } from '../bench_common/bench_main';
import { BENCH_IMAGE, startCriBench } from '../bench_common/cri_bench';
import { roundName, roundOrder } from '../bench_common/round_order';
import { type Handler, type PodBench, type PodRun, timePod } from './pod_run';
import { parsePodsArgs } from './pods_args';
import { buildPodsReport, formatPodsReport, HANDLERS } from './report';

async function setUp(scope: BenchScope): Promise<PodBench> {
  const { containerd, cri, meter } = await startCriBench(scope, 'bench-pods');
  return { cri, containerd, meter, image: BENCH_IMAGE, logRoot: join(scope.work, 'pods') };
}

async function bench(scope: BenchScope): Promise<void> {
  const args = parsePodsArgs(process.argv.slice(2));
  const setup = await setUp(scope);
  const runs: Record<Handler, PodRun[]> = { runc: [], vfs: [] };
  for (let round = 0; round < args.warmup + args.runs; round++) {
    const line: string[] = [];
    for (const handler of roundOrder(HANDLERS, round)) {
      const run = await timePod(setup, handler, `bench-${handler}-${round}`);
      if (round >= args.warmup) runs[handler].push(run);
      line.push(
        `${handler} start ${run.phases.start_total.toFixed(0)} ms, teardown ${run.phases.teardown_total.toFixed(0)} ms`,
      );
    }
    progress(`${roundName(round, args.warmup, args.runs)}: ${line.join('; ')}`);
  }
  const report = buildPodsReport(runs, args.warmup);
  process.stdout.write(formatPodsReport(report));
  if (args.jsonPath !== undefined) writeFileSync(args.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
}

runBench('bench-pods', '/tmp/vfs-bench-pods-', bench);
