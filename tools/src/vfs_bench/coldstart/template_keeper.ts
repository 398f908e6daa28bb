// The VM templates behind the template-on cells: before a cell's first vfs job, `vfs-runtime
// template create` saves one with the cell's own configuration.toml (its template_path is the
// cell's, cell_runtime_config.ts), so that every run of the cell resumes it. Its creation is no part
// of any run: reported apart. A template-on run whose shim booted instead of resuming fails the
// benchmark with the shim's reason rather than report a boot as a resume. Removed at the end.

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { type SandboxTimings, fileTailOrError } from '@vfs/shim/vm';
import { bundleCli } from '@vfs/harness/bundles';
import type { PrivateContainerd } from '@vfs/harness/containerd';
import { type BenchScope, progress } from '../../bench_common/bench_main';
import { BENCH_TEMPLATE_ROOT } from './cell_runtime_config';
import type { Job } from './jobs';

const CREATE_TIMEOUT_MS = 300_000;

function runCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bundleCli(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    // SIGTERM: template create stops its QEMU and removes what it saved so far.
    const timer = setTimeout(() => child.kill('SIGTERM'), CREATE_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`vfs-runtime ${args.join(' ')}: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`vfs-runtime ${args.join(' ')} exited ${code}: ${err.trim().slice(-2000)}`));
    });
  });
}

export class TemplateKeeper {
  private readonly created = new Set<number>();

  constructor(
    scope: BenchScope,
    private readonly containerd: PrivateContainerd,
    /** Per cell index: the configuration.toml its shims load. */
    private readonly configPaths: readonly string[],
  ) {
    scope.defer('remove the VM templates', async () => rmSync(BENCH_TEMPLATE_ROOT, { recursive: true, force: true }));
  }

  /** Saves the template of a template-on cell before its first vfs job. */
  async before(job: Job): Promise<void> {
    if (job.kind !== 'vfs' || !job.cell.config.template) return;
    const index = job.cells[0] as number;
    if (this.created.has(index)) return;
    const env = { ...process.env, VFS_CONFIG: this.configPaths[index], VFS_RUN_DIR: this.containerd.runDir };
    progress(`VM template (${job.cell.name}): ${await runCli(['template', 'create'], env)}`);
    this.created.add(index);
  }

  /**
   * A template-on run must have resumed the template: its shim copied it. A pool-on one takes a
   * pooled VM instead (pool_keeper.ts checks that it did), which the pool resumed from the template
   * saved before it started (`before` runs ahead of the pool's); that is not checked per run.
   */
  checkResumed(job: Job, sandboxId: string, timings: SandboxTimings): void {
    const { template, pool } = job.cell.config;
    if (!template || pool || timings.host.templateCopied !== undefined) return;
    const said = fileTailOrError(this.containerd.logPath, 5000)
      .split('\n')
      .filter((line) => line.includes(`"sandbox":"${sandboxId}"`) && /template/i.test(line))
      .join('\n');
    throw new Error(
      `cell ${job.cell.name}: sandbox ${sandboxId} booted instead of resuming its VM template; its shim said:\n${said || '(nothing about the template)'}`,
    );
  }
}
