// The device keeps serving whatever a broken or hostile front-end/guest does.
import { closeSync, existsSync, writeSync } from 'node:fs';
import { inheritablePipe } from '../sys/exec';
import { FLAG_NEED_REPLY, FrontendRequest as R, HEADER_SIZE } from '../vhost_user/protocol';
import { u64Payload } from '../vhost_user/connection';
import { VhostUserError } from '../vhost_user/errors';
import {
  startEchoDevice,
  startEchoThread,
  type EchoThread,
  type RunningDevice,
} from '../../test_support/device_harness';
import type { EchoConfig } from '../../test_support/echo_device_worker';
import { VhostUserFrontend, type FrontendOptions } from '@vfs/harness/vhost_user_driver/frontend';
import { sleepSync } from '@vfs/harness/vhost_user_driver/vhost_user_client';
import { REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function waitFor(cond: () => boolean, ms = 2000): void {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    sleepSync(1);
  }
}

describe('device loop against a hostile front-end', () => {
  let dev: RunningDevice;
  const open: VhostUserFrontend[] = [];
  const connect = (extra: Partial<FrontendOptions> = {}): VhostUserFrontend => {
    const f = VhostUserFrontend.connect({ socketPath: dev.socketPath, timeoutMs: 2000, ...extra });
    open.push(f);
    return f;
  };
  const echoes = (f: VhostUserFrontend, text: string): void => {
    expect(dec(f.call(REQUEST_QUEUE, { readable: [enc(text)], writableLen: 32 }))).toBe(text);
  };

  beforeAll(async () => {
    dev = await startEchoDevice({}, 'off');
  });
  afterEach(() => {
    for (const f of open.splice(0)) f.close();
  });
  afterAll(async () => {
    await dev.stop();
  });

  test('refuses unknown and malformed requests, then keeps serving the connection', () => {
    const f = connect();
    expect(() => f.vhostUser.set(99)).toThrow(VhostUserError);
    expect(() => f.vhostUser.set(R.SET_VRING_ADDR, new Uint8Array(5))).toThrow(VhostUserError);
    expect(() => f.vhostUser.set(R.SET_LOG_FD)).toThrow(VhostUserError);
    echoes(f, 'still here');
  });

  test('drops a connection whose framing is broken and accepts the next one', () => {
    const f = connect();
    const header = new Uint8Array(HEADER_SIZE);
    const v = new DataView(header.buffer);
    v.setUint32(0, R.SET_FEATURES, true);
    v.setUint32(4, 1 | FLAG_NEED_REPLY, true);
    v.setUint32(8, 1 << 30, true);
    f.connection.sendRaw(header);
    expect(f.connection.receive()).toBeNull();
    f.disconnect();
    f.reconnect();
    echoes(f, 'reconnected');
  });

  test('survives a front-end that leaves mid-message', () => {
    const f = connect();
    f.connection.sendRaw(new Uint8Array([R.GET_FEATURES, 0, 0]));
    f.disconnect();
    f.reconnect();
    echoes(f, 'after a torn header');
  });

  test('a call fd that cannot take a wake-up (a full pipe nobody reads) stops nothing', () => {
    const f = connect();
    const [r, w] = inheritablePipe();
    try {
      // A blocking pipe filled to its 64 KiB: one more byte would block the writer for good.
      expect(writeSync(w, Buffer.alloc(65536))).toBe(65536);
      f.vhostUser.set(R.SET_VRING_CALL, u64Payload(REQUEST_QUEUE), [w]);
      for (let i = 0; i < 3; i++) {
        // No interrupt comes (the call fd is the pipe): the driver finds the answer when its wait ends.
        expect(dec(f.call(REQUEST_QUEUE, { readable: [enc(`echo ${i}`)], writableLen: 32 }, 200))).toBe(`echo ${i}`);
      }
      expect(f.vhostUser.getU64(R.GET_FEATURES)).toBeGreaterThan(0n);
    } finally {
      closeSync(r);
      closeSync(w);
    }
  });

  test('answers a descriptor outside guest RAM with 0 bytes, then serves the next chain', () => {
    const f = connect();
    const q = f.queue(REQUEST_QUEUE);
    const [bad] = q.takeDescriptors(1) as [number];
    q.writeRaw({ index: bad, addr: 2 ** 40, len: 64, flags: 0, next: 0 });
    q.publish(bad);
    f.kick(q);
    expect(f.waitUsed(REQUEST_QUEUE)).toEqual([{ head: bad, len: 0 }]);
    q.returnDescriptors([bad]);
    echoes(f, 'next chain');
  });

  test('skips an out-of-range head and keeps processing the ring', () => {
    const f = connect();
    const q = f.queue(REQUEST_QUEUE);
    q.publish(60000);
    f.kick(q);
    echoes(f, 'after a bad head');
  });

  test('suppresses interrupts until used_event is crossed (EVENT_IDX)', () => {
    const f = connect({ eventIdx: true });
    const q = f.queue(REQUEST_QUEUE);
    const start = q.usedIdx;
    q.setUsedEvent(start + 2);
    const calls: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const gpa = f.ram.alloc(8);
      q.publish(q.addChain([{ gpa, len: 8 }], [], false));
      f.kick(q);
      waitFor(() => q.usedIdx === start + i + 1);
      sleepSync(20);
      calls.push(f.takeCall(REQUEST_QUEUE));
    }
    expect(calls).toEqual([false, false, true]);
    expect(q.availEvent).toBe(q.nextAvail);
  });
});

test('with a window: refuses GET_CONFIG past the 40-byte config space and any SET_CONFIG, then keeps serving', async () => {
  const dev = await startEchoDevice({ shmemSizes: [2 << 20] }, 'off');
  const f = VhostUserFrontend.connect({ socketPath: dev.socketPath, shmemSize: 2 << 20, config: true });
  try {
    expect(dec(f.getConfig(4))).toBe('echo');
    expect(() => f.getConfig(41)).toThrow(VhostUserError);
    expect(() => f.getConfig(1, 40)).toThrow(VhostUserError);
    const write = new Uint8Array(12 + 4);
    new DataView(write.buffer).setUint32(4, 4, true);
    expect(() => f.vhostUser.set(R.SET_CONFIG, write)).toThrow(VhostUserError);
    expect(dec(f.call(REQUEST_QUEUE, { readable: [enc('still here')], writableLen: 32 }))).toBe('still here');
  } finally {
    f.close();
    await dev.stop();
  }
});

test('the device worker stops on request and removes its socket', async () => {
  const dev = await startEchoDevice({}, 'off');
  const f = VhostUserFrontend.connect({ socketPath: dev.socketPath });
  f.call(REQUEST_QUEUE, { readable: [enc('x')], writableLen: 1 });
  expect(await dev.device.stop()).toBe(0);
  expect(existsSync(dev.socketPath)).toBe(false);
  f.close();
  await dev.stop();
});

describe('two exports on one device thread, one front-end hostile', () => {
  let t: EchoThread;
  let good: VhostUserFrontend;
  const open: VhostUserFrontend[] = [];
  const hostile = async (echo: EchoConfig | null = null): Promise<string> => t.add('hostile', {}, echo);
  const connect = (socketPath: string, timeoutMs = 2000): VhostUserFrontend => {
    const f = VhostUserFrontend.connect({ socketPath, timeoutMs });
    open.push(f);
    return f;
  };
  const echoes = (f: VhostUserFrontend, text: string): void => {
    expect(dec(f.call(REQUEST_QUEUE, { readable: [enc(text)], writableLen: 32 }))).toBe(text);
  };

  beforeEach(async () => {
    t = startEchoThread('off');
    good = connect(await t.add('good'), 15_000);
    echoes(good, 'good before');
  });
  afterEach(async () => {
    for (const f of open.splice(0)) f.close();
    await t.stop();
  });

  test('broken framing drops only the hostile export’s front-end; the other keeps its session', async () => {
    const f = connect(await hostile());
    const header = new Uint8Array(HEADER_SIZE);
    const v = new DataView(header.buffer);
    v.setUint32(0, R.SET_FEATURES, true);
    v.setUint32(4, 1 | FLAG_NEED_REPLY, true);
    v.setUint32(8, 1 << 30, true);
    f.connection.sendRaw(header);
    expect(f.connection.receive()).toBeNull();
    echoes(good, 'good after');
    f.disconnect();
    f.reconnect();
    echoes(f, 'hostile: next front-end');
  });

  test('garbage in the hostile export’s ring is answered there; the other export never notices', async () => {
    const f = connect(await hostile());
    const q = f.queue(REQUEST_QUEUE);
    const [bad] = q.takeDescriptors(1) as [number];
    q.writeRaw({ index: bad, addr: 2 ** 40, len: 64, flags: 0, next: 0 });
    q.publish(bad);
    q.publish(60000);
    f.kick(q);
    echoes(good, 'good meanwhile');
    expect(f.waitUsed(REQUEST_QUEUE)).toEqual([{ head: bad, len: 0 }]);
  });

  test('a handler that cannot be built closes the hostile connection only', async () => {
    const path = await hostile({ failConnections: 1 });
    expect(() => VhostUserFrontend.connect({ socketPath: path, timeoutMs: 2000 }).close()).toThrow();
    echoes(good, 'good after refusal');
    echoes(connect(path), 'hostile: next one');
  });

  // The price of one thread: a front-end that stops mid-message holds it for the socket's I/O
  // timeouts (5 s per read: a torn header waits out two) as a DAX map whose reply never comes would
  // (5 s); then only its session is dropped.
  test('a front-end stalled mid-message delays the other export only until its session is dropped', async () => {
    const f = connect(await hostile(), 15_000);
    f.connection.sendRaw(new Uint8Array([R.GET_FEATURES, 0, 0]));
    sleepSync(50);
    const started = Date.now();
    echoes(good, 'good after');
    expect(Date.now() - started).toBeLessThan(11_000);
    expect(f.connection.receive()).toBeNull();
  }, 30_000);
});
