// `make bench-coldstart`: cold start of `ctr run --rm <busybox> <id> true` with runc and with vfs,
// next to the bare-VM floor (floor_vm.ts), on a private containerd 1.6 with the offline busybox
// image. Runs alternate between the three kinds, rotating the order each round, so the machine's
// noise and drift fall on all of them alike. The vfs runs' phases come from the timestamps the
// shim saves under VFS_TIMINGS_DIR (shim/src/vm_runtime/phase_clock.ts). containerd, the shims'
// processes, any floor VM, mounts and the temp dir are removed at the end, on failure and on SIGINT.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@vfs/contracts';
import { TIMINGS_DIR_ENV } from '@vfs/shim/vm';
import { PrivateContainerd } from '@vfs/harness/containerd';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { parseBenchArgs, type BenchArgs } from './bench_args';
import { RUNC_RUNTIME, timeCtrRun, VFS_RUNTIME } from './ctr_run';
import { floorVm, type FloorVm } from './floor_vm';
import { runPhases, type RunPhases } from './phases';
import { buildReport, formatReport } from './report';
import { readTimings } from './timings_file';

const IMAGE = 'docker.io/library/busybox:vfs-bench';
const NAMESPACE = 'vfs-bench';

type Kind = 'runc' | 'vfs' | 'floor';

interface Collected {
  readonly runc: number[];
  readonly vfs: number[];
  readonly floor: number[];
  readonly vfsPhases: RunPhases[];
  readonly floorInitS: number[];
}

interface Bench {
  readonly args: BenchArgs;
  readonly containerd: PrivateContainerd;
  readonly floor: FloorVm;
  readonly timingsDir: string;
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Round i's order: the kinds rotated by i, so none is always first (cold caches) or last. */
function roundOrder(kinds: readonly Kind[], round: number): Kind[] {
  const shift = round % kinds.length;
  return [...kinds.slice(shift), ...kinds.slice(0, shift)];
}

async function measure(bench: Bench, kind: Kind, round: number, into: Collected | undefined): Promise<number> {
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
  const kinds: Kind[] = skipVfs ? ['runc', 'floor'] : ['runc', 'vfs', 'floor'];
  const collected: Collected = { runc: [], vfs: [], floor: [], vfsPhases: [], floorInitS: [] };
  for (let round = 0; round < warmup + runs; round++) {
    const measured = round >= warmup;
    const line: string[] = [];
    for (const kind of roundOrder(kinds, round)) {
      line.push(`${kind} ${(await measure(bench, kind, round, measured ? collected : undefined)).toFixed(0)} ms`);
    }
    progress(
      `${measured ? `run ${round - warmup + 1}/${runs}` : `warm-up ${round + 1}/${warmup}`}: ${line.join(', ')}`,
    );
  }
  return collected;
}

async function setUp(
  args: BenchArgs,
  work: string,
  started: (containerd: PrivateContainerd, floor?: FloorVm) => void,
): Promise<Bench> {
  const timingsDir = join(work, 'timings');
  mkdirSync(timingsDir);
  progress('bench-coldstart: starting a private containerd, importing the offline busybox image');
  const containerd = await PrivateContainerd.start({ env: { [TIMINGS_DIR_ENV]: timingsDir } });
  started(containerd);
  const imported = await containerd.ctr(['images', 'import', buildBusyboxImage(work, IMAGE)], {
    namespace: NAMESPACE,
    timeoutMs: 120_000,
  });
  if (imported.code !== 0) throw new Error(`ctr images import failed: ${imported.stderr}`);
  const floor = await floorVm(work);
  started(containerd, floor);
  progress(`floor VM: ${floor.describe}`);
  return { args, containerd, floor, timingsDir };
}

async function bench(
  args: BenchArgs,
  work: string,
  started: (containerd: PrivateContainerd, floor?: FloorVm) => void,
): Promise<void> {
  const setup = await setUp(args, work, started);
  if (args.skipVfs) progress('bench-coldstart: --skip-vfs: measuring runc and the floor only');
  const collected = await runRounds(setup);
  const report = buildReport(collected);
  process.stdout.write(formatReport(report, collected.vfsPhases));
  if (args.jsonPath !== undefined) writeFileSync(args.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  const work = mkdtempSync('/tmp/vfs-bench-cs-');
  let containerd: PrivateContainerd | undefined;
  let floor: FloorVm | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = (): Promise<void> => {
    cleaning ??= (async () => {
      await floor?.stop();
      await containerd?.stop();
      rmSync(work, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const interrupted = (signal: NodeJS.Signals): void => {
    progress(`bench-coldstart: ${signal}: cleaning up`);
    cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await bench(args, work, (c, f) => {
      containerd = c;
      floor = f;
    });
    await cleanUp();
    return 0;
  } catch (err) {
    progress(`bench-coldstart failed: ${errorMessage(err)}`);
    if (containerd !== undefined) progress(`containerd log tail:\n${containerd.logTail(15)}`);
    await cleanUp();
    return 1;
  }
}

main().then((code) => process.exit(code));
