import pino from 'pino';
import { VirtqueueError } from '../virtio/virtqueue_error';
import { BURST, GuestErrorLog, LATE_WINDOW_MS, LIFETIME_LINES, WINDOW_MS } from './guest_error_log';

function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

const error = (head: number): VirtqueueError =>
  new VirtqueueError('head-out-of-range', 1, `head ${head} is outside a queue of 16: skipped`, head);

describe("a guest's virtqueue errors in the log", () => {
  it('logs a burst per window, then counts what it left out in the next line it logs', () => {
    let now = 0;
    const { log, lines } = capture();
    const guestErrors = new GuestErrorLog(log, () => now);
    for (let i = 0; i < 1000; i++) guestErrors.warn(error(100 + i));
    expect(lines).toHaveLength(BURST);
    expect(lines[0]).toMatchObject({
      queue: 1,
      kind: 'head-out-of-range',
      head: 100,
      msg: expect.stringMatching(/^guest error: head 100/),
    });
    expect(lines[0]).not.toHaveProperty('suppressed');
    now += WINDOW_MS;
    guestErrors.warn(error(7));
    expect(lines).toHaveLength(BURST + 1);
    expect(lines[BURST]).toMatchObject({ head: 7, suppressed: 1000 - BURST });
    guestErrors.warn(error(8));
    expect(lines[BURST + 1]).not.toHaveProperty('suppressed');
  });

  it('logs one line a minute once a connection logged its lifetime share, counting the rest', () => {
    let now = 0;
    const { log, lines } = capture();
    const guestErrors = new GuestErrorLog(log, () => now);
    // A guest failing for good: BURST lines a second until the lifetime share is used.
    for (let second = 0; lines.length < LIFETIME_LINES; second++) {
      now = second * WINDOW_MS;
      for (let i = 0; i < 100; i++) guestErrors.warn(error(i));
    }
    expect(lines).toHaveLength(LIFETIME_LINES);
    const last = now;
    // Then at most one line per LATE_WINDOW_MS, however often the guest fails.
    for (let ms = WINDOW_MS; ms < LATE_WINDOW_MS * 3; ms += WINDOW_MS) {
      now = last + ms;
      for (let i = 0; i < 100; i++) guestErrors.warn(error(i));
    }
    expect(lines.length - LIFETIME_LINES).toBeLessThanOrEqual(3);
    expect(lines.at(-1)).toHaveProperty('suppressed');
  });
});
