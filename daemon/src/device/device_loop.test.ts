import { REQUEST_QUEUE, HIPRIO_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import { startEchoDevice, type RunningDevice } from '../../test_support/device_harness';
import { VhostUserFrontend, type FrontendOptions } from '@vfs/harness/vhost_user_driver/frontend';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('device loop with the echo handler', () => {
  let dev: RunningDevice;
  const open: VhostUserFrontend[] = [];
  const connect = (extra: Partial<FrontendOptions> = {}): VhostUserFrontend => {
    const f = VhostUserFrontend.connect({ socketPath: dev.socketPath, ...extra });
    open.push(f);
    return f;
  };

  beforeAll(async () => {
    dev = await startEchoDevice({ requestQueues: 2 });
  });
  afterEach(() => {
    for (const f of open.splice(0)) f.close();
  });
  afterAll(async () => {
    await dev.stop();
  });

  test('round-trips a chain through memfd guest RAM and eventfds', () => {
    const f = connect({ requestQueues: 2 });
    const reply = f.call(REQUEST_QUEUE, { readable: [enc('hello '), enc('world')], writableLen: 64 });
    expect(dec(reply)).toBe('hello world');
  });

  test('serves every queue, hiprio included', () => {
    const f = connect({ requestQueues: 2 });
    for (const q of [HIPRIO_QUEUE, 1, 2])
      expect(dec(f.call(q, { readable: [enc(`q${q}`)], writableLen: 8 }))).toBe(`q${q}`);
  });

  test('answers a chain without writable buffers with 0 bytes', () => {
    const f = connect({ requestQueues: 2 });
    expect(f.call(HIPRIO_QUEUE, { readable: [enc('forget')], writableLen: 0 }).length).toBe(0);
  });

  test('follows indirect descriptor tables', () => {
    const f = connect({ requestQueues: 2, indirect: true });
    const parts = Array.from({ length: 20 }, (_, i) => enc(`${i},`));
    expect(dec(f.call(REQUEST_QUEUE, { readable: parts, writableLen: 100 }))).toBe(parts.map(dec).join(''));
  });

  test('keeps 16 chains in flight in pipeline mode', () => {
    const f = connect({ requestQueues: 2, eventIdx: true });
    let sent = 0;
    const replies: string[] = [];
    f.pipeline(
      REQUEST_QUEUE,
      16,
      () => (sent < 500 ? { readable: [enc(`r${sent++}`)], writableLen: 16 } : null),
      (r) => replies.push(dec(r)),
    );
    expect(replies).toHaveLength(500);
    expect(new Set(replies).size).toBe(500);
  });

  test('completes deferred chains from poll()', () => {
    const f = connect({ requestQueues: 2 });
    const replies: string[] = [];
    const subs = [enc('DEFER-1'), enc('now'), enc('DEFER-2')];
    f.pipeline(
      REQUEST_QUEUE,
      3,
      () => (subs.length > 0 ? { readable: [subs.shift()!], writableLen: 16 } : null),
      (r) => replies.push(dec(r)),
    );
    expect(replies[0]).toBe('now');
    expect(replies.slice(1).sort()).toEqual(['DEFER-1', 'DEFER-2']);
  });

  test('maps guest RAM given as several regions with ADD_MEM_REG', () => {
    const f = connect({ requestQueues: 2, memoryMode: 'slots', memoryRegions: 4, memorySize: 16 << 20 });
    // Fill the first regions so buffers land in later ones too.
    const big = new Uint8Array(3 << 20).fill(7);
    const reply = f.call(REQUEST_QUEUE, { readable: [big], writableLen: 3 << 20 });
    expect(reply.length).toBe(3 << 20);
    expect(reply.every((b) => b === 7)).toBe(true);
  });

  test('serves the next front-end after a disconnect, resuming the rings', () => {
    const f = connect({ requestQueues: 2, eventIdx: true });
    expect(dec(f.call(REQUEST_QUEUE, { readable: [enc('before')], writableLen: 16 }))).toBe('before');
    f.disconnect();
    f.reconnect();
    expect(dec(f.call(REQUEST_QUEUE, { readable: [enc('after')], writableLen: 16 }))).toBe('after');
  });
});

describe('device loop whose handler cannot be built', () => {
  test('closes that connection, keeps listening, and serves the next front-end', async () => {
    const dev = await startEchoDevice({}, 'off', { failConnections: 1 });
    try {
      expect(() => VhostUserFrontend.connect({ socketPath: dev.socketPath, timeoutMs: 2000 }).close()).toThrow();
      const f = VhostUserFrontend.connect({ socketPath: dev.socketPath });
      expect(dec(f.call(REQUEST_QUEUE, { readable: [enc('still here')], writableLen: 16 }))).toBe('still here');
      f.close();
    } finally {
      await dev.stop();
    }
  });
});
