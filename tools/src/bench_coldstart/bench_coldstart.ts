// `make bench-coldstart`: cold start of `ctr run --rm <busybox> <id> true` with runc and with vfs,
// next to the bare-VM floor (floor_vm.ts), on a private containerd 1.6 with the offline busybox
// image. Runs alternate between the three kinds, rotating the order each round, so the machine's
// noise and drift fall on all of them alike. The vfs runs' phases come from the timestamps the
// shim saves under VFS_TIMINGS_DIR (shim/src/vm_runtime/phase_clock.ts). containerd, the shims'
// processes, any floor VM, mounts and the temp dir are removed at the end, on failure and on SIGINT.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TIMINGS_DIR_ENV } from '@vfs/shim/vm';
import { PrivateContainerd } from '@vfs/harness/containerd';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { type BenchScope, progress, runBench } from '../bench_common/bench_main';
import { roundName, roundOrder } from '../bench_common/round_order';
import { parseBenchArgs, type BenchArgs } from './bench_args';
import { RUNC_RUNTIME, timeCtrRun, VFS_RUNTIME } from './ctr_run';
import { floorVm, type FloorVm } from './floor_vm';
import { runPhases, type RunPhases } from './phases';
import { buildReport, formatReport } from './report';
import { readTimings } from './timings_file';

const IMAGE = 'docker.io/library/busybox:vfs-bench';
const NAMESPACE = 'vfs-bench';

type Kind = 'runc' | 'vfs' | 'floor' | 'floorOther';

interface Collected {
  readonly runc: number[];
  readonly vfs: number[];
  readonly floor: number[];
  /** The other machine's floor: microvm (no hotplug, no pmem), or microvm-pcie when microvm is configured. */
  readonly floorOther: number[];
  readonly vfsPhases: RunPhases[];
  readonly floorInitS: number[];
}

interface Bench {
  readonly args: BenchArgs;
  readonly containerd: PrivateContainerd;
  readonly floor: FloorVm;
  readonly floorOther: FloorVm;
  readonly timingsDir: string;
}

async function measure(bench: Bench, kind: Kind, round: number, into: Collected | undefined): Promise<number> {
  if (kind === 'floorOther') {
    const run = await bench.floorOther.run();
    into?.floorOther.push(run.ms);
    return run.ms;
  }
  if (kind === 'floor') {
    const run = await bench.floor.run();
    into?.floor.push(run.ms);
    if (run.initStartS !== undefined) into?.floorInitS.push(run.initStartS);
    return run.ms;
  }
  const id = `cs-${kind}-${round}`;
  const run = await timeCtrRun(bench.containerd, NAMESPACE, kind === 'vfs' ? VFS_RUNTIME : RUNC_RUNTIME, IMAGE, id);
  if (kind === 'vfs') {
    const timings = await readTimings(bench.timingsDir, id);
    into?.vfsPhases.push(runPhases(run, timings));
  }
  into?.[kind].push(run.ms);
  return run.ms;
}

async function runRounds(bench: Bench): Promise<Collected> {
  const { runs, warmup, skipVfs } = bench.args;
  const kinds: Kind[] = skipVfs ? ['runc', 'floor', 'floorOther'] : ['runc', 'vfs', 'floor', 'floorOther'];
  const collected: Collected = { runc: [], vfs: [], floor: [], floorOther: [], vfsPhases: [], floorInitS: [] };
  for (let round = 0; round < warmup + runs; round++) {
    const measured = round >= warmup;
    const line: string[] = [];
    for (const kind of roundOrder(kinds, round)) {
      line.push(`${kind} ${(await measure(bench, kind, round, measured ? collected : undefined)).toFixed(0)} ms`);
    }
    progress(`${roundName(round, warmup, runs)}: ${line.join(', ')}`);
  }
  return collected;
}

async function setUp(args: BenchArgs, scope: BenchScope): Promise<Bench> {
  const timingsDir = join(scope.work, 'timings');
  mkdirSync(timingsDir);
  progress('bench-coldstart: starting a private containerd, importing the offline busybox image');
  const containerd = await PrivateContainerd.start({ env: { [TIMINGS_DIR_ENV]: timingsDir } });
  scope.defer('stop containerd', () => containerd.stop());
  scope.explainFailure(() => `containerd log tail:\n${containerd.logTail(15)}`);
  const imported = await containerd.ctr(['images', 'import', buildBusyboxImage(scope.work, IMAGE)], {
    namespace: NAMESPACE,
    timeoutMs: 120_000,
  });
  if (imported.code !== 0) throw new Error(`ctr images import failed: ${imported.stderr}`);
  const floor = await floorVm(scope.work);
  scope.defer('stop the floor VM', () => floor.stop());
  progress(`floor VM: ${floor.describe}`);
  const floorOther = await floorVm(scope.work, {
    machine: floor.machine === 'microvm' ? 'microvm-pcie' : 'microvm',
  });
  scope.defer('stop the other floor VM', () => floorOther.stop());
  progress(`other floor VM: ${floorOther.describe}`);
  return { args, containerd, floor, floorOther, timingsDir };
}

async function bench(scope: BenchScope): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  const setup = await setUp(args, scope);
  if (args.skipVfs) progress('bench-coldstart: --skip-vfs: measuring runc and the floor only');
  const collected = await runRounds(setup);
  const report = buildReport({ ...collected, floorMachines: [setup.floor.machine, setup.floorOther.machine] });
  process.stdout.write(formatReport(report, collected.vfsPhases));
  if (args.jsonPath !== undefined) writeFileSync(args.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
}

runBench('bench-coldstart', '/tmp/vfs-bench-cs-', bench);
