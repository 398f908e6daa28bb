// The warm pool behind the pool-on cells: `vfs-runtime pool serve` on the private containerd's run
// dir (its shims look for <run>/pool.sock), loading the cell's own configuration.toml through
// VFS_CONFIG, so that its fingerprint is the shims'. A run dir has one pool, so it serves one VM
// shape at a time: started for the first pool-on job of a shape, sized to the largest K among that
// shape's pool-on cells, replaced when a pool-on job of another shape comes. Before every job it is
// full (no boot in flight to overlap the measurement), so a pool-on job measures warm starts, as a
// FaaS platform with a sized pool sees them; after a vfs job it must have handed out exactly K VMs
// (pool on) or none (pool off), and no pool-on sandbox may have booted its own VM (the shim does
// when adopting the pooled one fails), else the benchmark fails with the pool's state or the
// shim's reason rather than report cold starts as warm. The shims of a pool-off cell would take its
// VMs when their fingerprint is the pool's, template on or off (poolTakers): the pool is stopped
// before such a job. Its boots are no part of
// any run: reported apart. Its idle VMs stay up through the other jobs, as a FaaS host's would.

import { join } from 'node:path';
import type { PrivateContainerd } from '@vfs/harness/containerd';
import { fileTailOrError, type SandboxTimings } from '@vfs/shim/vm';
import { WarmPoolService } from '@vfs/harness/warm_pool';
import { type BenchScope, progress } from '../../bench_common/bench_main';
import { median } from '../../bench_common/stats';
import type { Job } from './jobs';
import type { Cell, CellConfig } from './matrix';

/**
 * The settings the shims' pool fingerprint covers: a shim takes the pool's VMs whenever these are
 * the pool's, in a pool-off cell too. Not `template`: a pooled VM serves a shim resumed or booted.
 */
export function poolTakers(c: CellConfig): string {
  return `${c.machine} ${c.memory_mib}M ${c.vcpus}cpu cache=${c.cache} ${c.dax ? 'dax' : 'nodax'}`;
}

/**
 * What shapes the pool's VMs: equal shapes get equal configuration files. A pool of a template-on
 * cell resumes its VMs from the template, whose first container costs more under TCG than a
 * booted VM's: another shape, though its VMs go to the same shims.
 */
export function vmShape(c: CellConfig): string {
  return `${poolTakers(c)}${c.template ? ' template' : ''}`;
}

/** The size of the pool serving `shape`: the largest K among its pool-on cells. */
export function poolSize(cells: readonly Cell[], shape: string): number {
  const ks = cells.filter((c) => c.config.pool && vmShape(c.config) === shape).map((c) => c.config.concurrency);
  return Math.max(0, ...ks);
}

/** The boots the pool's log reports ('pool VM ready' lines), in ms. */
export function poolBootsMs(log: string): number[] {
  const boots: number[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('"pool VM ready"')) continue;
    try {
      const bootMs: unknown = JSON.parse(line).bootMs;
      if (typeof bootMs === 'number') boots.push(bootMs);
    } catch {
      // Not a log line of the pool's (QEMU or Node noise on stderr).
    }
  }
  return boots;
}

interface Serving {
  readonly shape: string;
  /** poolTakers of the cells it was started for. */
  readonly takers: string;
  readonly size: number;
  readonly service: WarmPoolService;
  /** handedOut before the current job. */
  handedOut: number;
}

export class PoolKeeper {
  private serving: Serving | undefined;
  private started = 0;

  constructor(
    private readonly scope: BenchScope,
    private readonly containerd: PrivateContainerd,
    private readonly cells: readonly Cell[],
    /** Per cell index: the configuration.toml its shims load. */
    private readonly configPaths: readonly string[],
  ) {}

  /** Readies the pool a job needs (or stops one that would serve a pool-off cell). */
  async before(job: Job): Promise<void> {
    const config = job.cell.config;
    if (job.kind === 'vfs' && config.pool && this.serving?.shape !== vmShape(config))
      await this.start(config, this.configPaths[job.cells[0] as number] as string);
    else if (job.kind === 'vfs' && !config.pool && this.serving?.takers === poolTakers(config)) await this.stop();
    if (this.serving === undefined) return;
    await this.full(this.serving);
    this.serving.handedOut = (await this.serving.service.status()).handedOut;
  }

  /** Checks that a vfs job's sandboxes took pooled VMs exactly when the cell asks for the pool. */
  async after(job: Job): Promise<void> {
    const serving = this.serving;
    if (job.kind !== 'vfs' || serving === undefined) return;
    const status = await serving.service.status();
    const taken = status.handedOut - serving.handedOut;
    const want = job.cell.config.pool ? job.cell.config.concurrency : 0;
    if (taken === want) return;
    throw new Error(
      `cell ${job.cell.name}: ${taken} of its ${job.cell.config.concurrency} sandboxes took a pooled VM, expected ${want} ` +
        `(pool ${status.fingerprint}: ${status.vms.filter((vm) => vm.state === 'ready').length} ready, ` +
        `${status.bootFailures} boot failures${status.lastError === '' ? '' : `, last: ${status.lastError}`}; ` +
        `log ${serving.service.logPath}; the shims say why in the containerd log ${this.containerd.logPath})`,
    );
  }

  /** A pool-on run whose shim spawned a daemon booted its own VM (adopting the pooled one failed). */
  checkWarm(job: Job, sandboxId: string, timings: SandboxTimings): void {
    if (!job.cell.config.pool || timings.host.daemonSpawned === undefined) return;
    throw new Error(
      `cell ${job.cell.name}: sandbox ${sandboxId} booted its own VM instead of running on the warm pool's ` +
        `(a cold start, not a warm one); its shim said:\n${shimPoolLines(fileTailOrError(this.containerd.logPath, 5000), sandboxId)}`,
    );
  }

  /** Stops the pool (SIGTERM: it stops and removes its unused VMs) and reports its boots. */
  async stop(): Promise<void> {
    const serving = this.serving;
    if (serving === undefined) return;
    this.serving = undefined;
    const code = await serving.service.stop();
    const boots = poolBootsMs(serving.service.log());
    progress(
      `warm pool (${serving.shape}, size ${serving.size}) stopped: ${boots.length} VMs booted, ` +
        `median boot ${boots.length > 0 ? median(boots).toFixed(0) : '—'} ms (not part of any run)`,
    );
    if (code !== 0) throw new Error(`the warm pool exited with ${code}; log ${serving.service.logPath}`);
  }

  private async start(config: CellConfig, configPath: string): Promise<void> {
    await this.stop();
    const shape = vmShape(config);
    const size = poolSize(this.cells, shape);
    const logPath = join(this.scope.work, `pool-${this.started++}.log`);
    const service = await WarmPoolService.start(this.containerd.runDir, size, logPath, { VFS_CONFIG: configPath });
    this.scope.defer(`stop the warm pool (pid ${service.pid})`, () => service.stop());
    this.scope.explainFailure(() => `warm pool log tail (${logPath}):\n${fileTailOrError(logPath, 15)}`);
    this.serving = { shape, takers: poolTakers(config), size, service, handedOut: 0 };
    const began = Date.now();
    await this.full(this.serving);
    const seconds = ((Date.now() - began) / 1000).toFixed(1);
    progress(`warm pool (pid ${service.pid}, ${shape}): ${size} VMs ready in ${seconds} s`);
  }

  /** Under TCG a boot takes seconds and the pool boots one at a time, on a shared CPU. */
  private async full(serving: Serving): Promise<void> {
    await serving.service.ready(serving.size, 120_000 + 60_000 * serving.size);
  }
}

/** The shim's log lines about the pool for one sandbox (the shims log to containerd's log). */
export function shimPoolLines(containerdLog: string, sandboxId: string): string {
  const lines = containerdLog
    .split('\n')
    .filter((line) => line.includes(`"sandbox":"${sandboxId}"`) && /pool/i.test(line))
    .map((line) => line.slice(0, 1500));
  return lines.length > 0 ? lines.join('\n') : '(nothing about the pool in the containerd log)';
}
