// The three daemons under test as child processes: started with the same export options, measured
// from /proc (CPU time of every thread; peak RSS, RSS and PSS of the whole process tree), stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { processTree, processTreeCpuNs } from '../bench_common/process_cpu';
import { processTreeMemory, type TreeMemory } from '../bench_common/process_memory';
import { nodeCommand, shippedNode } from '../bench_common/our_daemon_node';

export const DAEMON_KINDS = ['ours', 'c', 'rust'] as const;
export type DaemonKind = (typeof DAEMON_KINDS)[number];

/** Export options both daemons get, in the `-o` spelling they share. */
const COMMON_OPTIONS = ['cache=auto', 'no_posix_lock', 'no_flock', 'no_xattr', 'readdirplus', 'no_writeback'];

/** Memory of a daemon's process tree, in KiB. */
export interface DaemonMemory extends TreeMemory {
  readonly peakRssKib: number;
}

export interface DaemonPaths {
  /** The bundled vfs-virtiofsd (run with this Node). */
  readonly ours: string;
  /** QEMU's C virtiofsd. */
  readonly c: string;
  /** The Rust virtiofsd 1.13 (@vfs/harness/rust_virtiofsd). */
  readonly rust: string;
}

export interface DaemonLaunch {
  readonly kind: DaemonKind;
  readonly socketPath: string;
  readonly sharedDir: string;
  /** stdout and stderr go to this file (a pipe could fill while the benchmark blocks). */
  readonly logPath: string;
  /** Node flags for our daemon beyond its shebang's (--cpu-prof). */
  readonly nodeFlags?: readonly string[];
  /** More arguments for our daemon. */
  readonly extraArgs?: readonly string[];
}

function commandFor(paths: DaemonPaths, l: DaemonLaunch): { file: string; args: string[] } {
  const opts = COMMON_OPTIONS.flatMap((o) => ['-o', o]);
  if (l.kind === 'ours') {
    const [file, node] = nodeCommand(paths.ours, shippedNode(paths.ours), l.nodeFlags);
    return {
      file,
      args: [
        ...node,
        `--socket-path=${l.socketPath}`,
        '-o',
        `source=${l.sharedDir}`,
        ...opts,
        '--log-level=error',
        ...(l.extraArgs ?? []),
      ],
    };
  }
  // The same options in the Rust spelling; it has no lock support (ENOSYS), and no xattrs,
  // readdirplus on and writeback off are its defaults. Its thread pool is off by default.
  if (l.kind === 'rust') {
    return {
      file: paths.rust,
      args: [`--socket-path=${l.socketPath}`, `--shared-dir=${l.sharedDir}`, '--cache=auto', '--sandbox=chroot'],
    };
  }
  // --thread-pool-size=0: requests are served inline by each queue's thread, as ours are.
  return {
    file: paths.c,
    args: [
      `--socket-path=${l.socketPath}`,
      '-o',
      `source=${l.sharedDir}`,
      ...opts,
      '-o',
      'sandbox=chroot',
      '--thread-pool-size=0',
    ],
  };
}

export class Daemon {
  private exitCode: number | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    readonly kind: DaemonKind,
    private readonly child: ChildProcess,
    readonly pid: number,
    readonly logPath: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal !== null ? 128 : 0);
        resolve();
      });
    });
  }

  static start(paths: DaemonPaths, launch: DaemonLaunch): Daemon {
    const { file, args } = commandFor(paths, launch);
    const log = openSync(launch.logPath, 'a');
    try {
      const child = spawn(file, args, { stdio: ['ignore', log, log] });
      if (child.pid === undefined) throw new Error(`cannot start ${file}`);
      return new Daemon(launch.kind, child, child.pid, launch.logPath);
    } finally {
      closeSync(log);
    }
  }

  get running(): boolean {
    return this.exitCode === null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * CPU time of every thread of the daemon's process tree, in ns (schedstat): under
   * --sandbox=namespace ours runs as the child of unshare.
   */
  cpuNs(): number {
    return processTreeCpuNs(this.pid);
  }

  /** Peak RSS (VmHWM), RSS and PSS now, each summed over the daemon and its descendants. */
  memory(): DaemonMemory {
    let peakRssKib = 0;
    for (const pid of processTree(this.pid)) {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readText(`/proc/${pid}/status`));
      if (m !== null) peakRssKib += Number(m[1]);
    }
    return { peakRssKib, ...processTreeMemory(this.pid) };
  }

  /** The tail of the daemon's log, for error messages. */
  logTail(lines = 20): string {
    return readText(this.logPath).split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return this.exited;
    signalPid(this.pid, 'SIGTERM');
    const timer = setTimeout(() => signalPid(this.pid, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Synchronous last resort (process exit handler): SIGKILL by PID. */
  kill(): void {
    if (this.running) signalPid(this.pid, 'SIGKILL');
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}
