// A daemon's request cycles, read from its system calls as `perf script` prints them: each thread
// sleeps in a wait (epoll, ppoll, poll), wakes when a kick arrives, serves, and signals the guest
// by writing 8 bytes to a call eventfd. From wake to signal is the daemon's service time; from
// one signal to the next wake, the guest's turnaround (QEMU and the guest, plus whatever keeps
// the daemon from waking). The same yardstick fits every daemon, whatever its language.
import { rank } from '../bench_common/stats';

/** x86_64 numbers of the calls a daemon waits in, and their names for the report. */
export const WAIT_SYSCALLS: ReadonlyMap<number, string> = new Map([
  [7, 'poll'],
  [23, 'select'],
  [232, 'epoll_wait'],
  [271, 'ppoll'],
  [281, 'epoll_pwait'],
  [441, 'epoll_pwait2'],
]);
const WRITE = 1;
const EVENTFD_WRITE_BYTES = 8;

export type TraceEvent =
  | {
      readonly kind: 'enter';
      readonly pid: number;
      readonly tid: number;
      readonly us: number;
      readonly nr: number;
      readonly args: readonly number[];
    }
  | {
      readonly kind: 'exit';
      readonly pid: number;
      readonly tid: number;
      readonly us: number;
      readonly nr: number;
      readonly ret: number;
    }
  | {
      readonly kind: 'switch-out';
      readonly pid: number;
      readonly tid: number;
      readonly us: number;
      readonly runnable: boolean;
    };

const HEAD = /^\s*(\d+)\/(\d+)\s+(\d+\.\d+):\s+(\S+):\s+(.*)$/;
const ENTER = /^NR (\d+) \(([0-9a-f]+), ([0-9a-f]+), ([0-9a-f]+)/;
const EXIT = /^NR (\d+) = (-?\d+)/;
const SWITCH = /prev_pid=(\d+) .*prev_state=(\S+)/;

/** One line of `perf script -F pid,tid,time,event,trace`; null for anything else. */
export function parseTraceLine(line: string): TraceEvent | null {
  const m = HEAD.exec(line);
  if (m === null) return null;
  const pid = Number(m[1]);
  const tid = Number(m[2]);
  const us = Number(m[3]) * 1e6;
  const body = m[5] as string;
  switch (m[4]) {
    case 'raw_syscalls:sys_enter': {
      const e = ENTER.exec(body);
      if (e === null) return null;
      const args = [e[2], e[3], e[4]].map((a) => Number.parseInt(a as string, 16));
      return { kind: 'enter', pid, tid, us, nr: Number(e[1]), args };
    }
    case 'raw_syscalls:sys_exit': {
      const e = EXIT.exec(body);
      return e === null ? null : { kind: 'exit', pid, tid, us, nr: Number(e[1]), ret: Number(e[2]) };
    }
    case 'sched:sched_switch': {
      const s = SWITCH.exec(body);
      // Only the traced thread's own switches out: the tracepoint fires in the outgoing task.
      if (s === null || Number(s[1]) !== tid) return null;
      return { kind: 'switch-out', pid, tid, us, runnable: (s[2] as string).startsWith('R') };
    }
    default:
      return null;
  }
}

export interface RequestCycles {
  /** Wake → signal, µs, one per cycle. */
  readonly serviceUs: number[];
  /** Signal → next wake, µs. */
  readonly turnaroundUs: number[];
  /** Cycles by the wait that woke them. */
  readonly wokenBy: Record<string, number>;
  /** Cycles whose thread was switched out while still runnable between its signal and its next wait. */
  preemptedAfterSignal: number;
}

export function emptyCycles(): RequestCycles {
  return { serviceUs: [], turnaroundUs: [], wokenBy: {}, preemptedAfterSignal: 0 };
}

/** Adds `from`'s cycles (another boot's) to `into`. */
export function mergeCycles(into: RequestCycles, from: RequestCycles): void {
  for (const v of from.serviceUs) into.serviceUs.push(v);
  for (const v of from.turnaroundUs) into.turnaroundUs.push(v);
  for (const [wait, n] of Object.entries(from.wokenBy)) into.wokenBy[wait] = (into.wokenBy[wait] ?? 0) + n;
  into.preemptedAfterSignal += from.preemptedAfterSignal;
}

interface ThreadState {
  busy: boolean;
  wakeUs: number;
  wakeBy: string;
  signalUs: number;
  afterSignal: boolean;
  preempted: boolean;
}

/**
 * Adds the cycles of `events` (in time order) to `into`. `isEventfd(pid, fd)` tells a call
 * eventfd from other fds, so an 8-byte write of data is not a signal.
 */
export function addCycles(
  events: Iterable<TraceEvent>,
  isEventfd: (pid: number, fd: number) => boolean,
  into: RequestCycles,
): void {
  const threads = new Map<number, ThreadState>();
  for (const e of events) {
    let t = threads.get(e.tid);
    if (t === undefined) {
      t = { busy: false, wakeUs: 0, wakeBy: '', signalUs: -1, afterSignal: false, preempted: false };
      threads.set(e.tid, t);
    }
    if (e.kind === 'exit') {
      const wait = WAIT_SYSCALLS.get(e.nr);
      if (wait === undefined || e.ret <= 0 || t.busy) continue;
      if (t.signalUs >= 0) into.turnaroundUs.push(e.us - t.signalUs);
      t.busy = true;
      t.wakeUs = e.us;
      t.wakeBy = wait;
    } else if (e.kind === 'enter') {
      if (WAIT_SYSCALLS.has(e.nr) && t.afterSignal) {
        t.afterSignal = false;
        if (t.preempted) into.preemptedAfterSignal++;
      } else if (
        e.nr === WRITE &&
        e.args[2] === EVENTFD_WRITE_BYTES &&
        t.busy &&
        isEventfd(e.pid, e.args[0] as number)
      ) {
        into.serviceUs.push(e.us - t.wakeUs);
        into.wokenBy[t.wakeBy] = (into.wokenBy[t.wakeBy] ?? 0) + 1;
        t.busy = false;
        t.signalUs = e.us;
        t.afterSignal = true;
        t.preempted = false;
      }
    } else if (t.afterSignal && e.runnable) {
      t.preempted = true;
    }
  }
}

export interface CycleSummary {
  readonly requests: number;
  readonly serviceUs: { readonly p50: number; readonly p90: number; readonly mean: number };
  readonly turnaroundUs: { readonly p50: number; readonly p90: number; readonly mean: number };
  /** Share of cycles by the wait that woke them. */
  readonly wokenBy: Record<string, number>;
  /** Share of cycles whose thread lost its CPU, still runnable, between signal and next wait. */
  readonly preemptedAfterSignal: number;
}

function spread(values: readonly number[]): { p50: number; p90: number; mean: number } {
  if (values.length === 0) return { p50: Number.NaN, p90: Number.NaN, mean: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { p50: rank(sorted, 0.5), p90: rank(sorted, 0.9), mean };
}

export function summarizeCycles(c: RequestCycles): CycleSummary {
  const n = c.serviceUs.length;
  const share = (k: number): number => (n === 0 ? 0 : k / n);
  return {
    requests: n,
    serviceUs: spread(c.serviceUs),
    turnaroundUs: spread(c.turnaroundUs),
    wokenBy: Object.fromEntries(Object.entries(c.wokenBy).map(([k, v]) => [k, share(v)])),
    preemptedAfterSignal: share(c.preemptedAfterSignal),
  };
}
