import pino from 'pino';
import { stopThenExit } from './shutdown';

describe('shutdown', () => {
  const logged: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
  beforeEach(() => void logged.splice(0));

  test('exits with the asked code once every stop is done', async () => {
    let exited = -1;
    await stopThenExit([Promise.resolve(), undefined], 0, log, (c) => (exited = c));
    expect(exited).toBe(0);
    expect(logged).toEqual([]);
  });

  test('a failed stop is logged with its cause and the exit code is 1, after the other stops finish', async () => {
    let exited = -1;
    let slowDone = false;
    const slow = new Promise<void>((resolve) => setTimeout(() => resolve(void (slowDone = true)), 20));
    await stopThenExit([Promise.reject(new Error('worker would not stop')), slow], 0, log, (c) => {
      exited = c;
      expect(slowDone).toBe(true);
    });
    expect(exited).toBe(1);
    expect(logged.join('')).toMatch(/worker would not stop/);
  });
});
