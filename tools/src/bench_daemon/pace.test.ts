import { pacedStep, sleepPause } from './pace';

describe('the front-end pace of bench-daemon', () => {
  it('pauses after each reply, not before a slot first starts, and keeps the step answer', () => {
    const pauses: number[] = [];
    const calls: Array<[number, number]> = [];
    const step = pacedStep(
      (slot, written) => {
        calls.push([slot, written]);
        return written < 8;
      },
      300,
      (us) => pauses.push(us),
    );
    expect(step(0, -1)).toBe(true);
    expect(pauses).toEqual([]);
    expect(step(0, 4)).toBe(true);
    expect(step(1, 8)).toBe(false);
    expect(pauses).toEqual([300, 300]);
    expect(calls).toEqual([
      [0, -1],
      [0, 4],
      [1, 8],
    ]);
  });

  it('is the step itself without a pace', () => {
    const step = (): boolean => true;
    expect(pacedStep(step, 0)).toBe(step);
  });

  it('sleeps at least as long as asked', () => {
    const pause = sleepPause();
    const t0 = performance.now();
    pause(2000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1.9);
  });
});
