// The sandbox's vfs-virtiofsd: one process serving every share of the sandbox in multi-export
// mode (`--control-socket`, shares are subdirectories of `--shared-dir`). It runs in its own
// session with its stderr (pino JSON lines) in a file, so it outlives neither more nor less than
// the shim decides: `delete` kills it by its recorded pid after a shim crash.

import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlClient, namespaceIds, OUTER_NAMESPACES_ENV, UNSHARE_ARGS } from '@vfs/contracts';
import type { LoadedConfig } from '@vfs/runtime-config';
import type { ShimLogger } from '../logger';
import { SandboxError } from '../sandbox_error';
import { fileTailOrError } from '../vm/console_log';

const CONTROL_READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 2000;

export interface DaemonLaunch {
  readonly binary: string;
  readonly controlSocket: string;
  readonly sharedDir: string;
  readonly stderrPath: string;
  readonly config: LoadedConfig['config']['daemon'];
  readonly log: ShimLogger;
}

export interface RunningDaemon {
  readonly pid: number;
  readonly control: ControlClient;
  /** Resolves with a description once the daemon has exited. */
  readonly exited: Promise<string>;
  stop(): Promise<void>;
  /** SIGKILL at once, for a sandbox being destroyed (its exports' state is discarded); resolves once it exited. */
  kill(): Promise<void>;
}

/** The daemon's command line: multi-export mode, and [daemon]'s settings as its flags. */
export function daemonArgs(launch: Pick<DaemonLaunch, 'controlSocket' | 'sharedDir' | 'config'>): string[] {
  return [
    `--control-socket=${launch.controlSocket}`,
    `--shared-dir=${launch.sharedDir}`,
    `--cache=${launch.config.cache}`,
    `--sandbox=${launch.config.sandbox}`,
    `--thread-pool-size=${launch.config.thread_pool_size}`,
    ...(launch.config.allow_mmap ? ['--allow-mmap'] : []),
    ...(launch.config.posix_acl ? ['--posix-acl'] : []),
    ...launch.config.translate_uid.map((rule) => `--translate-uid=${rule}`),
    ...launch.config.translate_gid.map((rule) => `--translate-gid=${rule}`),
  ];
}

/**
 * --sandbox=namespace: the daemon starts inside its namespaces under unshare (daemon_launch.ts), one
 * Node start instead of the two a self re-exec costs (≈0.2 s here).
 */
function daemonCommand(launch: DaemonLaunch): [string, string[], NodeJS.ProcessEnv] {
  const args = daemonArgs(launch);
  if (launch.config.sandbox !== 'namespace') return [launch.binary, args, process.env];
  const env = { ...process.env, [OUTER_NAMESPACES_ENV]: namespaceIds() };
  return ['unshare', [...UNSHARE_ARGS, '--', launch.binary, ...args], env];
}

function spawnDaemon(launch: DaemonLaunch): Promise<{ pid: number; exited: Promise<string> }> {
  const stderrFd = openSync(launch.stderrPath, 'a');
  return new Promise((resolve, reject) => {
    const [program, args, env] = daemonCommand(launch);
    const child = spawn(program, args, { detached: true, stdio: ['ignore', 'ignore', stderrFd], env });
    child.once('spawn', () => {
      closeSync(stderrFd);
      const exited = new Promise<string>((done) => {
        child.once('exit', (code, signal) =>
          done(`vfs-virtiofsd exited (${signal ?? `code ${code}`}): ${fileTailOrError(launch.stderrPath, 10)}`),
        );
      });
      child.unref();
      resolve({ pid: child.pid as number, exited });
    });
    child.once('error', (err) => {
      closeSync(stderrFd);
      reject(
        new SandboxError(
          'not-installed',
          `cannot start vfs-virtiofsd (${program === launch.binary ? '' : `${program} -- `}${launch.binary}, config daemon.path): ${err.message}`,
        ),
      );
    });
  });
}

/**
 * Signals the daemon's process group (it runs in a session of its own): under
 * --sandbox=namespace the pid we started is util-linux unshare, which holds SIGTERM blocked while
 * it waits for the daemon, its child; its death (SIGKILL) kills the daemon too.
 */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(-pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Whether `exited` has settled, without waiting: a gone daemon's pid may name another process. */
function exitTracker(exited: Promise<unknown>): () => boolean {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  return () => gone;
}

/** SIGTERM to the daemon's process group, SIGKILL after a grace period; resolves once it exited. */
export function daemonStopper(pid: number, exited: Promise<unknown>): () => Promise<void> {
  const gone = exitTracker(exited);
  return async () => {
    if (gone()) return;
    signal(pid, 'SIGTERM');
    const timer = setTimeout(() => signal(pid, 'SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
}

/** SIGKILL to the daemon's process group now; resolves once it exited. */
export function daemonKiller(pid: number, exited: Promise<unknown>): () => Promise<void> {
  const gone = exitTracker(exited);
  return async () => {
    if (!gone()) signal(pid, 'SIGKILL');
    await exited;
  };
}

/** Waits for the control socket of a daemon that is starting; fails at once when it exits. */
export async function connectControl(path: string, exited: Promise<string>): Promise<ControlClient> {
  let gone: string | undefined;
  void exited.then((why) => {
    gone = why;
  });
  const deadline = Date.now() + CONTROL_READY_TIMEOUT_MS;
  for (;;) {
    try {
      return await ControlClient.connect(path);
    } catch (err) {
      if (gone !== undefined) throw new SandboxError('host-failure', gone);
      if (Date.now() > deadline)
        throw SandboxError.wrap(
          err,
          `vfs-virtiofsd control socket ${path} not ready within ${CONTROL_READY_TIMEOUT_MS} ms`,
          'timeout',
        );
      await sleep(20);
    }
  }
}

/** Starts the daemon; `onSpawned` records its pid before anything can fail. */
export async function startDaemon(launch: DaemonLaunch, onSpawned: (pid: number) => void): Promise<RunningDaemon> {
  const { pid, exited } = await spawnDaemon(launch);
  const stop = daemonStopper(pid, exited);
  const kill = daemonKiller(pid, exited);
  onSpawned(pid);
  try {
    const control = await connectControl(launch.controlSocket, exited);
    return { pid, control, exited, stop, kill };
  } catch (err) {
    await stop();
    throw err;
  }
}
