// `make bench-hotplug`: how long a volume takes to hot-plug into a running vfs container and to
// go again, through the bundled CLI as a user runs it: `vfs-runtime volume add`, the first read of
// its file in the container (`ctr task exec … cat`), `vfs-runtime volume remove`, cycle after cycle
// on one container started with `ctr run -d` (machine microvm-pcie, which has hotplug slots) on a
// private containerd 1.6. Host CPU comes from a cgroup the private containerd is moved into
// (bench_common/cpu_meter.ts), plus the CLI and ctr processes. The container, containerd, the
// shim and its VM, mounts, the cgroup and the temp dir are removed at the end, on failure and on
// SIGINT.

import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PrivateContainerd } from '@vfs/harness/containerd';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { waitFor } from '@vfs/harness/process';
import { type BenchScope, progress, runBench } from '../bench_common/bench_main';
import { CpuMeter, cpuSpent } from '../bench_common/cpu_meter';
import { roundName } from '../bench_common/round_order';
import { type Cycle, type HotplugBench, runCycle } from './hotplug_cycle';
import { parseHotplugArgs } from './hotplug_args';
import { buildHotplugReport, formatHotplugReport } from './report';
import { type Container, callOutput, checkCli } from './volume_cli';

const IMAGE = 'docker.io/library/busybox:vfs-bench';
const NAMESPACE = 'vfs-bench-hotplug';
const CONTAINER_ID = 'hotplug-c1';
const TARGET = '/mnt/v';
// Two root ports, as e2e/volumes.test.ts has: a cycle uses one at a time.
const CONFIG = '[hypervisor]\nmachine = "microvm-pcie"\nhotplug_slots = 2\n';
const IDLE_SAMPLE_MS = 2000;

/** SIGKILL the task, then delete task and container: the shim takes the VM down and exits. */
async function removeContainer(container: Container): Promise<void> {
  const { containerd, namespace, id } = container;
  const ctr = (args: readonly string[]) => containerd.ctr(args, { namespace });
  await ctr(['task', 'kill', '-s', 'SIGKILL', id]);
  await waitFor(
    'the task to stop',
    async () => {
      const ls = await ctr(['task', 'ls']);
      return !ls.stdout.includes(id) || /STOPPED/.test(ls.stdout);
    },
    30_000,
  );
  await ctr(['task', 'rm', id]);
  const removed = await ctr(['container', 'rm', id]);
  // Not found: `ctr run` failed before it made the container.
  if (removed.code !== 0 && !/not found/.test(removed.stderr))
    throw new Error(`ctr container rm ${id} failed (${callOutput(removed)})`);
}

async function setUp(scope: BenchScope): Promise<HotplugBench> {
  checkCli();
  // Removed last, once containerd and everything it started are gone.
  const meter = CpuMeter.create(basename(scope.work));
  scope.defer('remove the CPU cgroup', () => meter.remove());
  const config = join(scope.work, 'configuration.toml');
  writeFileSync(config, CONFIG);
  progress('bench-hotplug: starting a private containerd, importing the offline busybox image');
  const containerd = await PrivateContainerd.start({ env: { VFS_CONFIG: config } });
  scope.defer('stop containerd', () => containerd.stop());
  scope.explainFailure(() => `containerd log tail:\n${containerd.logTail(30)}`);
  progress(`bench-hotplug: work dir ${scope.work}, containerd dir ${containerd.dir}, CPU cgroup ${meter.dir}`);
  if (containerd.pid === undefined) throw new Error('containerd has no pid');
  meter.adopt(containerd.pid);
  const imported = await containerd.ctr(['images', 'import', buildBusyboxImage(scope.work, IMAGE)], {
    namespace: NAMESPACE,
    timeoutMs: 120_000,
  });
  if (imported.code !== 0) throw new Error(`ctr images import failed: ${imported.stderr}`);
  const container: Container = { containerd, namespace: NAMESPACE, id: CONTAINER_ID };
  progress(`bench-hotplug: ctr run -d --runtime io.containerd.vfs.v2 ${IMAGE} ${CONTAINER_ID} sleep 3600`);
  scope.defer('remove the container', () => removeContainer(container));
  const run = await containerd.ctr(
    ['run', '-d', '--runtime', 'io.containerd.vfs.v2', IMAGE, CONTAINER_ID, 'sleep', '3600'],
    { namespace: NAMESPACE, timeoutMs: 120_000 },
  );
  if (run.code !== 0) throw new Error(`ctr run -d failed (${callOutput(run)})`);
  return { container, meter, sourceRoot: join(scope.work, 'volumes'), target: TARGET };
}

/** CPU ms a second that containerd, the shim, QEMU and the daemon use while nothing is asked of them. */
async function idleRuntimeCpu(meter: CpuMeter): Promise<number> {
  const before = meter.sample();
  const started = performance.now();
  await sleep(IDLE_SAMPLE_MS);
  const spent = cpuSpent(before, meter.sample());
  return (spent.runtimeMs / (performance.now() - started)) * 1000;
}

async function bench(scope: BenchScope): Promise<void> {
  const args = parseHotplugArgs(process.argv.slice(2));
  const setup = await setUp(scope);
  const idle = await idleRuntimeCpu(setup.meter);
  progress(`bench-hotplug: the idle container's runtime side uses ${idle.toFixed(0)} ms of CPU a second`);
  const cycles: Cycle[] = [];
  for (let n = 0; n < args.warmup + args.cycles; n++) {
    const cycle = await runCycle(setup, n);
    if (n >= args.warmup) cycles.push(cycle);
    const { add, first_read, remove } = cycle.ms;
    progress(
      `${roundName(n, args.warmup, args.cycles)}: add ${add.toFixed(0)} ms, first read ${first_read.toFixed(0)} ms, remove ${remove.toFixed(0)} ms`,
    );
  }
  const report = buildHotplugReport(cycles, args.warmup, idle);
  process.stdout.write(formatHotplugReport(report));
  if (args.jsonPath !== undefined) writeFileSync(args.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
}

runBench('bench-hotplug', '/tmp/vfs-bench-hotplug-', bench);
