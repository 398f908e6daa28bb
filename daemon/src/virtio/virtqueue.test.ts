import { readFileSync } from 'node:fs';
import { dup } from '../sys/fd';
import { DriverQueue } from '@vfs/harness/vhost_user_driver/driver_queue';
import { GuestRam } from '@vfs/harness/vhost_user_driver/guest_ram';
import { GuestMemory } from './guest_memory';
import { DescFlag, AVAIL_F_NO_INTERRUPT } from './ring_layout';
import { Virtqueue } from './virtqueue';
import type { VirtqueueError, VirtqueueErrorKind } from './virtqueue_error';

const SIZE = 16;

describe('split virtqueue, device side', () => {
  let ram: GuestRam;
  let memory: GuestMemory;
  let driver: DriverQueue;
  let queue: Virtqueue;
  let errors: VirtqueueError[];

  const setup = (opts: { eventIdx?: boolean; indirect?: boolean } = {}): void => {
    driver = new DriverQueue(ram, 1, SIZE, opts.eventIdx ?? false);
    queue = new Virtqueue(1, memory, (error) => void errors.push(error));
    start(opts, 0);
  };
  const start = (opts: { eventIdx?: boolean; indirect?: boolean }, lastAvail: number): void => {
    const bytes = Virtqueue.ringBytes(SIZE);
    const error = queue.start({
      size: SIZE,
      rings: {
        desc: memory.guestRange(driver.descGpa, bytes.desc)!,
        avail: memory.guestRange(driver.availGpa, bytes.avail)!,
        used: memory.guestRange(driver.usedGpa, bytes.used)!,
      },
      lastAvail,
      eventIdx: opts.eventIdx ?? false,
      indirect: opts.indirect ?? false,
    });
    expect(error).toBeNull();
  };
  const buffer = (text: string): { gpa: number; len: number } => {
    const bytes = new TextEncoder().encode(text);
    const gpa = ram.alloc(bytes.length);
    ram.view(gpa, bytes.length).set(bytes);
    return { gpa, len: bytes.length };
  };

  beforeEach(() => {
    ram = new GuestRam(4 << 20, 2);
    memory = new GuestMemory(8);
    memory.setTable(
      ram.regions,
      ram.regions.map(() => dup(ram.fd)),
    );
    errors = [];
  });
  afterEach(() => {
    driver.close();
    memory.clear();
    ram.close();
  });

  test('pops a chain with readable then writable buffers, translated to host memory', () => {
    setup();
    const out = { gpa: ram.alloc(32), len: 32 };
    driver.publish(driver.addChain([buffer('ab'), buffer('cd')], [out], false));
    const chain = queue.pop()!;
    expect(chain.readable.map((b) => new TextDecoder().decode(b.bytes))).toEqual(['ab', 'cd']);
    chain.writable[0]!.bytes.set([1, 2, 3]);
    expect([...ram.view(out.gpa, 3)]).toEqual([1, 2, 3]);
    expect(queue.pop()).toBeNull();
    queue.pushUsed(chain.head, 3);
    expect(driver.reap()).toEqual([{ head: chain.head, len: 3 }]);
    expect(errors).toEqual([]);
  });

  test('follows an indirect table when the feature was negotiated', () => {
    setup({ indirect: true });
    driver.publish(driver.addChain([buffer('x'), buffer('y')], [{ gpa: ram.alloc(8), len: 8 }], true));
    const chain = queue.pop()!;
    expect(chain.readable).toHaveLength(2);
    expect(chain.writable).toHaveLength(1);
  });

  test('answers an indirect chain with 0 bytes when the feature was not negotiated', () => {
    setup();
    const head = driver.addChain([buffer('x')], [], true);
    driver.publish(head);
    expect(queue.pop()).toBeNull();
    expect(driver.reap()).toEqual([{ head, len: 0 }]);
    expect(errors[0]).toMatchObject({ kind: 'indirect-not-negotiated', queue: 1, head });
    expect(errors[0]?.message).toMatch(/INDIRECT_DESC was not negotiated; answered with 0 bytes/);
  });

  const malformed: [string, (d: DriverQueue, ram: GuestRam) => number, VirtqueueErrorKind, RegExp][] = [
    [
      'a descriptor loop',
      (d) => {
        const [a, b] = d.takeDescriptors(2) as [number, number];
        d.writeRaw({ index: a, addr: 0, len: 8, flags: DescFlag.NEXT, next: b });
        d.writeRaw({ index: b, addr: 0, len: 8, flags: DescFlag.NEXT, next: a });
        return a;
      },
      'descriptor-loop',
      /descriptor \d+ comes twice \(a loop\)/,
    ],
    [
      'a next index outside the table',
      (d) => {
        const [a] = d.takeDescriptors(1) as [number];
        d.writeRaw({ index: a, addr: 0, len: 8, flags: DescFlag.NEXT, next: 999 });
        return a;
      },
      'descriptor-out-of-range',
      /outside a table/,
    ],
    [
      'a buffer outside guest RAM',
      (d) => {
        const [a] = d.takeDescriptors(1) as [number];
        d.writeRaw({ index: a, addr: 0x7fff_0000_0000, len: 8, flags: 0, next: 0 });
        return a;
      },
      'buffer-outside-memory',
      /outside guest memory/,
    ],
    [
      'a buffer in the hole between regions',
      (d, r) => {
        const [a] = d.takeDescriptors(1) as [number];
        d.writeRaw({ index: a, addr: r.regions[0]!.size + 4096, len: 8, flags: 0, next: 0 });
        return a;
      },
      'buffer-outside-memory',
      /outside guest memory/,
    ],
    [
      'a buffer straddling the end of a region',
      (d, r) => {
        const [a] = d.takeDescriptors(1) as [number];
        d.writeRaw({ index: a, addr: r.regions[0]!.size - 4, len: 8, flags: 0, next: 0 });
        return a;
      },
      'buffer-outside-memory',
      /outside guest memory/,
    ],
    [
      'a readable buffer after a writable one',
      (d) => {
        const [a, b] = d.takeDescriptors(2) as [number, number];
        d.writeRaw({ index: a, addr: 0, len: 8, flags: DescFlag.WRITE | DescFlag.NEXT, next: b });
        d.writeRaw({ index: b, addr: 0, len: 8, flags: 0, next: 0 });
        return a;
      },
      'readable-after-writable',
      /readable descriptor after/,
    ],
  ];

  test.each(malformed)('answers %s with 0 bytes and keeps going', (_name, build, kind, message) => {
    setup();
    const bad = build(driver, ram);
    driver.publish(bad);
    const good = driver.addChain([buffer('ok')], [], false);
    driver.publish(good);
    const chain = queue.pop()!;
    expect(chain.head).toBe(good);
    expect(driver.reap()).toEqual([{ head: bad, len: 0 }]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ kind, queue: 1, head: bad });
    expect(errors[0]?.message).toMatch(message);
    expect(errors[0]?.message).toMatch(new RegExp(`^chain ${bad}: .*; answered with 0 bytes$`));
  });

  test('rejects a loop through an indirect table at its first repeated descriptor', () => {
    setup({ indirect: true });
    const [head] = driver.takeDescriptors(1) as [number];
    const table = ram.alloc(3 * 16);
    const data = buffer('loop');
    [1, 2, 1].forEach((next, index) => {
      driver.writeRawIndirect(table, 3, { index, addr: data.gpa, len: data.len, flags: DescFlag.NEXT, next });
    });
    driver.writeRaw({ index: head, addr: table, len: 3 * 16, flags: DescFlag.INDIRECT, next: 0 });
    driver.publish(head);
    driver.publish(driver.addChain([buffer('next')], [], true));
    const chain = queue.pop()!;
    expect(chain.readable.map((b) => new TextDecoder().decode(b.bytes))).toEqual(['next']);
    expect(driver.reap()).toEqual([{ head, len: 0 }]);
    expect(errors[0]).toMatchObject({ kind: 'descriptor-loop', head });
    expect(errors[0]?.message).toMatch(/descriptor 1 comes twice/);
  });

  test('rejects nested indirect tables', () => {
    setup({ indirect: true });
    const [head] = driver.takeDescriptors(1) as [number];
    const inner = ram.alloc(16);
    const outer = ram.alloc(16);
    driver.writeRawIndirect(outer, 1, { index: 0, addr: inner, len: 16, flags: DescFlag.INDIRECT, next: 0 });
    driver.writeRaw({ index: head, addr: outer, len: 16, flags: DescFlag.INDIRECT, next: 0 });
    driver.publish(head);
    expect(queue.pop()).toBeNull();
    expect(errors[0]).toMatchObject({ kind: 'nested-indirect', head });
    expect(errors[0]?.message).toMatch(/inside an indirect table/);
  });

  test('skips an out-of-range head without a used entry', () => {
    setup();
    driver.publish(SIZE + 3);
    expect(queue.pop()).toBeNull();
    expect(driver.reap()).toEqual([]);
    expect(errors[0]).toMatchObject({ kind: 'head-out-of-range', queue: 1, head: SIZE + 3 });
    expect(errors[0]?.message).toMatch(/outside a queue of 16: skipped/);
  });

  test('returns after a ring of malformed heads however fast the guest publishes more, the rest left for later', () => {
    setup();
    let published = 0;
    const good = driver.addChain([buffer('ok')], [], false);
    // Each malformed head answered makes room for another: a guest can keep the ring full forever.
    queue = new Virtqueue(1, memory, (error) => {
      errors.push(error);
      if (published++ < 10 * SIZE) driver.publish(SIZE + 1);
    });
    start({}, 0);
    driver.publish(SIZE + 1);
    expect(queue.pop()).toBeNull();
    expect(errors).toHaveLength(SIZE);
    expect(queue.hasAvailable()).toBe(true);
    while (queue.pop() === null && queue.hasAvailable()) {}
    driver.publish(good);
    expect(queue.pop()?.head).toBe(good);
  });

  test('a round of pops within a budget takes at most that many heads, chains and malformed ones together', () => {
    setup();
    // The guest answers each malformed head with another, and each served chain with a new one.
    queue = new Virtqueue(1, memory, (error) => {
      errors.push(error);
      driver.publish(SIZE + 1);
    });
    start({}, 0);
    driver.publish(driver.addChain([buffer('ok')], [], false));
    driver.publish(SIZE + 1);
    let heads = 0;
    let chains = 0;
    for (let budget = SIZE; budget > 0; ) {
      const chain = queue.pop(budget);
      budget -= queue.lastPopHeads;
      heads += queue.lastPopHeads;
      if (chain === null) break;
      chains++;
      queue.pushUsed(chain.head, 0);
      driver.reap();
      driver.publish(driver.addChain([buffer('ok')], [], false));
    }
    expect(heads).toBe(SIZE);
    expect(chains).toBeGreaterThan(0);
    expect(queue.hasAvailable()).toBe(true);
  });

  test('stops the queue when the available index jumps past the ring', () => {
    setup();
    driver.forceAvailIdx(SIZE + 5);
    expect(queue.pop()).toBeNull();
    expect(queue.isReady).toBe(false);
    expect(errors[0]).toMatchObject({ kind: 'avail-index-overrun', queue: 1, head: undefined });
    expect(errors[0]?.message).toMatch(/queue stopped/);
  });

  test('skips a head that is still in flight without a used entry', () => {
    setup();
    const head = driver.addChain([buffer('held')], [], false);
    driver.publish(head);
    expect(queue.pop()!.head).toBe(head);
    driver.publish(head);
    expect(queue.pop()).toBeNull();
    expect(driver.reap()).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ kind: 'head-in-flight', queue: 1, head });
    expect(errors[0]?.message).toMatch(/already in flight: skipped/);
  });

  test('refuses to start on a misaligned descriptor table, returning the error', () => {
    driver = new DriverQueue(ram, 1, SIZE, false);
    queue = new Virtqueue(1, memory, (error) => void errors.push(error));
    const bytes = Virtqueue.ringBytes(SIZE);
    const error = queue.start({
      size: SIZE,
      rings: {
        desc: memory.guestRange(driver.descGpa + 8, bytes.desc)!,
        avail: memory.guestRange(driver.availGpa, bytes.avail)!,
        used: memory.guestRange(driver.usedGpa, bytes.used)!,
      },
      lastAvail: 0,
      eventIdx: false,
      indirect: false,
    });
    expect(error).toMatchObject({ kind: 'misaligned-ring', queue: 1, message: 'misaligned ring address' });
    expect(queue.isReady).toBe(false);
    expect(errors).toEqual([]);
  });

  test('honours avail.flags NO_INTERRUPT without EVENT_IDX', () => {
    setup();
    driver.publish(driver.addChain([buffer('a')], [], false));
    queue.pushUsed(queue.pop()!.head, 0);
    expect(queue.takeNotification()).toBe(true);
    new Uint16Array(ram.bytes.buffer, ram.bytes.byteOffset + ram.gpaToOffset(driver.availGpa), 1)[0] =
      AVAIL_F_NO_INTERRUPT;
    driver.publish(driver.addChain([buffer('b')], [], false));
    queue.pushUsed(queue.pop()!.head, 0);
    expect(queue.takeNotification()).toBe(false);
  });

  test('under EVENT_IDX notifies only when used_event is crossed, and publishes avail_event', () => {
    setup({ eventIdx: true });
    driver.setUsedEvent(2);
    for (let i = 0; i < 3; i++) driver.publish(driver.addChain([buffer(`${i}`)], [], false));
    const notified: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      queue.pushUsed(queue.pop()!.head, 0);
      notified.push(queue.takeNotification());
    }
    expect(notified).toEqual([false, false, true]);
    expect(driver.availEvent).toBe(3);
  });

  test('pins guest memory while a chain is in flight', () => {
    setup();
    driver.publish(driver.addChain([buffer('held')], [], false));
    const chain = queue.pop()!;
    memory.clear();
    // Still mapped: the chain's view is usable until the chain is pushed back.
    expect(new TextDecoder().decode(chain.readable[0]!.bytes)).toBe('held');
    queue.pushUsed(chain.head, 0);
    expect(memory.regionCount).toBe(0);
  });

  test('a chain in flight when the ring restarts with another size is an orphan: no used entry, its pin let go when it finishes', () => {
    setup();
    driver.publish(driver.addChain([buffer('old')], [], false));
    const orphan = queue.pop()!;
    queue.stop();
    // The driver was reset and set the queue up again, 32 entries now.
    const bigger = new DriverQueue(ram, 1, 2 * SIZE, false);
    const bytes = Virtqueue.ringBytes(2 * SIZE);
    queue.start({
      size: 2 * SIZE,
      rings: {
        desc: memory.guestRange(bigger.descGpa, bytes.desc)!,
        avail: memory.guestRange(bigger.availGpa, bytes.avail)!,
        used: memory.guestRange(bigger.usedGpa, bytes.used)!,
      },
      lastAvail: 0,
      eventIdx: false,
      indirect: false,
    });
    bigger.publish(bigger.addChain([buffer('new')], [], false));
    const current = queue.pop()!;
    expect(queue.releaseOrphan(current)).toBe(false);
    queue.pushUsed(current.head, 0);
    const ramMappings = (): number =>
      readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .filter((l) => l.includes('vfs-guest-ram')).length;
    memory.clear();
    // Still mapped: the orphan's handler may yet write to it.
    const held = ramMappings();
    expect(new TextDecoder().decode(orphan.readable[0]!.bytes)).toBe('old');
    expect(queue.releaseOrphan(orphan)).toBe(true);
    expect(ramMappings()).toBeLessThan(held);
    expect(bigger.reap()).toEqual([{ head: current.head, len: 0 }]);
    bigger.close();
  });

  test('a chain abandoned after its ring stopped frees its head and its memory pin', () => {
    setup();
    const head = driver.addChain([buffer('held')], [], false);
    driver.publish(head);
    expect(queue.pop()!.head).toBe(head);
    const base = queue.stop();
    queue.abandon(head);
    start({}, base);
    driver.publish(head);
    const again = queue.pop();
    expect(errors).toEqual([]);
    expect(again?.head).toBe(head);
    memory.clear();
    queue.pushUsed(head, 0);
    expect(memory.regionCount).toBe(0);
  });

  test('a chain given back unanswered is popped again, and a stop reports it as not taken', () => {
    setup();
    const first = driver.addChain([buffer('one')], [], false);
    const second = driver.addChain([buffer('two')], [], false);
    driver.publish(first);
    driver.publish(second);
    queue.pushUsed(queue.pop()!.head, 0);
    const given = queue.pop()!;
    expect(given.head).toBe(second);
    expect(queue.unpop(given)).toBe(true);
    // Its pin is let go with it: guest memory may go while it waits on the ring.
    memory.clear();
    expect(memory.regionCount).toBe(0);
    expect(queue.unpop(given)).toBe(false);
    expect(queue.stop()).toBe(1);
    expect(driver.reap()).toEqual([{ head: first, len: 0 }]);
  });

  test('a chain given back is taken again by the next pop, past the malformed head skipped before it', () => {
    setup({ eventIdx: true });
    const head = driver.addChain([buffer('again')], [], false);
    driver.publish(SIZE + 3);
    driver.publish(head);
    const chain = queue.pop()!;
    expect(queue.unpop(chain)).toBe(true);
    // Kicks are asked for from its slot again.
    expect(driver.availEvent).toBe(1);
    expect(queue.hasAvailable()).toBe(true);
    const again = queue.pop()!;
    expect(again.head).toBe(head);
    expect(new TextDecoder().decode(again.readable[0]!.bytes)).toBe('again');
    expect(errors.map((e) => e.kind)).toEqual(['head-out-of-range']);
  });

  test('only the chain the last pop returned can be given back', () => {
    setup();
    const [a, b] = [driver.addChain([buffer('a')], [], false), driver.addChain([buffer('b')], [], false)];
    driver.publish(a);
    driver.publish(b);
    const first = queue.pop()!;
    const second = queue.pop()!;
    expect(queue.unpop(first)).toBe(false);
    expect(queue.pop()).toBeNull();
    expect(queue.unpop(second)).toBe(false);
    expect(queue.stop()).toBe(2);
  });
});
