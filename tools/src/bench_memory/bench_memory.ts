// `make bench-memory`: the host memory of idle sandboxes through the real stack (a private
// containerd 1.6, ctr, our shim, QEMU under TCG): N sandboxes (`ctr run -d … sleep`) are started,
// and once every task is RUNNING each one's PSS is read by role (shim, vfs-virtiofsd, QEMU, and of
// QEMU's the TCG code cache: sandbox_memory.ts), with DAX off, with DAX on when the configured QEMU
// can map a DAX window (dax_support.ts), and with runc for reference (its shim and the container).
// Then every vfs sandbox reads the same 64 MiB file from a read-only bind mount and the host's
// memory growth is measured (shared_read.ts says how, without dropping the host's caches).
// --runtime share,pmem adds a DAX-off cell per further guest runtime ([agent] runtime), --machine
// sets every vfs cell's machine (runtime pmem needs q35) and --qemu its QEMU (DAX needs ours).
// --template saves a VM template with the DAX-off cell's configuration first, and every vfs
// sandbox resumes it instead of booting (DAX on is then not measured: a template has none).
//
// JSON (--json FILE): for one sandbox count, the report object of report.ts; for a list
// (--sandboxes 1,3,10), {"runs": [one report object per count, in order]}. Sandboxes and
// containerd are stopped by PID, mounts and the temp dir removed, at the end and on failure.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_DAX_WINDOW_MIB } from '@vfs/contracts';
import { PrivateContainerd } from '@vfs/harness/containerd';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { type GuestRuntime, guestRuntime, installRoot, loadRuntimeConfig, type VfsConfig } from '@vfs/runtime-config';
import { stringify } from 'smol-toml';
import { type BenchScope, progress, runBench } from '../bench_common/bench_main';
import { RUNC_RUNTIME, VFS_RUNTIME } from '../bench_coldstart/ctr_run';
import { checkDax } from './dax_support';
import { parseMemoryArgs } from './memory_args';
import { buildMemoryReport, type CellMeasure, formatMemoryReport, type MemoryReport } from './report';
import { resumedVms, sandboxesPss } from './sandbox_memory';
import { createTemplate, templateDir, templateRamMib } from './vm_template';
import { NAMESPACE, removeSandboxes, type SandboxSet, startSandboxes } from './sandboxes';
import { sharedReadGrowthMib, writeSharedFile } from './shared_read';

const IMAGE = 'docker.io/library/busybox:vfs-bench';
/** Lets the sandboxes' start-up work (guest boot, agent) finish before their memory is read. */
const SETTLE_MS = 5_000;

function writeConfig(
  dir: string,
  base: VfsConfig,
  runtime: GuestRuntime,
  daxWindowMib: number,
  templatePath?: string,
): string {
  const path = join(dir, `config-${runtime}-dax-${daxWindowMib}.toml`);
  const config = {
    ...base,
    daemon: { ...base.daemon, dax_window_mib: daxWindowMib },
    agent: { ...base.agent, runtime },
    factory:
      templatePath === undefined
        ? base.factory
        : { ...base.factory, enable_template: true, template_path: templatePath },
  };
  writeFileSync(path, stringify(config));
  return path;
}

async function setUp(scope: BenchScope): Promise<PrivateContainerd> {
  const containerd = await PrivateContainerd.start();
  scope.defer('stop containerd', () => containerd.stop());
  scope.explainFailure(() => `containerd log tail:\n${containerd.logTail(15)}`);
  progress(`bench-memory: work dir ${scope.work}, containerd dir ${containerd.dir}`);
  const imported = await containerd.ctr(['images', 'import', buildBusyboxImage(scope.work, IMAGE)], {
    namespace: NAMESPACE,
    timeoutMs: 120_000,
  });
  if (imported.code !== 0) throw new Error(`ctr images import failed: ${imported.stderr}`);
  return containerd;
}

/** Starts `count` sandboxes, reads their PSS, optionally the shared read; removes them. */
async function measureCell(
  containerd: PrivateContainerd,
  set: SandboxSet,
  count: number,
  name: string,
  sharedRead: boolean,
): Promise<CellMeasure> {
  progress(`bench-memory: ${name}: starting ${count} sandbox${count === 1 ? '' : 'es'}`);
  try {
    const ids = await startSandboxes(containerd, set, count, name);
    if (set.template === true && resumedVms(containerd.grpcAddress) !== count)
      throw new Error(`${name}: a sandbox booted instead of resuming the VM template (see the containerd log)`);
    await sleep(SETTLE_MS);
    const sandboxes = sandboxesPss(containerd.grpcAddress);
    if (sandboxes.length !== count) throw new Error(`${name}: ${sandboxes.length} shims for ${count} sandboxes`);
    const growthMib = sharedRead ? await sharedReadGrowthMib(containerd, set.dataDir, ids) : null;
    progress(
      `bench-memory: ${name}: measured${growthMib === null ? '' : `, shared read +${growthMib.toFixed(0)} MiB`}`,
    );
    return { sandboxes, growthMib };
  } finally {
    await removeSandboxes(containerd);
  }
}

async function bench(scope: BenchScope): Promise<void> {
  const args = parseMemoryArgs(process.argv.slice(2));
  const loaded = loadRuntimeConfig({ root: installRoot() }).config;
  const machine = args.machine ?? loaded.hypervisor.machine;
  const path = args.qemu ?? loaded.hypervisor.path;
  const base = { ...loaded, hypervisor: { ...loaded.hypervisor, machine, path } };
  const [runtime = guestRuntime(base), ...otherRuntimes] = args.runtimes ?? [];
  const templatePath = args.template ? templateDir(scope) : undefined;
  const daxOffConfig = writeConfig(scope.work, base, runtime, 0, templatePath);
  const daxWindowMib = base.daemon.dax_window_mib || DEFAULT_DAX_WINDOW_MIB;
  const daxOnConfig = writeConfig(scope.work, base, runtime, daxWindowMib);
  const otherConfigs = otherRuntimes.map((other) => [other, writeConfig(scope.work, base, other, 0)] as const);
  const daxUnavailable = args.template
    ? 'not with --template: a VM template has no DAX window'
    : await checkDax(daxOnConfig);
  if (daxUnavailable !== null) progress(`bench-memory: DAX on is not measured: ${daxUnavailable}`);
  const dataDir = writeSharedFile(join(scope.work, 'data'));
  const containerd = await setUp(scope);
  if (templatePath !== undefined)
    progress(`bench-memory: VM template: ${await createTemplate(scope, daxOffConfig, containerd.runDir)}`);
  const templateMib = templatePath === undefined ? undefined : templateRamMib(templatePath);
  const vfs = (configPath: string, template = false): SandboxSet => ({
    runtime: VFS_RUNTIME,
    configPath,
    image: IMAGE,
    dataDir,
    template,
  });
  const reports: MemoryReport[] = [];
  for (const count of args.sandboxes) {
    const daxOff = await measureCell(containerd, vfs(daxOffConfig, args.template), count, `vfs-dax-off-${count}`, true);
    const daxOn =
      daxUnavailable ?? (await measureCell(containerd, vfs(daxOnConfig), count, `vfs-dax-on-${count}`, true));
    const runcSet = { runtime: RUNC_RUNTIME, image: IMAGE, dataDir };
    const runc = await measureCell(containerd, runcSet, count, `runc-${count}`, false);
    const others: (readonly [GuestRuntime, CellMeasure])[] = [];
    for (const [other, path] of otherConfigs) {
      others.push([other, await measureCell(containerd, vfs(path), count, `vfs-runtime-${other}-${count}`, false)]);
    }
    const report = buildMemoryReport({
      count,
      daxOff,
      daxOn,
      runc,
      machine,
      runtime,
      otherRuntimes: others,
      templateRamMib: templateMib,
    });
    process.stdout.write(formatMemoryReport(report));
    reports.push(report);
  }
  if (args.jsonPath !== undefined) {
    const json = reports.length === 1 ? reports[0] : { runs: reports };
    writeFileSync(args.jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  }
}

runBench('bench-memory', '/tmp/vfs-bench-memory-', bench);
