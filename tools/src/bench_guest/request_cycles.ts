// A daemon's request cycles, read from its system calls as `perf script` prints them: each thread
// sleeps in a wait (epoll, ppoll, poll), wakes when a kick arrives, serves, and signals the guest
// by writing 8 bytes to a call eventfd (our daemon once per batch of requests, the C and Rust
// daemons once per request). From wake to signal is the daemon's service time; from the signal to
// the thread's next wake is the guest's turnaround: QEMU and the guest, plus whatever the daemon
// still did after signalling. The same yardstick fits every daemon, whatever its language. The
// system call numbers are x86_64's.
import { rank } from '../bench_common/stats';

/** x86_64 numbers of the calls a daemon waits in, and their names for the report. */
const WAIT_SYSCALLS: ReadonlyMap<number, string> = new Map([
  [7, 'poll'],
  [23, 'select'],
  [232, 'epoll_wait'],
  [271, 'ppoll'],
  [281, 'epoll_pwait'],
  [441, 'epoll_pwait2'],
]);
const READ = 0;
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
const SWITCH = /prev_state=(\S+)/;

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
      // The tracepoint fires in the outgoing task, so under `perf record -p` every one recorded is a
      // traced thread's switch out (its prev_pid may be in another pid namespace than perf's tid).
      return s === null ? null : { kind: 'switch-out', pid, tid, us, runnable: (s[1] as string).startsWith('R') };
    }
    default:
      return null;
  }
}

export interface RequestCycles {
  /** Wake → signal, µs, one per cycle. */
  readonly serviceUs: number[];
  /** Of each cycle's service time, the part spent inside the daemon's system calls, µs. */
  readonly inCallsUs: number[];
  /** System calls made in each cycle (the signal's write not counted). */
  readonly calls: number[];
  /** Signal → next wake, µs. */
  readonly turnaroundUs: number[];
  /** Cycles by the wait that woke them. */
  readonly wokenBy: Record<string, number>;
  /** Cycles whose thread was switched out while still runnable between its signal and its next wait. */
  preemptedAfterSignal: number;
  /** Wakes the thread slept again after without signalling (other work: a timer, a socket, a task). */
  unsignalledWakes: number;
}

export function emptyCycles(): RequestCycles {
  return {
    serviceUs: [],
    inCallsUs: [],
    calls: [],
    turnaroundUs: [],
    wokenBy: {},
    preemptedAfterSignal: 0,
    unsignalledWakes: 0,
  };
}

/** Adds `from`'s cycles (another boot's) to `into`. */
export function mergeCycles(into: RequestCycles, from: RequestCycles): void {
  for (const v of from.serviceUs) into.serviceUs.push(v);
  for (const v of from.inCallsUs) into.inCallsUs.push(v);
  for (const v of from.calls) into.calls.push(v);
  for (const v of from.turnaroundUs) into.turnaroundUs.push(v);
  for (const [wait, n] of Object.entries(from.wokenBy)) into.wokenBy[wait] = (into.wokenBy[wait] ?? 0) + n;
  into.preemptedAfterSignal += from.preemptedAfterSignal;
  into.unsignalledWakes += from.unsignalledWakes;
}

interface ThreadState {
  /** Woken, not yet signalled. */
  busy: boolean;
  wakeUs: number;
  wakeBy: string;
  /** The system call this busy thread is in, entered at; -1: none. */
  callEnterUs: number;
  /** This cycle's time in system calls so far, and their number. */
  callUs: number;
  callCount: number;
  /** The last signal not yet followed by a wake; -1: none. */
  signalUs: number;
  afterSignal: boolean;
  preempted: boolean;
  /** Inside a wait, and whether it slept (switched out not runnable): a zero-timeout poll does not. */
  waiting: boolean;
  slept: boolean;
}

function threadState(): ThreadState {
  return {
    busy: false,
    wakeUs: 0,
    wakeBy: '',
    callEnterUs: -1,
    callUs: 0,
    callCount: 0,
    signalUs: -1,
    afterSignal: false,
    preempted: false,
    waiting: false,
    slept: false,
  };
}

/** The fds each process reads: a kick or a control eventfd, never a call eventfd (only ever written). */
function readFds(events: readonly TraceEvent[]): Set<string> {
  const read = new Set<string>();
  for (const e of events) if (e.kind === 'enter' && e.nr === READ) read.add(`${e.pid}:${e.args[0]}`);
  return read;
}

/**
 * Adds the cycles of `events` (in time order) to `into`. `isEventfd(pid, fd)` tells eventfds from
 * other fds, so an 8-byte write of data is not a signal; an eventfd the process also reads is not
 * a call eventfd either.
 */
export function addCycles(
  events: readonly TraceEvent[],
  isEventfd: (pid: number, fd: number) => boolean,
  into: RequestCycles,
): void {
  const read = readFds(events);
  const isCallFd = (pid: number, fd: number): boolean => isEventfd(pid, fd) && !read.has(`${pid}:${fd}`);
  const threads = new Map<number, ThreadState>();
  for (const e of events) {
    let t = threads.get(e.tid);
    if (t === undefined) {
      t = threadState();
      threads.set(e.tid, t);
    }
    if (e.kind === 'exit') onExit(t, e.nr, e.ret, e.us, into);
    else if (e.kind === 'enter') onEnter(t, e, isCallFd, into);
    else if (t.waiting && !e.runnable) t.slept = true;
    else if (t.afterSignal && e.runnable) t.preempted = true;
  }
}

function onExit(t: ThreadState, nr: number, ret: number, us: number, into: RequestCycles): void {
  if (t.callEnterUs >= 0) {
    t.callUs += us - t.callEnterUs;
    t.callCount++;
    t.callEnterUs = -1;
  }
  const wait = WAIT_SYSCALLS.get(nr);
  if (wait === undefined) return;
  const slept = t.slept;
  t.waiting = false;
  t.slept = false;
  if (ret <= 0) return;
  // Busy and slept: the last wake ended in a wait without a signal, so this one starts the cycle.
  // Busy without sleeping: a poll while serving, which wakes nothing.
  if (t.busy && !slept) return;
  if (t.busy) into.unsignalledWakes++;
  if (t.signalUs >= 0) into.turnaroundUs.push(us - t.signalUs);
  t.signalUs = -1;
  t.busy = true;
  t.wakeUs = us;
  t.wakeBy = wait;
  t.callUs = 0;
  t.callCount = 0;
}

function onEnter(
  t: ThreadState,
  e: Extract<TraceEvent, { kind: 'enter' }>,
  isCallFd: (pid: number, fd: number) => boolean,
  into: RequestCycles,
): void {
  // A call a serving thread makes (a poll while serving too), unless it is the signal itself.
  const signals = e.nr === WRITE && e.args[2] === EVENTFD_WRITE_BYTES && t.busy && isCallFd(e.pid, e.args[0] as number);
  if (t.busy && !signals) t.callEnterUs = e.us;
  if (WAIT_SYSCALLS.has(e.nr)) {
    t.waiting = true;
    t.slept = false;
    if (t.afterSignal) {
      t.afterSignal = false;
      if (t.preempted) into.preemptedAfterSignal++;
    }
    return;
  }
  if (!signals) return;
  into.serviceUs.push(e.us - t.wakeUs);
  into.inCallsUs.push(t.callUs);
  into.calls.push(t.callCount);
  into.wokenBy[t.wakeBy] = (into.wokenBy[t.wakeBy] ?? 0) + 1;
  t.busy = false;
  t.signalUs = e.us;
  t.afterSignal = true;
  t.preempted = false;
}

export interface Spread {
  readonly p50: number;
  readonly p90: number;
  readonly mean: number;
}

export interface CycleSummary {
  /** Signalled cycles: a request each for the C and Rust daemons, a batch for ours. */
  readonly cycles: number;
  readonly serviceUs: Spread;
  /** The service time's part inside system calls, and the rest: user space, faults, interrupts. */
  readonly inCallsUs: Spread;
  readonly betweenCallsUs: Spread;
  /** System calls per cycle, mean. */
  readonly callsPerCycle: number;
  readonly turnaroundUs: Spread;
  /** Share of cycles by the wait that woke them. */
  readonly wokenBy: Record<string, number>;
  /** Share of cycles whose thread lost its CPU, still runnable, between signal and next wait. */
  readonly preemptedAfterSignal: number;
  /** Wakes that ended in a wait without a signal, per cycle. */
  readonly unsignalledWakes: number;
}

function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { p50: Number.NaN, p90: Number.NaN, mean: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { p50: rank(sorted, 0.5), p90: rank(sorted, 0.9), mean };
}

/** Each cycle's service time less its time in system calls (both pushed at its signal, in step). */
function betweenCalls(c: RequestCycles): number[] {
  if (c.inCallsUs.length !== c.serviceUs.length) {
    throw new Error(`request cycles: ${c.serviceUs.length} service times but ${c.inCallsUs.length} call times`);
  }
  return c.serviceUs.map((service, i) => service - (c.inCallsUs[i] as number));
}

export function summarizeCycles(c: RequestCycles): CycleSummary {
  const n = c.serviceUs.length;
  const share = (k: number): number => (n === 0 ? 0 : k / n);
  return {
    cycles: n,
    serviceUs: spread(c.serviceUs),
    inCallsUs: spread(c.inCallsUs),
    betweenCallsUs: spread(betweenCalls(c)),
    callsPerCycle: n === 0 ? Number.NaN : c.calls.reduce((a, b) => a + b, 0) / n,
    turnaroundUs: spread(c.turnaroundUs),
    wokenBy: Object.fromEntries(Object.entries(c.wokenBy).map(([k, v]) => [k, share(v)])),
    preemptedAfterSignal: share(c.preemptedAfterSignal),
    unsignalledWakes: share(c.unsignalledWakes),
  };
}
