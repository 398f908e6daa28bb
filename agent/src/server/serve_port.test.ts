import { reopenAfter } from './serve_port';

describe('reopening the agent port', () => {
  it('polls a port without a host at 5 ms, doubling up to 100 ms', () => {
    const waits: number[] = [];
    let pollMs = reopenAfter(60_000, 100).nextPollMs;
    for (let i = 0; i < 7; i++) {
      const reopen = reopenAfter(1, pollMs);
      waits.push(reopen.waitMs);
      pollMs = reopen.nextPollMs;
    }
    expect(waits).toEqual([5, 10, 20, 40, 80, 100, 100]);
  });

  it('reopens at once after a host that stayed, and polls fast again after it', () => {
    expect(reopenAfter(5_000, 100)).toEqual({ waitMs: 0, nextPollMs: 5 });
  });
});
