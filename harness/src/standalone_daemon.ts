// vfs-virtiofsd as virtiofsd is run by hand: one shared directory on one vhost-user socket, with
// the default sandbox and seccomp filter, its output in a log file. For e2e tests that boot a guest
// on it directly (GuestVms), without the shim.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './process';
import { REPO_ROOT } from './repo';

export const DAEMON = join(REPO_ROOT, 'build', 'bin', 'vfs-virtiofsd');

const LISTEN_TIMEOUT_MS = 10_000;

export class StandaloneDaemon {
  private constructor(
    /** The process group's leader: sandboxed, it is unshare's, and the daemon is its child. */
    private readonly pid: number,
    readonly socketPath: string,
  ) {}

  /** Starts it on `sharedDir` with `args` (cache mode, DAX window …); resolves once its socket exists. */
  static async start(
    sharedDir: string,
    socketPath: string,
    logPath: string,
    args: readonly string[],
  ): Promise<StandaloneDaemon> {
    const log = openSync(logPath, 'w');
    const child = spawn(DAEMON, [`--socket-path=${socketPath}`, `--shared-dir=${sharedDir}`, ...args], {
      stdio: ['ignore', log, log],
      detached: true,
    });
    closeSync(log);
    if (child.pid === undefined) throw new Error(`cannot start ${DAEMON}`);
    const daemon = new StandaloneDaemon(child.pid, socketPath);
    try {
      await waitFor(`${DAEMON}'s socket ${socketPath}`, () => existsSync(socketPath), LISTEN_TIMEOUT_MS);
    } catch (err) {
      daemon.kill();
      throw err;
    }
    return daemon;
  }

  /** SIGKILL to its whole process group, which may be gone already. */
  kill(): void {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}
