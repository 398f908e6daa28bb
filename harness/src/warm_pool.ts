// A warm pool service (`vfs-runtime pool serve`) for tests and benchmarks: started on a run dir
// (a PrivateContainerd's, so its shims find the pool), asked for its status, stopped by pid.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { PoolClient, poolSocket, type PoolStatus } from '@vfs/contracts';
import { bundleCli } from './bundles';
import { waitFor } from './process';

export class WarmPoolService {
  private readonly exit: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly runDir: string,
    readonly logPath: string,
  ) {
    this.exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts `vfs-runtime pool serve --size N` and waits until its socket answers. */
  static async start(
    runDir: string,
    size: number,
    logPath: string,
    env: NodeJS.ProcessEnv = {},
  ): Promise<WarmPoolService> {
    const cli = bundleCli();
    const log = openSync(logPath, 'a');
    const child = spawn(cli, ['pool', 'serve', '--size', String(size)], {
      env: { ...process.env, ...env, VFS_RUN_DIR: runDir },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const service = new WarmPoolService(child, runDir, logPath);
    await waitFor(
      'the pool socket',
      () =>
        service.status().then(
          () => true,
          () => undefined,
        ),
      30_000,
    );
    return service;
  }

  get pid(): number {
    return this.child.pid as number;
  }

  async status(): Promise<PoolStatus> {
    const client = await PoolClient.connect(poolSocket(this.runDir));
    try {
      return await client.status();
    } finally {
      client.close();
    }
  }

  /** Waits until `count` VMs are ready; returns their ids. */
  async ready(count: number, timeoutMs = 120_000): Promise<string[]> {
    return waitFor(
      `${count} ready pool VMs (log ${this.logPath})`,
      async () => {
        const ids = (await this.status()).vms.filter((vm) => vm.state === 'ready').map((vm) => vm.id);
        return ids.length >= count ? ids : undefined;
      },
      timeoutMs,
    );
  }

  log(): string {
    return readFileSync(this.logPath, 'utf8');
  }

  /** SIGTERM, as an operator stops it; resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exit;
  }
}
