// When a turn of the device loop counts as quiet: what ends the loop's hold of the main thread
// (main_thread_hold.ts).
import { spawn } from 'node:child_process';
import pino from 'pino';
import { eventfd, signal } from '../sys/eventfd';
import { close } from '../sys/fd';
import { DeviceLoop } from './device_loop';

describe('a quiet turn of the device loop', () => {
  let controlFd = -1;
  let loop: DeviceLoop<never>;

  beforeEach(() => {
    controlFd = eventfd();
    loop = new DeviceLoop<never>({
      makeFactory: () => {
        throw new Error('no export in this test');
      },
      control: { eventFd: controlFd, receive: () => undefined, report: () => undefined },
      log: pino({ level: 'silent' }),
    });
  });
  afterEach(() => {
    loop.close();
    close(controlFd);
  });

  test('a wait that times out is quiet', () => {
    loop.turn(1);
    expect(loop.lastTurnQuiet).toBe(true);
  });

  test('a wake by a control message alone is quiet: no request can follow it', () => {
    signal(controlFd);
    loop.turn(0);
    expect(loop.lastTurnQuiet).toBe(true);
  });

  test('a wait cut short by a signal is not quiet: the guest may be mid-burst', async () => {
    // The child's exit sends SIGCHLD, for which libuv has a handler once a child was spawned.
    const child = spawn('sh', ['-c', 'sleep 0.3'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const t0 = performance.now();
    loop.turn(10_000);
    expect(performance.now() - t0).toBeLessThan(9_000);
    expect(loop.lastTurnQuiet).toBe(false);
    await exited;
  });
});
