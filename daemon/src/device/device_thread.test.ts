// One device thread serving several exports: each its own socket, session and lifecycle, added and
// removed at run time, on one epoll set.
import { existsSync, readdirSync } from 'node:fs';
import { REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { startEchoThread, type EchoThread } from '../../test_support/device_harness';
import { DeviceError } from './errors';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('one device thread with several exports', () => {
  let t: EchoThread;
  const open: VhostUserFrontend[] = [];
  const connect = (socketPath: string, requestQueues = 1): VhostUserFrontend => {
    const f = VhostUserFrontend.connect({ socketPath, requestQueues, timeoutMs: 3000 });
    open.push(f);
    return f;
  };
  const echoes = (f: VhostUserFrontend, text: string, queue = REQUEST_QUEUE): void => {
    expect(dec(f.call(queue, { readable: [enc(text)], writableLen: 32 }))).toBe(text);
  };

  beforeEach(() => {
    t = startEchoThread('off');
  });
  afterEach(async () => {
    for (const f of open.splice(0)) f.close();
    await t.stop();
  });

  test('serves two exports, each with its own front-end and queues, interleaved', async () => {
    const a = connect(await t.add('a', { requestQueues: 1 }), 1);
    const b = connect(await t.add('b', { requestQueues: 3 }), 3);
    for (let i = 0; i < 20; i++) {
      echoes(a, `a${i}`);
      echoes(b, `b${i}`, 1 + (i % 3));
    }
  });

  test('completes one export’s deferred chains while another export sleeps without a timeout', async () => {
    const a = connect(await t.add('a'));
    // Added last: its idle session must not decide the loop's timeout.
    connect(await t.add('b'));
    expect(dec(a.call(REQUEST_QUEUE, { readable: [enc('DEFER-a')], writableLen: 16 }, 2000))).toBe('DEFER-a');
  });

  test('removing an export closes its socket and front-end; the other keeps its session', async () => {
    const aPath = await t.add('a');
    const b = connect(await t.add('b'));
    const a = connect(aPath);
    echoes(a, 'a before');
    await t.thread.remove('a');
    expect(existsSync(aPath)).toBe(false);
    expect(a.connection.receive()).toBeNull();
    echoes(b, 'b after');
  });

  test('an export removed and added again under its tag serves a new front-end', async () => {
    const b = connect(await t.add('b'));
    for (let i = 0; i < 3; i++) {
      const a = connect(await t.add('a'));
      echoes(a, `a round ${i}`);
      await t.thread.remove('a');
    }
    echoes(b, 'b throughout');
  });

  test('refuses a second export under a served tag, and a socket it cannot create, and keeps serving', async () => {
    const a = connect(await t.add('a'));
    await expect(t.add('a')).rejects.toThrow(/already served/);
    const refused = t.thread.add({ tag: 'c', socketPath: '/nonexistent/dir/c.sock' }, null);
    await expect(refused).rejects.toBeInstanceOf(DeviceError);
    await expect(t.add('d', { requestQueues: 1000 })).rejects.toThrow(/at most/);
    echoes(a, 'still here');
  });

  test('adding and removing exports leaves no fd behind', async () => {
    connect(await t.add('warm'));
    const before = readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 5; i++) {
      const f = VhostUserFrontend.connect({ socketPath: await t.add(`e${i}`), timeoutMs: 3000 });
      echoes(f, `e${i}`);
      await t.thread.remove(`e${i}`);
      f.close();
    }
    expect(readdirSync('/proc/self/fd').length).toBe(before);
  });

  test('stopping the thread closes every export and removes their sockets', async () => {
    const paths = [await t.add('a'), await t.add('b')];
    connect(paths[0] as string);
    expect(await t.thread.stop()).toBe(0);
    for (const p of paths) expect(existsSync(p)).toBe(false);
  });
});
