/**
 * Runs one QEMU process. QEMU gets its own session (detached) and files, not pipes, for stdio:
 * the shim daemonizes and may restart, and QEMU must survive both (no SIGPIPE, no terminal
 * signals from the shim's process group). The console goes to a file QEMU writes itself (see
 * qemu_command.ts); QEMU's stderr goes to `stderrLogPath` and its tail explains a failed start.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { fileTailOrError } from './console_log';
import type { QemuExit } from './qemu_exit';

export const DEFAULT_QEMU_BINARY = 'qemu-system-x86_64';

export interface QemuLaunch {
  readonly args: readonly string[];
  readonly binary?: string;
  readonly stderrLogPath: string;
  /** Written with QEMU's PID right after spawn, so a restarted shim can find and kill it. */
  readonly pidFilePath?: string;
  /** Server sockets QEMU creates (QMP, agent port) and the pid file are removed after exit. */
  readonly cleanupPaths?: readonly string[];
  /** Descriptors QEMU inherits as 3, 4, …: a resumed VM's guest RAM (`mem-path=/proc/self/fd/3`). */
  readonly inheritFds?: readonly number[];
}

/** The first descriptor QemuLaunch.inheritFds become in QEMU. */
export const FIRST_INHERITED_FD = 3;

export interface RunningQemu {
  readonly pid: number;
  /** Resolves once QEMU has exited and the cleanup paths are removed. */
  readonly exited: Promise<QemuExit>;
  /** SIGTERM (QEMU exits at once, as on a power cut), then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<QemuExit>;
  /** SIGKILL now; `exited` tells when it is gone. */
  kill(): void;
}

export async function launchQemu(launch: QemuLaunch): Promise<RunningQemu> {
  const binary = launch.binary ?? DEFAULT_QEMU_BINARY;
  const { pid, exited } = await spawnDetached(binary, launch);
  if (launch.pidFilePath !== undefined) writeFileSync(launch.pidFilePath, `${pid}\n`);
  const stop = async (graceMs = 2000): Promise<QemuExit> => {
    signalPid(pid, 'SIGTERM');
    const timer = setTimeout(() => signalPid(pid, 'SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  // Our child's pid names no other process until it is reaped, which `exited` tells at once.
  let reaped = false;
  void exited.then(() => {
    reaped = true;
  });
  const kill = (): void => {
    if (!reaped) signalPid(pid, 'SIGKILL');
  };
  return { pid, exited, stop, kill };
}

/** For a QEMU this process did not spawn (found through its pid file after a shim restart). */
export function killQemuByPid(pid: number, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  return signalPid(pid, signal);
}

function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

function spawnDetached(binary: string, launch: QemuLaunch): Promise<{ pid: number; exited: Promise<QemuExit> }> {
  const stderrFd = openSync(launch.stderrLogPath, 'a');
  return new Promise((resolve, reject) => {
    const stdio: StdioOptions = ['ignore', 'ignore', stderrFd, ...(launch.inheritFds ?? [])];
    const child = spawn(binary, [...launch.args], { detached: true, stdio });
    child.once('spawn', () => {
      closeSync(stderrFd);
      const exited = exitOf(child, launch);
      // The shim's event loop must not wait on QEMU; `exited` still resolves while it runs.
      child.unref();
      resolve({ pid: child.pid as number, exited });
    });
    child.once('error', (err) => {
      closeSync(stderrFd);
      reject(new Error(`cannot start QEMU (${binary}): ${err.message}`));
    });
  });
}

function exitOf(child: ChildProcess, launch: QemuLaunch): Promise<QemuExit> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      for (const path of [
        ...(launch.cleanupPaths ?? []),
        ...(launch.pidFilePath === undefined ? [] : [launch.pidFilePath]),
      ]) {
        rmSync(path, { force: true });
      }
      resolve({ code, signal, stderrTail: fileTailOrError(launch.stderrLogPath, 20) });
    });
  });
}
