// `vfs-bench coldstart --density`: starts idle sandboxes (`ctr run -d … sleep`) with vfs, in the
// first cell's configuration, until their processes' PSS reaches the memory budget (or
// --max-sandboxes, or the host runs low), then as many with runc; reports sandboxes per GiB and
// PSS per sandbox by role (pss.ts), side by side, in density.json and a table.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PrivateContainerd } from '@vfs/harness/containerd';
import { shimPidsServing } from '@vfs/harness/host_leftovers';
import { installRoot, loadRuntimeConfig } from '@vfs/runtime-config';
import { type BenchScope, progress } from '../../bench_common/bench_main';
import { renderTable, round1 } from '../../bench_common/format';
import { RUNC_RUNTIME, VFS_RUNTIME } from '../../bench_coldstart/ctr_run';
import { writeCellConfig } from './cell_runtime_config';
import type { ColdstartArgs } from './coldstart_args';
import type { Cell } from './matrix';
import { type BenchImage, BENCH_IMAGES } from './images';
import { startContainerd } from './private_containerd';
import { processTree } from '../../bench_common/process_cpu';
import { pssByRole, type Role, ROLES } from './pss';

const NAMESPACE = 'vfs-density';
/** Stop before the host itself runs short, whatever the budget says. */
const MIN_AVAILABLE_MIB = 512;

export interface DensityRow {
  readonly runtime: 'vfs' | 'runc';
  readonly sandboxes: number;
  readonly pss_total_mib: number;
  readonly sandboxes_per_gib: number | null;
  /** Mean PSS per sandbox, MiB. */
  readonly pss_per_sandbox_mib: Readonly<Record<Role | 'total', number>>;
}

function availableMib(): number {
  const match = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return match === null ? Number.POSITIVE_INFINITY : Number(match[1]) / 1024;
}

function measure(containerd: PrivateContainerd): Record<Role, number> {
  return pssByRole(processTree(...shimPidsServing(containerd.grpcAddress)));
}

function sum(pss: Record<Role, number>): number {
  return ROLES.reduce((total, role) => total + pss[role], 0);
}

export function densityRow(runtime: DensityRow['runtime'], sandboxes: number, pss: Record<Role, number>): DensityRow {
  const total = sum(pss);
  const per = (mib: number): number => (sandboxes === 0 ? 0 : round1(mib / sandboxes));
  return {
    runtime,
    sandboxes,
    pss_total_mib: round1(total),
    sandboxes_per_gib: total > 0 ? round1(sandboxes / (total / 1024)) : null,
    pss_per_sandbox_mib: {
      shim: per(pss.shim),
      daemon: per(pss.daemon),
      qemu: per(pss.qemu),
      container: per(pss.container),
      total: per(total),
    },
  };
}

interface Fill {
  readonly runtime: DensityRow['runtime'];
  readonly image: BenchImage;
  readonly configPath?: string;
  /** Stop when the sandboxes' PSS reaches it, MiB. */
  readonly budgetMib: number;
  readonly maxSandboxes: number;
}

async function fill(containerd: PrivateContainerd, plan: Fill): Promise<DensityRow> {
  const config = plan.configPath === undefined ? [] : ['--runtime-config-path', plan.configPath];
  const runtime = plan.runtime === 'vfs' ? VFS_RUNTIME : RUNC_RUNTIME;
  let pss = measure(containerd);
  let count = 0;
  while (count < plan.maxSandboxes && sum(pss) < plan.budgetMib && availableMib() > MIN_AVAILABLE_MIB) {
    const id = `dens-${plan.runtime}-${count}`;
    const started = await containerd.ctr(
      ['run', '-d', '--runtime', runtime, ...config, plan.image.ref, id, ...plan.image.idle],
      {
        namespace: NAMESPACE,
        timeoutMs: 180_000,
      },
    );
    if (started.code !== 0) throw new Error(`ctr run -d ${id} failed: ${`${started.stderr}${started.stdout}`.trim()}`);
    count++;
    pss = measure(containerd);
    progress(`density: ${plan.runtime} ${count} sandboxes, PSS ${sum(pss).toFixed(0)} MiB`);
  }
  return densityRow(plan.runtime, count, pss);
}

async function removeAll(containerd: PrivateContainerd): Promise<void> {
  const listed = await containerd.ctr(['containers', 'ls', '-q'], { namespace: NAMESPACE, timeoutMs: 30_000 });
  for (const id of listed.stdout.split('\n').filter((line) => line !== '')) {
    await containerd.ctr(['task', 'rm', '-f', id], { namespace: NAMESPACE, timeoutMs: 60_000 });
    await containerd.ctr(['containers', 'rm', id], { namespace: NAMESPACE, timeoutMs: 30_000 });
  }
}

export function formatDensity(rows: readonly DensityRow[], budgetMib: number): string {
  const table = [
    ['', 'sandboxes', 'per GiB', 'PSS/sandbox MiB', 'shim', 'daemon', 'QEMU', 'container'],
    ...rows.map((r) => [
      r.runtime,
      String(r.sandboxes),
      r.sandboxes_per_gib === null ? '—' : r.sandboxes_per_gib.toFixed(1),
      r.pss_per_sandbox_mib.total.toFixed(1),
      r.pss_per_sandbox_mib.shim.toFixed(1),
      r.pss_per_sandbox_mib.daemon.toFixed(1),
      r.pss_per_sandbox_mib.qemu.toFixed(1),
      r.pss_per_sandbox_mib.container.toFixed(1),
    ]),
  ];
  return `density: idle sandboxes until ${budgetMib} MiB of PSS (runc: as many as vfs)\n${renderTable(table).join('\n')}\n`;
}

export async function runDensity(scope: BenchScope, args: ColdstartArgs, cell: Cell): Promise<void> {
  const base = loadRuntimeConfig({ root: installRoot() }).config;
  const configPath = writeCellConfig(scope.work, 0, base, cell.config);
  progress(`vfs-bench coldstart --density: cell ${cell.name}, budget ${args.budgetMib} MiB`);
  const containerd = await startContainerd(scope, NAMESPACE, [cell.config.image]);
  const image = BENCH_IMAGES[cell.config.image];
  const vfs = await fill(containerd, {
    runtime: 'vfs',
    image,
    configPath,
    budgetMib: args.budgetMib,
    maxSandboxes: args.maxSandboxes,
  });
  await removeAll(containerd);
  const runc = await fill(containerd, {
    runtime: 'runc',
    image,
    budgetMib: Number.POSITIVE_INFINITY,
    maxSandboxes: Math.max(1, vfs.sandboxes),
  });
  await removeAll(containerd);
  const rows = [vfs, runc];
  process.stdout.write(formatDensity(rows, args.budgetMib));
  writeFileSync(
    join(args.outDir, 'density.json'),
    `${JSON.stringify({ cell: cell.name, config: cell.config, budget_mib: args.budgetMib, runtimes: rows }, null, 2)}\n`,
  );
}
