// `vfs-bench coldstart`: the cold start of `ctr run --rm <image> <id> true` for each cell of an
// experiment matrix, with vfs (the cell's configuration.toml), runc and the bare-VM floor of the
// cell's VM shape, on a private containerd 1.6 with the offline images. Each round runs every job
// once (jobs.ts), the order rotating each round, so noise and drift fall on all cells alike; a job
// starts K sandboxes (or floor VMs) at once. The vfs runs' phases come from the shim's timestamps
// under VFS_TIMINGS_DIR, as in bench-coldstart. A pool-on cell's sandboxes take VMs from a warm
// pool kept full between jobs (pool_keeper.ts); a template-on cell's resume a VM template saved
// before its first job (template_keeper.ts). Everything started is removed at the end, on
// failure and on SIGINT (bench_common/bench_main.ts).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PrivateContainerd } from '@vfs/harness/containerd';
import { installRoot, loadRuntimeConfig } from '@vfs/runtime-config';
import { TIMINGS_DIR_ENV } from '@vfs/shim/vm';
import { type BenchScope, progress } from '../../bench_common/bench_main';
import { roundName, roundOrder } from '../../bench_common/round_order';
import { median } from '../../bench_common/stats';
import { RUNC_RUNTIME, timeCtrRun, VFS_RUNTIME } from '../../bench_coldstart/ctr_run';
import { type FloorVm, floorVm } from '../../bench_coldstart/floor_vm';
import { runPhases } from '../../bench_coldstart/phases';
import { readTimings } from '../../bench_coldstart/timings_file';
import { cellConfigProblem, writeCellConfig } from './cell_runtime_config';
import type { ColdstartArgs } from './coldstart_args';
import { runDensity } from './density';
import { BENCH_IMAGES } from './images';
import { type Job, planJobs } from './jobs';
import { type Cell, expandMatrix } from './matrix';
import { saveCellConfigs, saveEnv, writeResults } from './output_files';
import { PoolKeeper } from './pool_keeper';
import { TemplateKeeper } from './template_keeper';
import { type Progress, progressBar } from './progress_bar';
import { startContainerd } from './private_containerd';
import { formatResults } from './report';
import { buildResults, type CellOutcome, type RunRecord } from './results';
import { probeHost, skipReason } from './skip_reasons';

const NAMESPACE = 'vfs-bench';

interface Bench {
  readonly containerd: PrivateContainerd;
  readonly timingsDir: string;
  /** Per cell index. */
  readonly configPaths: readonly string[];
  /** K floor VMs per floor job. */
  readonly floors: ReadonlyMap<string, readonly FloorVm[]>;
  readonly pool: PoolKeeper;
  readonly templates: TemplateKeeper;
}

function burst<T>(k: number, run: (slot: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: k }, (_, slot) => run(slot)));
}

async function measureJob(bench: Bench, job: Job, jobIndex: number, round: number): Promise<RunRecord[]> {
  const k = job.cell.config.concurrency;
  if (job.kind === 'floor') {
    const floors = bench.floors.get(job.key) ?? [];
    return burst(k, async (slot) => ({ kind: 'floor', round, slot, ms: (await (floors[slot] as FloorVm).run()).ms }));
  }
  const config = job.kind === 'vfs' ? bench.configPaths[job.cells[0] as number] : undefined;
  const runtime = job.kind === 'vfs' ? VFS_RUNTIME : RUNC_RUNTIME;
  const image = BENCH_IMAGES[job.cell.config.image];
  return burst(k, async (slot) => {
    const id = `cs-${jobIndex}-${round}-${slot}`;
    const run = await timeCtrRun(bench.containerd, NAMESPACE, runtime, image.ref, id, config, image.command);
    if (job.kind !== 'vfs') return { kind: job.kind, round, slot, ms: run.ms };
    const timings = await readTimings(bench.timingsDir, id);
    bench.pool.checkWarm(job, id, timings);
    bench.templates.checkResumed(job, id, timings);
    const { phases, details } = runPhases(run, timings);
    return { kind: 'vfs', round, slot, ms: run.ms, phases, details };
  });
}

async function runRounds(bench: Bench, args: ColdstartArgs, jobs: readonly Job[], runs: RunRecord[][]): Promise<void> {
  const bar: Progress = progressBar((args.warmup + args.runs) * jobs.length);
  try {
    for (let round = 0; round < args.warmup + args.runs; round++) {
      const measured = round >= args.warmup;
      for (const job of roundOrder(jobs, round)) {
        await bench.templates.before(job);
        await bench.pool.before(job);
        const records = await measureJob(bench, job, jobs.indexOf(job), round);
        await bench.pool.after(job);
        if (measured) for (const index of job.cells) runs[index]?.push(...records);
        bar.step(
          `${roundName(round, args.warmup, args.runs)}: ${job.key} ${median(records.map((r) => r.ms)).toFixed(0)} ms`,
        );
      }
    }
  } finally {
    bar.stop();
  }
}

async function startFloors(scope: BenchScope, jobs: readonly Job[]): Promise<Map<string, FloorVm[]>> {
  const floors = new Map<string, FloorVm[]>();
  for (const job of jobs.filter((j) => j.kind === 'floor')) {
    const { machine, memory_mib, vcpus, concurrency } = job.cell.config;
    const vms: FloorVm[] = [];
    for (let slot = 0; slot < concurrency; slot++) {
      const vm = await floorVm(scope.work, { machine, memory_mib, vcpus });
      scope.defer(`stop the floor VM ${job.key} #${slot}`, () => vm.stop());
      vms.push(vm);
    }
    floors.set(job.key, vms);
  }
  return floors;
}

function vfsRuntimePath(): string {
  return join(installRoot(), 'build', 'bin', 'vfs-runtime');
}

async function measureCells(scope: BenchScope, args: ColdstartArgs, cells: readonly Cell[]): Promise<CellOutcome[]> {
  const base = loadRuntimeConfig({ root: installRoot() }).config;
  const host = probeHost(
    base.hypervisor.path,
    vfsRuntimePath(),
    cells.map((c) => c.config),
  );
  const skipped = cells.map((cell) => cellConfigProblem(base, cell.config) ?? skipReason(cell.config, host));
  const runnable = cells.flatMap((_, i) => (skipped[i] === undefined ? [i] : []));
  const configDir = join(scope.work, 'configs');
  mkdirSync(configDir);
  const configPaths = cells.map((cell, i) => writeCellConfig(configDir, i, base, cell.config));
  saveCellConfigs(args.outDir, configPaths);
  const runs: RunRecord[][] = cells.map(() => []);
  if (runnable.length > 0) {
    const timingsDir = join(scope.work, 'timings');
    mkdirSync(timingsDir);
    const images = runnable.map((i) => (cells[i] as Cell).config.image);
    progress(
      `vfs-bench coldstart: ${cells.length} cells (${runnable.length} to run), a private containerd, the offline images (${[...new Set(images)].join(', ')})`,
    );
    const containerd = await startContainerd(scope, NAMESPACE, images, { [TIMINGS_DIR_ENV]: timingsDir });
    const jobs = planJobs(cells, runnable);
    const floors = await startFloors(scope, jobs);
    const pool = new PoolKeeper(scope, containerd, cells, configPaths);
    const templates = new TemplateKeeper(scope, containerd, configPaths);
    await runRounds({ containerd, timingsDir, configPaths, floors, pool, templates }, args, jobs, runs);
    await pool.stop();
  }
  return cells.map((cell, i) => ({ cell, skipped: skipped[i], runs: runs[i] ?? [] }));
}

export async function coldstart(scope: BenchScope, args: ColdstartArgs): Promise<void> {
  saveEnv(args.outDir, vfsRuntimePath());
  const cells = expandMatrix(args.matrix);
  if (args.density) {
    const cell = cells[0] as Cell;
    const base = loadRuntimeConfig({ root: installRoot() }).config;
    const skipped =
      cellConfigProblem(base, cell.config) ??
      skipReason(cell.config, probeHost(base.hypervisor.path, vfsRuntimePath(), [cell.config]));
    if (skipped !== undefined) throw new Error(`--density: the cell ${cell.name} cannot run: ${skipped}`);
    // A pool's idle VMs belong to no sandbox: --density counts the sandboxes' own memory.
    if (cell.config.pool) throw new Error('--density measures sandboxes without a warm pool: use --pool off');
    await runDensity(scope, args, cell);
    return;
  }
  const outcomes = await measureCells(scope, args, cells);
  const results = buildResults(args.runs, outcomes);
  process.stdout.write(formatResults(results));
  await writeResults(args.outDir, results, outcomes);
  progress(`vfs-bench coldstart: results in ${args.outDir} (results.json, results.csv, cdf.svg, phases.svg, env.toml)`);
}
