import {
  addCycles,
  emptyCycles,
  mergeCycles,
  parseTraceLine,
  summarizeCycles,
  type TraceEvent,
} from './request_cycles';

// Lines as `perf script -F pid,tid,time,event,trace` prints them (taken from a real recording).
const ENTER = '32105/32105 31699.740318: raw_syscalls:sys_enter: NR 232 (17, 20187a90, 40, 0, 0, 7f6b959a5000)';
const EXIT = '32105/32105 31699.740321:  raw_syscalls:sys_exit: NR 232 = 1';
const SWITCH_R =
  '32105/32105 31699.742684:     sched:sched_switch: prev_comm=node prev_pid=32105 prev_prio=120 prev_state=R ==> next_comm=node next_pid=32110 next_prio=120';

describe('parseTraceLine', () => {
  it('reads system call entries with their first three arguments, exits with their result, and switches out', () => {
    expect(parseTraceLine(ENTER)).toEqual({
      kind: 'enter',
      pid: 32105,
      tid: 32105,
      us: 31699.740318e6,
      nr: 232,
      args: [0x17, 0x20187a90, 0x40],
    });
    expect(parseTraceLine(EXIT)).toMatchObject({ kind: 'exit', nr: 232, ret: 1 });
    expect(parseTraceLine(SWITCH_R)).toMatchObject({ kind: 'switch-out', tid: 32105, runnable: true });
    expect(parseTraceLine(SWITCH_R.replace('prev_state=R', 'prev_state=S'))).toMatchObject({ runnable: false });
  });

  it('ignores other events and anything that is not a trace line', () => {
    expect(parseTraceLine('32105/32105 31699.74: sched:sched_wakeup: comm=node pid=1')).toBeNull();
    expect(parseTraceLine('')).toBeNull();
    expect(parseTraceLine('perf: lost 3 chunks')).toBeNull();
  });
});

const PID = 10;
const CALL_FD = 5;
const enter = (us: number, nr: number, args: number[], tid = PID): TraceEvent => ({
  kind: 'enter',
  pid: PID,
  tid,
  us,
  nr,
  args,
});
const exit = (us: number, nr: number, ret: number, tid = PID): TraceEvent => ({
  kind: 'exit',
  pid: PID,
  tid,
  us,
  nr,
  ret,
});
const signalAt = (us: number, tid = PID): TraceEvent => enter(us, 1, [CALL_FD, 0, 8], tid);
const sleep = (us: number, tid = PID): TraceEvent => ({ kind: 'switch-out', pid: PID, tid, us, runnable: false });
const isCallFd = (pid: number, fd: number): boolean => pid === PID && fd === CALL_FD;

describe('addCycles', () => {
  it('measures wake to call signal as service and signal to next wake as turnaround', () => {
    const c = emptyCycles();
    addCycles(
      [
        exit(0, 232, 1),
        signalAt(50),
        { kind: 'switch-out', pid: PID, tid: PID, us: 55, runnable: true },
        enter(60, 232, [0, 0, 0]),
        exit(1060, 232, 0), // a timeout wakes nothing
        enter(1061, 281, [0, 0, 0]),
        exit(1400, 281, 2),
        enter(1410, 1, [9, 0, 8]), // 8 bytes to a file, not a signal
        signalAt(1430),
        enter(1440, 232, [0, 0, 0]),
      ],
      isCallFd,
      c,
    );
    expect(c.serviceUs).toEqual([50, 30]);
    expect(c.turnaroundUs).toEqual([1350]);
    expect(c.wokenBy).toEqual({ epoll_wait: 1, epoll_pwait: 1 });
    expect(c.preemptedAfterSignal).toBe(1);
  });

  it('keeps each thread its own cycle, and a wake while serving does not restart it', () => {
    const c = emptyCycles();
    addCycles(
      [exit(0, 271, 1, 11), exit(5, 271, 1, 12), exit(10, 271, 1, 11), signalAt(40, 12), signalAt(100, 11)],
      (_pid, fd) => fd === CALL_FD,
      c,
    );
    expect(c.serviceUs.sort((a, b) => a - b)).toEqual([35, 100]);
    expect(c.wokenBy).toEqual({ ppoll: 2 });
  });
});

describe('addCycles, the service time split', () => {
  it('counts the time inside system calls, polls while serving included, and the calls', () => {
    const c = emptyCycles();
    addCycles(
      [
        exit(0, 232, 1),
        enter(10, 332, [3, 0, 0]), // statx
        exit(14, 332, 0),
        enter(20, 257, [3, 0, 0]), // openat
        exit(30, 257, 7),
        enter(32, 232, [0, 0, 0]), // a poll while serving
        exit(33, 232, 0),
        signalAt(50),
        enter(52, 3, [7, 0, 0]), // after the signal: in the turnaround, no cycle's
        exit(60, 3, 0),
      ],
      isCallFd,
      c,
    );
    expect(c.serviceUs).toEqual([50]);
    expect(c.inCallsUs).toEqual([15]);
    expect(c.calls).toEqual([3]);
    const s = summarizeCycles(c);
    expect(s.betweenCallsUs.p50).toBe(35);
    expect(s.callsPerCycle).toBe(3);
  });

  it("starts a cycle after an unsignalled wake with none of that wake's calls", () => {
    const c = emptyCycles();
    addCycles(
      [
        exit(0, 281, 1),
        enter(5, 0, [9, 0, 64]), // the control socket's read
        exit(8, 0, 64),
        enter(20, 232, [0, 0, 0]),
        sleep(21),
        exit(900, 232, 1),
        enter(905, 3, [7, 0, 0]),
        exit(911, 3, 0),
        signalAt(960),
      ],
      isCallFd,
      c,
    );
    expect(c.serviceUs).toEqual([60]);
    expect(c.inCallsUs).toEqual([6]);
    expect(c.calls).toEqual([1]);
  });
});

describe('addCycles, wakes that are not requests', () => {
  it('starts the cycle again at a wake after one that slept again without signalling', () => {
    const c = emptyCycles();
    addCycles(
      [
        exit(0, 281, 1), // a timer or a socket
        enter(20, 232, [0, 0, 0]),
        sleep(21),
        exit(900, 232, 1), // the kick
        enter(910, 232, [0, 0, 0]), // a poll while serving: no sleep, no new cycle
        exit(911, 232, 1),
        signalAt(960),
      ],
      isCallFd,
      c,
    );
    expect(c.serviceUs).toEqual([60]);
    expect(c.unsignalledWakes).toBe(1);
    expect(c.wokenBy).toEqual({ epoll_wait: 1 });
  });

  it('takes no eventfd the process reads (a kick) for a call eventfd', () => {
    const KICK = 6;
    const c = emptyCycles();
    addCycles(
      [exit(0, 271, 1), enter(5, 0, [KICK, 0, 8]), enter(10, 1, [KICK, 0, 8]), signalAt(30)],
      (_pid, fd) => fd === KICK || fd === CALL_FD,
      c,
    );
    expect(c.serviceUs).toEqual([30]);
  });
});

describe('summarizeCycles', () => {
  it('gives percentiles, means and shares, merged over boots', () => {
    const a = emptyCycles();
    addCycles(
      [exit(0, 232, 1), signalAt(10), enter(11, 232, [0, 0, 0]), exit(100, 232, 1), signalAt(130)],
      isCallFd,
      a,
    );
    const all = emptyCycles();
    mergeCycles(all, a);
    mergeCycles(all, a);
    const s = summarizeCycles(all);
    expect(s.cycles).toBe(4);
    expect(s.serviceUs).toEqual({ p50: 10, p90: 30, mean: 20 });
    expect(s.turnaroundUs.p50).toBe(90);
    expect(s.wokenBy).toEqual({ epoll_wait: 1 });
    expect(s.preemptedAfterSignal).toBe(0);
  });

  it('has no figures without a cycle', () => {
    const s = summarizeCycles(emptyCycles());
    expect(s.cycles).toBe(0);
    expect(s.serviceUs.p50).toBeNaN();
    expect(s.preemptedAfterSignal).toBe(0);
  });
});
