import { cpuSpent, parseChildTicks, parseCpuStatUsec } from './cpu_meter';

describe('parseChildTicks', () => {
  it('adds cutime and cstime, whatever the command name holds', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime …
    const stat = '4242 (no de) (x)) S 1 4242 4242 0 -1 4194560 100 50 0 0 7 3 120 35 20 0 11 0';
    expect(parseChildTicks(stat)).toBe(155);
  });
});

describe('parseCpuStatUsec', () => {
  it('reads usage_usec and refuses a file without it', () => {
    expect(parseCpuStatUsec('usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n')).toBe(123456);
    expect(() => parseCpuStatUsec('user_usec 1\n')).toThrow(/usage_usec/);
  });
});

describe('cpuSpent', () => {
  it('gives the runtime, client and total deltas', () => {
    expect(cpuSpent({ runtimeMs: 100, clientMs: 10 }, { runtimeMs: 350, clientMs: 15 })).toEqual({
      runtimeMs: 250,
      clientMs: 5,
      totalMs: 255,
    });
  });
});
