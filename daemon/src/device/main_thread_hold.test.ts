import { HOLD_MS, holdMainThread, LINGER_MS, nextTurnTimeout, type TurningLoop } from './main_thread_hold';

/** A loop on a fake clock: each turn takes `turnMs` and brings front-end events while `serving` says so. */
class FakeLoop implements TurningLoop {
  clock = 0;
  readonly timeouts: number[] = [];
  lastTurnQuiet = true;
  stopped = false;

  constructor(
    private readonly turnMs: number,
    private readonly serving: (turn: number) => boolean,
    private readonly result: number = -1,
  ) {}

  turn(timeoutMs: number): number {
    this.lastTurnQuiet = !this.serving(this.timeouts.length);
    this.timeouts.push(timeoutMs);
    this.clock += this.lastTurnQuiet ? Math.max(timeoutMs, 0) : this.turnMs;
    return this.result;
  }
}

describe('how long the device loop holds the main thread', () => {
  test('after serving a request it waits briefly in its own epoll set for the next one', () => {
    expect(nextTurnTimeout(-1, false, 0)).toBe(LINGER_MS);
  });

  test('an export timeout further off than the linger does not end the hold', () => {
    expect(nextTurnTimeout(60_000, false, 0)).toBe(LINGER_MS);
  });

  test('work left over is taken at once, without a wait', () => {
    expect(nextTurnTimeout(0, true, 0)).toBe(0);
    expect(nextTurnTimeout(0, false, HOLD_MS / 2)).toBe(0);
  });

  test('a quiet wait hands the thread back to Node, which watches the loop from then on', () => {
    expect(nextTurnTimeout(-1, true, 0.5)).toBeNull();
    expect(nextTurnTimeout(3, true, 0.5)).toBeNull();
  });

  test('a guest that never lets the queues go quiet still gives Node the thread every HOLD_MS', () => {
    expect(nextTurnTimeout(0, false, HOLD_MS)).toBeNull();
    expect(nextTurnTimeout(-1, false, HOLD_MS + 1)).toBeNull();
  });

  test('requests that keep coming are served from the loop until HOLD_MS, then Node gets the thread', () => {
    const loop = new FakeLoop(0.5, () => true);
    expect(holdMainThread(loop, () => loop.clock)).toBe(-1);
    expect(loop.timeouts[0]).toBe(0);
    expect(loop.timeouts.slice(1).every((t) => t === LINGER_MS)).toBe(true);
    expect(loop.clock).toBeGreaterThanOrEqual(HOLD_MS);
    expect(loop.clock).toBeLessThan(HOLD_MS + 1);
  });

  test('work that never runs out (next 0) is bounded the same way', () => {
    const loop = new FakeLoop(0.25, () => true, 0);
    expect(holdMainThread(loop, () => loop.clock)).toBe(0);
    expect(loop.clock).toBeGreaterThanOrEqual(HOLD_MS);
    expect(loop.clock).toBeLessThan(HOLD_MS + 1);
  });

  test('once no request comes within the linger, the hold ends', () => {
    const loop = new FakeLoop(0.1, (turn) => turn < 3);
    holdMainThread(loop, () => loop.clock);
    expect(loop.timeouts).toEqual([0, LINGER_MS, LINGER_MS, LINGER_MS]);
  });

  test('a stop posted during the hold ends it at once', () => {
    const loop = new FakeLoop(0.1, () => true);
    const turn = loop.turn.bind(loop);
    loop.turn = (t) => {
      loop.stopped = loop.timeouts.length === 2;
      return turn(t);
    };
    holdMainThread(loop, () => loop.clock);
    expect(loop.timeouts).toHaveLength(3);
  });
});
