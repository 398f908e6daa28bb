import pino from 'pino';
import { close } from '../sys/fd';
import { eventfd } from '../sys/eventfd';
import { socketPair } from '../sys/socket';
import { GuestRam } from '@vfs/harness/vhost_user_driver/guest_ram';
import { regionPayload, statePayload } from '@vfs/harness/vhost_user_driver/frontend';
import { VhostUserBackend, type VringObserver } from './backend';
import { Connection, u64Payload, type VhostUserMessage } from './connection';
import { VhostUserError } from './errors';
import {
  FLAG_NEED_REPLY,
  FLAG_REPLY,
  FrontendRequest as R,
  HEADER_SIZE,
  Layout,
  ProtocolFeature as PF,
  VirtioFeature as VF,
  bit,
  hasBit,
} from './protocol';

class RecordingObserver implements VringObserver {
  readonly events: string[] = [];
  watchKick(index: number): void {
    this.events.push(`watch ${index}`);
  }
  unwatchKick(index: number): void {
    this.events.push(`unwatch ${index}`);
  }
  queueRunnable(index: number): void {
    this.events.push(`runnable ${index}`);
  }
  resetDevice(): void {
    this.events.push('reset');
  }
  serveFrontendMessage(): boolean {
    return false;
  }
  readonly frontendBlocked = false;
}

describe('vhost-user back-end', () => {
  let front: Connection;
  let back: Connection;
  let backend: VhostUserBackend;
  let observer: RecordingObserver;
  let ram: GuestRam;

  /** Sends a request, lets the back-end handle it, and returns its reply (if it sent one). */
  const exchange = (
    request: number,
    payload?: Uint8Array,
    fds: number[] = [],
    flags = FLAG_NEED_REPLY,
  ): VhostUserMessage | null => {
    front.send(request, flags, payload, fds);
    backend.handle(back.receive()!);
    return (flags & FLAG_NEED_REPLY) !== 0 ||
      [R.GET_FEATURES, R.GET_PROTOCOL_FEATURES, R.GET_QUEUE_NUM, R.GET_VRING_BASE, R.GET_MAX_MEM_SLOTS].includes(
        request as 1,
      )
      ? front.receive()
      : null;
  };
  const u64 = (msg: VhostUserMessage | null): bigint => new DataView(msg!.payload.buffer).getBigUint64(0, true);
  const ackReplyAck = (): void => {
    expect(
      exchange(
        R.SET_PROTOCOL_FEATURES,
        u64Payload(bit(PF.REPLY_ACK) | bit(PF.MQ) | bit(PF.CONFIGURE_MEM_SLOTS)),
        [],
        0,
      ),
    ).toBeNull();
  };

  beforeEach(() => {
    const [a, b] = socketPair();
    front = new Connection(a, 1000);
    back = new Connection(b, 1000);
    observer = new RecordingObserver();
    backend = new VhostUserBackend(back, { requestQueues: 2 }, observer, pino({ level: 'silent' }));
    ram = new GuestRam(4 << 20, 2);
  });
  afterEach(() => {
    backend.close();
    front.close();
    back.close();
    ram.close();
  });

  test('offers VERSION_1, INDIRECT_DESC, EVENT_IDX and protocol features', () => {
    const features = u64(exchange(R.GET_FEATURES, undefined, [], 0));
    for (const b of [VF.VERSION_1, VF.RING_INDIRECT_DESC, VF.RING_EVENT_IDX, VF.PROTOCOL_FEATURES])
      expect(hasBit(features, b)).toBe(true);
    expect(hasBit(features, VF.LOG_ALL)).toBe(false);
    const protocol = u64(exchange(R.GET_PROTOCOL_FEATURES, undefined, [], 0));
    for (const b of [PF.MQ, PF.REPLY_ACK, PF.BACKEND_REQ, PF.CONFIGURE_MEM_SLOTS, PF.RESET_DEVICE])
      expect(hasBit(protocol, b)).toBe(true);
    expect(hasBit(protocol, PF.LOG_SHMFD)).toBe(false);
    expect(u64(exchange(R.GET_QUEUE_NUM, undefined, [], 0))).toBe(3n);
  });

  test('acknowledges with REPLY_ACK and refuses features it did not offer', () => {
    ackReplyAck();
    expect(u64(exchange(R.SET_OWNER))).toBe(0n);
    expect(u64(exchange(R.SET_FEATURES, u64Payload(bit(VF.VERSION_1) | bit(VF.LOG_ALL))))).toBe(1n);
    expect(u64(exchange(R.SET_FEATURES, u64Payload(bit(VF.VERSION_1) | bit(VF.PROTOCOL_FEATURES))))).toBe(0n);
    expect(backend.negotiatedFeatures).toBe(bit(VF.VERSION_1) | bit(VF.PROTOCOL_FEATURES));
  });

  test('answers unknown, unsupported and malformed requests with a failure and keeps serving', () => {
    ackReplyAck();
    expect(u64(exchange(99))).toBe(1n);
    expect(u64(exchange(R.SET_LOG_BASE, new Uint8Array(16)))).toBe(1n);
    expect(u64(exchange(R.SET_VRING_NUM, new Uint8Array(3)))).toBe(1n);
    expect(u64(exchange(R.SET_VRING_NUM, statePayload(7, 64)))).toBe(1n);
    expect(u64(exchange(R.SET_VRING_NUM, statePayload(1, 100)))).toBe(1n);
    expect(u64(exchange(R.SET_MEM_TABLE, new Uint8Array(8)))).toBe(1n);
    expect(u64(exchange(R.SET_VRING_KICK, u64Payload(1)))).toBe(1n); // no fd attached
    expect(u64(exchange(R.SET_VRING_NUM, statePayload(1, 64)))).toBe(0n);
  });

  test('refuses a message with more fds than allowed, closing them', () => {
    ackReplyAck();
    const fds = Array.from({ length: 9 }, () => eventfd());
    const header = new Uint8Array(HEADER_SIZE + 8);
    const v = new DataView(header.buffer);
    v.setUint32(0, R.SET_VRING_CALL, true);
    v.setUint32(4, 1 | FLAG_NEED_REPLY, true);
    v.setUint32(8, 8, true);
    front.sendRaw(header, fds);
    backend.handle(back.receive()!);
    expect(u64(front.receive())).toBe(1n);
    for (const fd of fds) close(fd);
  });

  test('drops the connection on an oversized payload (framing cannot be trusted)', () => {
    const header = new Uint8Array(HEADER_SIZE);
    const v = new DataView(header.buffer);
    v.setUint32(0, R.SET_FEATURES, true);
    v.setUint32(4, 1, true);
    v.setUint32(8, 1 << 20, true);
    front.sendRaw(header);
    expect(() => back.receive()).toThrow(VhostUserError);
  });

  test('replies with the REPLY flag and version 1, as QEMU checks', () => {
    const reply = exchange(R.GET_FEATURES, undefined, [], 0)!;
    expect(reply.flags).toBe(FLAG_REPLY | 1);
    expect(reply.request).toBe(R.GET_FEATURES);
  });

  test('maps a memory table, then adds and removes regions (CONFIGURE_MEM_SLOTS)', () => {
    ackReplyAck();
    expect(u64(exchange(R.GET_MAX_MEM_SLOTS, undefined, [], 0))).toBe(509n);
    const table = regionPayload(Layout.MEMORY_TABLE_HEADER, ram.regions.slice(0, 1));
    new DataView(table.buffer).setUint32(0, 1, true);
    expect(u64(exchange(R.SET_MEM_TABLE, table, [ram.fd]))).toBe(0n);
    expect(backend.memory.regionCount).toBe(1);
    const second = regionPayload(Layout.SINGLE_REGION_OFFSET, ram.regions.slice(1, 2));
    expect(u64(exchange(R.ADD_MEM_REG, second, [ram.fd]))).toBe(0n);
    expect(backend.memory.regionCount).toBe(2);
    expect(u64(exchange(R.ADD_MEM_REG, second, [ram.fd]))).toBe(1n); // overlaps
    expect(backend.memory.guestRange(ram.regions[1]!.guestAddr + 100, 8)).not.toBeNull();
    expect(u64(exchange(R.REM_MEM_REG, second))).toBe(0n);
    expect(backend.memory.regionCount).toBe(1);
    expect(backend.memory.guestRange(ram.regions[1]!.guestAddr + 100, 8)).toBeNull();
    expect(u64(exchange(R.REM_MEM_REG, second))).toBe(1n); // no longer there
    // The table's view of RAM is the front-end's: bytes written by one side are seen by the other.
    ram.bytes[50] = 42;
    const range = backend.memory.guestRange(50, 1)!;
    expect(range.view.getUint8(range.offset)).toBe(42);
  });

  test('starts a ring once it has size, addresses, kick and memory; GET_VRING_BASE stops it', () => {
    ackReplyAck();
    const table = regionPayload(Layout.MEMORY_TABLE_HEADER, ram.regions);
    new DataView(table.buffer).setUint32(0, 2, true);
    exchange(
      R.SET_MEM_TABLE,
      table,
      ram.regions.map(() => ram.fd),
    );
    exchange(R.SET_VRING_NUM, statePayload(1, 8));
    exchange(R.SET_VRING_BASE, statePayload(1, 5));
    const desc = ram.alloc(128, 16);
    const avail = ram.alloc(32, 2);
    const used = ram.alloc(128, 4);
    const addr = new Uint8Array(Layout.VRING_ADDR_SIZE);
    const v = new DataView(addr.buffer);
    v.setUint32(0, 1, true);
    v.setBigUint64(Layout.VRING_ADDR_DESC, BigInt(ram.userAddr(desc)), true);
    v.setBigUint64(Layout.VRING_ADDR_USED, BigInt(ram.userAddr(used)), true);
    v.setBigUint64(Layout.VRING_ADDR_AVAIL, BigInt(ram.userAddr(avail)), true);
    exchange(R.SET_VRING_ADDR, addr);
    expect(observer.events).toEqual([]);
    expect(u64(exchange(R.SET_VRING_KICK, u64Payload(1), [eventfd()]))).toBe(0n);
    expect(observer.events).toEqual(['watch 1', 'runnable 1']);
    expect(u64(exchange(R.SET_VRING_ENABLE, statePayload(1, 1)))).toBe(0n);
    const base = exchange(R.GET_VRING_BASE, statePayload(1, 0), [], 0)!;
    expect([...new Uint32Array(base.payload.buffer)]).toEqual([1, 5]);
    expect(observer.events).toContain('unwatch 1');
    expect(backend.vrings[1]!.queue.isReady).toBe(false);
  });

  test('RESET_DEVICE drops the device state', () => {
    ackReplyAck();
    exchange(R.SET_FEATURES, u64Payload(bit(VF.VERSION_1) | bit(VF.PROTOCOL_FEATURES)));
    expect(u64(exchange(R.RESET_DEVICE))).toBe(0n);
    expect(observer.events).toContain('reset');
    expect(backend.negotiatedFeatures).toBe(0n);
  });

  test('a fault of its own (not a peer error) propagates instead of being answered as a failed request', () => {
    ackReplyAck();
    observer.resetDevice = (): void => {
      throw new RangeError('bug in the observer');
    };
    front.send(R.RESET_DEVICE, FLAG_NEED_REPLY);
    expect(() => backend.handle(back.receive()!)).toThrow(RangeError);
    // close() in afterEach resets the device logic too.
    observer.resetDevice = (): void => {};
  });

  test('a region the memory table cannot hold is answered with a failure', () => {
    ackReplyAck();
    const empty = regionPayload(Layout.SINGLE_REGION_OFFSET, [{ ...ram.regions[0]!, size: 0 }]);
    expect(u64(exchange(R.ADD_MEM_REG, empty, [ram.fd]))).toBe(1n);
  });
});
