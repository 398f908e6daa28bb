// The daemon under fuzzing as a child process in its own process group (under the default
// --sandbox=namespace the pid started is unshare, whose child is the daemon): how it exited, what
// it holds (RSS and fds of the whole process tree, from /proc), and a stop by process group.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { nodeCommand, shippedNode } from '../bench_common/our_daemon_node';
import { processTree } from '../bench_common/process_cpu';

export interface DaemonLaunch {
  /** The bundled vfs-virtiofsd. */
  readonly script: string;
  readonly socketPath: string;
  readonly sharedDir: string;
  /** stdout and stderr are appended here. */
  readonly logPath: string;
  readonly extraArgs: readonly string[];
}

export interface DaemonUsage {
  readonly rssKib: number;
  readonly fds: number;
}

export class FuzzDaemon {
  /** 'code N' or 'signal SIGxxx' once it exited. */
  exit: string | null = null;
  /** How much of the log newLog() has returned. */
  private logRead: number;

  private constructor(
    child: ChildProcess,
    readonly pid: number,
    private readonly logPath: string,
  ) {
    this.logRead = statSync(logPath).size;
    child.once('exit', (code, signal) => {
      this.exit = signal !== null ? `signal ${signal}` : `code ${code}`;
    });
  }

  static start(l: DaemonLaunch): FuzzDaemon {
    const args = [
      `--socket-path=${l.socketPath}`,
      `--shared-dir=${l.sharedDir}`,
      '--xattr',
      '--log-level=error',
      ...l.extraArgs,
    ];
    const log = openSync(l.logPath, 'a');
    try {
      // With the daemon's own Node flags (its shebang's), which its code cache was made with.
      const [command, node] = nodeCommand(l.script, shippedNode(l.script));
      const child = spawn(command, [...node, ...args], { stdio: ['ignore', log, log], detached: true });
      if (child.pid === undefined) throw new Error(`cannot start ${l.script}`);
      return new FuzzDaemon(child, child.pid, l.logPath);
    } finally {
      closeSync(log);
    }
  }

  /** Not exited, judged from /proc (the exit event may not have been delivered yet). */
  get alive(): boolean {
    if (this.exit !== null) return false;
    const stat = readText(`/proc/${this.pid}/stat`);
    return stat !== '' && !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  }

  /** Resident memory and open fds summed over the daemon's process tree. */
  usage(): DaemonUsage {
    let rssKib = 0;
    let fds = 0;
    for (const pid of processTree(this.pid)) {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readText(`/proc/${pid}/status`));
      if (m !== null) rssKib += Number(m[1]);
      try {
        fds += readdirSync(`/proc/${pid}/fd`).length;
      } catch {
        // Exited meanwhile.
      }
    }
    return { rssKib, fds };
  }

  /** What the daemon logged since the last call. */
  newLog(): string {
    const size = statSync(this.logPath).size;
    if (size <= this.logRead) return '';
    const fd = openSync(this.logPath, 'r');
    try {
      const buf = Buffer.alloc(size - this.logRead);
      const n = readSync(fd, buf, 0, buf.length, this.logRead);
      this.logRead += n;
      return buf.toString('utf8', 0, n);
    } finally {
      closeSync(fd);
    }
  }

  logTail(lines = 15): string {
    return readText(this.logPath).trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Waits up to `ms` for the exit event (it needs the event loop); returns the exit or null. */
  async waitExit(ms: number): Promise<string | null> {
    const deadline = Date.now() + ms;
    while (this.exit === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.exit;
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once it is gone. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.exit !== null) return;
    signalGroup(this.pid, 'SIGTERM');
    if ((await this.waitExit(graceMs)) === null) {
      signalGroup(this.pid, 'SIGKILL');
      await this.waitExit(5000);
    }
  }

  /** Synchronous last resort (exit handler). */
  kill(): void {
    if (this.exit === null) signalGroup(this.pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
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
