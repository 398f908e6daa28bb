// bench-guest --trace: `perf record` of a daemon's system calls and context switches while the
// guest's workload runs (tracepoints, so every call is seen, not a sample), and the recording read
// back into request cycles (request_cycles.ts). It starts at the workload's first console line,
// over every process and thread the daemon has then: the C daemon forks its sandboxed server only
// once the front end connects, and `perf record -p` follows only what the listed processes start
// after it attached. Their eventfds are noted then too: a daemon that exits with its front end has
// closed them by the end.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '@vfs/harness/repo';
import { processTree } from '../bench_common/process_cpu';
import { addCycles, emptyCycles, parseTraceLine, type RequestCycles, type TraceEvent } from './request_cycles';

const EVENTS = 'raw_syscalls:sys_enter,raw_syscalls:sys_exit,sched:sched_switch';
/** perf's ring buffer per CPU, in pages: a daemon makes ≈ 10 k calls a second under TCG. */
const MMAP_PAGES = '1024';
const STOP_WAIT_MS = 10_000;

export interface DaemonTrace {
  /** Ends the recording; its file stays for read(). */
  stop(): Promise<void>;
  /** SIGKILL to perf if it still runs (a clean-up's last resort). */
  kill(): void;
  /** The recording's request cycles (after stop()). */
  read(): Promise<RequestCycles>;
}

/** Installs perf when it is missing, and fails with the cause when it cannot trace here, before any boot. */
export function ensurePerf(): void {
  // request_cycles.ts knows the system call numbers of x86_64 only.
  if (process.arch !== 'x64') throw new Error(`--trace: x86_64 hosts only, not ${process.arch}`);
  // Its progress goes to stderr: stdout carries only the tables.
  execFileSync('bash', [join(REPO_ROOT, 'scripts', 'ensure-apt.sh'), 'linux-perf'], { stdio: ['ignore', 2, 2] });
  const list = execFileSync('perf', ['list', 'tracepoint'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const missing = EVENTS.split(',').filter((event) => !list.includes(event));
  if (missing.length > 0)
    throw new Error(`--trace: perf lists no tracepoint ${missing.join(', ')} (is tracefs mounted?)`);
}

function eventfdsOf(pid: number): number[] {
  const fds: number[] = [];
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return fds; // Gone.
  }
  for (const name of names) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${name}`) === 'anon_inode:[eventfd]') fds.push(Number(name));
    } catch {
      // Closed since the listing.
    }
  }
  return fds;
}

/**
 * Starts `perf record` on the daemon rooted at `root`: all its processes and threads, and those they
 * start. perf takes a few hundred ms to attach, and what runs before is not recorded.
 */
export function startDaemonTrace(root: number, dataFile: string): DaemonTrace {
  const pids = processTree(root);
  const eventfds = new Set<string>();
  for (const pid of pids) for (const fd of eventfdsOf(pid)) eventfds.add(`${pid}:${fd}`);
  const perf: ChildProcess = spawn(
    'perf',
    ['record', '-q', '-e', EVENTS, '-m', MMAP_PAGES, '-p', pids.join(','), '-o', dataFile],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  perf.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // 'error' alone when perf cannot be started at all.
  const exited = new Promise<void>((resolve) => {
    perf.once('exit', () => resolve());
    perf.once('error', (err) => {
      stderr += `${err.message}\n`;
      resolve();
    });
  });
  let running = true;
  void exited.then(() => {
    running = false;
  });
  return {
    async stop(): Promise<void> {
      if (!running) return;
      perf.kill('SIGINT');
      const timer = setTimeout(() => perf.kill('SIGKILL'), STOP_WAIT_MS);
      await exited;
      clearTimeout(timer);
    },
    kill(): void {
      if (running) perf.kill('SIGKILL');
    },
    async read(): Promise<RequestCycles> {
      if (eventfds.size === 0) throw new Error(`--trace: no eventfd seen in the daemon's processes ${pids.join(',')}`);
      // Streamed: a long run's text outgrows a string.
      const script = spawn('perf', ['script', '-i', dataFile, '-F', 'pid,tid,time,event,trace'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const done = new Promise<number | null>((resolve, reject) => {
        script.once('error', reject);
        script.once('close', (code) => resolve(code));
      });
      const events: TraceEvent[] = [];
      for await (const line of createInterface({ input: script.stdout })) {
        const e = parseTraceLine(line);
        if (e !== null) events.push(e);
      }
      const code = await done;
      if (code !== 0 || events.length === 0)
        throw new Error(`--trace: perf script -i ${dataFile} gave ${events.length} events (exit ${code})\n${stderr}`);
      const cycles = emptyCycles();
      addCycles(events, (pid, fd) => eventfds.has(`${pid}:${fd}`), cycles);
      return cycles;
    },
  };
}
