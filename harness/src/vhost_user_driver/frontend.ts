// A vhost-user front-end that plays QEMU (memfd guest RAM, SET_MEM_TABLE or ADD_MEM_REG, vrings,
// kick/call eventfds, the DAX window) and the guest's virtio driver (descriptor chains). It drives
// our device and /usr/lib/qemu/virtiofsd alike, using only what a real QEMU does, and doubles as
// the hostile guest: raw messages, raw descriptors, disconnects.
//
// Everything is synchronous: submit, kick, then block in poll() on the call eventfd.
import { drain, signal } from '@vfs/daemon/sys';
import { closeAll } from '@vfs/daemon/sys';
import { POLLIN, PollSet } from '@vfs/daemon/sys';
import { Connection, u64Payload, type VhostUserMessage } from '@vfs/daemon/vhost-user';
import { VhostUserError } from '@vfs/daemon/vhost-user';
import {
  FLAG_NEED_REPLY,
  FLAG_REPLY,
  FrontendRequest as R,
  Layout,
  ProtocolFeature as PF,
  VirtioFeature as VF,
  bit,
  hasBit,
} from '@vfs/daemon/vhost-user';
import { socketPair } from '@vfs/daemon/sys';
import { DESC_SIZE, type RegionSpec } from '@vfs/daemon/virtio';
import { DriverQueue, type GuestRange, type UsedEntry } from './driver_queue';
import { GuestRam } from './guest_ram';
import { type MappingListener, ShmemWindow, type WindowMapping } from './shmem_window';
import type { Submission, VirtioFsTransport } from './transport';
import { VhostUserClient } from './vhost_user_client';

export interface FrontendOptions {
  readonly socketPath: string;
  /** Guest RAM bytes; default 64 MiB. */
  readonly memorySize?: number;
  /** How many regions guest RAM is shown as (holes between them); default 1. */
  readonly memoryRegions?: number;
  /** 'table': SET_MEM_TABLE (default); 'slots': one ADD_MEM_REG per region. */
  readonly memoryMode?: 'table' | 'slots';
  /** Entries per vring; default 128. */
  readonly queueSize?: number;
  /** Request queues besides hiprio; default 1. */
  readonly requestQueues?: number;
  /** Negotiate VIRTIO_F_RING_INDIRECT_DESC and put every chain in an indirect table. */
  readonly indirect?: boolean;
  /** Negotiate VIRTIO_F_RING_EVENT_IDX. */
  readonly eventIdx?: boolean;
  /** Hand the back-end a request channel (SET_BACKEND_REQ_FD). */
  readonly backendChannel?: boolean;
  /** Reserve a DAX window of this size and serve SHMEM_MAP/UNMAP (needs backendChannel). */
  readonly shmemSize?: number;
  /** Serve them as our QEMU does (vmm/patches): a map replaces what it overlaps in place. */
  readonly shmemInPlace?: boolean;
  /**
   * Announce each writable DAX mapping as guest memory (ADD_MEM_REG, REM_MEM_REG when it goes)
   * right after answering SHMEM_MAP/UNMAP, blocking on the back-end's reply, as QEMU's memory
   * transaction does (needs memoryMode 'slots').
   */
  readonly announceMappings?: boolean;
  /** Negotiate CONFIG, as QEMU's generic vhost-user device with a config_size does (getConfig). */
  readonly config?: boolean;
  /** How long to wait for the socket to appear; default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Default wait for used buffers and replies; default 5000 ms. */
  readonly timeoutMs?: number;
}

export class TransportTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportTimeoutError';
  }
}

/** A request's guest buffers, owned and refilled by the caller of runSlots. */
export class GuestChain {
  /** Guest-physical address and length of each buffer; the first `readable` are device-readable. */
  readonly gpa: Float64Array;
  readonly len: Uint32Array;
  count = 0;
  readable = 0;

  constructor(
    readonly capacity: number,
    /** The chain's own indirect table (room for `capacity` entries), or -1 for direct chains. */
    readonly tableGpa: number,
  ) {
    this.gpa = new Float64Array(capacity);
    this.len = new Uint32Array(capacity);
  }

  /** Starts a new request: no buffers. */
  clear(): void {
    this.count = 0;
    this.readable = 0;
  }

  /** Appends a device-readable buffer (before any writable one). */
  read(gpa: number, len: number): void {
    this.add(gpa, len);
    this.readable = this.count;
  }

  /** Appends a device-writable buffer. */
  write(gpa: number, len: number): void {
    this.add(gpa, len);
  }

  private add(gpa: number, len: number): void {
    if (this.count === this.capacity) throw new RangeError(`a chain of at most ${this.capacity} buffers`);
    this.gpa[this.count] = gpa;
    this.len[this.count] = len;
    this.count++;
  }
}

interface InFlight {
  readonly buffers: number[];
  readonly reply: GuestRange | null;
}

const DEFAULT_MEMORY = 64 << 20;
/** Where the DAX window sits in guest-physical space: far above guest RAM, as a 64-bit BAR is. */
const WINDOW_GPA = 2 ** 40;
const WANTED_PROTOCOL = bit(PF.MQ) | bit(PF.REPLY_ACK) | bit(PF.RESET_DEVICE);

export class VhostUserFrontend implements VirtioFsTransport {
  readonly ram: GuestRam;
  readonly queues: DriverQueue[];
  readonly shmem: ShmemWindow | null;
  /** The virtio features acked with SET_FEATURES. */
  features = 0n;
  protocolFeatures = 0n;
  /** The shared-memory region sizes GET_SHMEM_CONFIG answered (asked when SHMEM is negotiated). */
  shmemConfig: number[] = [];
  private client: VhostUserClient | null = null;
  private backendFd = -1;
  private backendConn: Connection | null = null;
  private readonly timeoutMs: number;
  private readonly pollSets: { backendFd: number; set: PollSet }[] = [];
  private readonly slotMaps: Int32Array[] = [];

  private constructor(private readonly options: FrontendOptions) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.ram = new GuestRam(options.memorySize ?? DEFAULT_MEMORY, options.memoryRegions ?? 1);
    const queueCount = 1 + (options.requestQueues ?? 1);
    const size = options.queueSize ?? 128;
    this.queues = Array.from(
      { length: queueCount },
      (_, i) => new DriverQueue(this.ram, i, size, options.eventIdx ?? false),
    );
    this.shmem =
      options.shmemSize !== undefined ? new ShmemWindow(options.shmemSize, options.shmemInPlace ?? false) : null;
  }

  /** Connects and runs the whole set-up QEMU does before the guest boots. */
  static connect(options: FrontendOptions): VhostUserFrontend {
    const frontend = new VhostUserFrontend(options);
    try {
      frontend.reconnect();
    } catch (err) {
      frontend.close();
      throw err;
    }
    return frontend;
  }

  /** The raw message channel, for tests that speak vhost-user by hand. */
  get connection(): Connection {
    if (this.client === null) throw new Error('not connected');
    return this.client.conn;
  }

  get vhostUser(): VhostUserClient {
    if (this.client === null) throw new Error('not connected');
    return this.client;
  }

  /** Connects again (after disconnect()) and sets the device up; rings resume where they were. */
  reconnect(): void {
    if (this.client !== null) throw new Error('already connected');
    this.client = VhostUserClient.connect(
      this.options.socketPath,
      this.options.connectTimeoutMs ?? 5000,
      this.timeoutMs,
    );
    this.negotiate();
    this.shareMemory();
    for (const q of this.queues) this.startQueue(q);
  }

  /** Drops the connection as a crashing or rebooting VMM would (guest RAM and rings stay). */
  disconnect(): void {
    this.client?.close();
    this.client = null;
    this.backendConn?.close();
    this.backendConn = null;
    this.backendFd = -1;
  }

  close(): void {
    this.disconnect();
    for (const q of this.queues) q.close();
    this.shmem?.close();
    this.ram.close();
  }

  call(queue: number, sub: Submission, timeoutMs?: number): Uint8Array {
    let pending: Submission | null = sub;
    let reply: Uint8Array | null = null;
    const next = (): Submission | null => {
      const s = pending;
      pending = null;
      return s;
    };
    this.pipeline(queue, 1, next, (r) => (reply = r), timeoutMs);
    if (reply === null) throw new Error(`queue ${queue}: the chain completed without a reply`);
    return reply;
  }

  pipeline(
    queue: number,
    depth: number,
    next: () => Submission | null,
    done: (reply: Uint8Array) => void,
    timeoutMs: number = this.timeoutMs,
  ): void {
    const q = this.queue(queue);
    const inFlight = new Map<number, InFlight>();
    let exhausted = false;
    for (;;) {
      while (!exhausted && inFlight.size < depth) {
        const sub = next();
        if (sub === null) exhausted = true;
        else this.place(q, sub, inFlight);
      }
      this.kick(q);
      if (inFlight.size === 0) return;
      this.awaitUsed(q, timeoutMs);
      while (q.nextUsed()) {
        const rec = inFlight.get(q.usedHead);
        if (rec === undefined)
          throw new Error(`queue ${queue}: the device returned head ${q.usedHead}, which is not in flight`);
        inFlight.delete(q.usedHead);
        const reply =
          rec.reply === null
            ? new Uint8Array(0)
            : this.ram.view(rec.reply.gpa, Math.min(q.usedLen, rec.reply.len)).slice();
        q.freeChain(q.usedHead);
        for (const gpa of rec.buffers) this.ram.release(gpa);
        done(reply);
      }
    }
  }

  /**
   * A chain for runSlots: buffers in guest RAM that the caller allocates once and refills per
   * request, plus an indirect table when the queue uses indirect descriptors.
   */
  chain(maxBuffers: number): GuestChain {
    const tableGpa = this.options.indirect ? this.ram.alloc(maxBuffers * DESC_SIZE, 16) : -1;
    return new GuestChain(maxBuffers, tableGpa);
  }

  /**
   * Keeps one request per slot in flight on `queue`, as `chains.length` guest threads would, with
   * no copy or allocation per request: `step(slot, written)` is called once per slot with
   * written = -1, then after each completion with the bytes the device wrote; it refills
   * chains[slot] for the slot's next request and returns true, or returns false to retire the slot.
   * Returns when every slot is retired.
   */
  runSlots(
    queue: number,
    chains: readonly GuestChain[],
    step: (slot: number, written: number) => boolean,
    timeoutMs: number = this.timeoutMs,
  ): void {
    const q = this.queue(queue);
    const slotOf = this.slotOfHead(q);
    let inFlight = 0;
    for (let s = 0; s < chains.length; s++) {
      if (!step(s, -1)) continue;
      this.submit(q, chains[s]!, s, slotOf);
      inFlight++;
    }
    while (inFlight > 0) {
      this.kick(q);
      this.awaitUsed(q, timeoutMs);
      while (q.nextUsed()) {
        const head = q.usedHead;
        const slot = head < slotOf.length ? slotOf[head]! : -1;
        if (slot < 0) throw new Error(`queue ${queue}: the device returned head ${head}, which is not in flight`);
        slotOf[head] = -1;
        q.freeChain(head);
        inFlight--;
        if (!step(slot, q.usedLen)) continue;
        this.submit(q, chains[slot]!, slot, slotOf);
        inFlight++;
      }
    }
  }

  /** Kicks the device if it wants to hear about newly published chains. */
  kick(q: DriverQueue): void {
    if (q.needsKick()) signal(q.kickFd);
  }

  /** Blocks until the device used at least one chain of `queue`; serves back-end requests meanwhile. */
  waitUsed(queue: number, timeoutMs: number = this.timeoutMs): UsedEntry[] {
    const q = this.queue(queue);
    this.awaitUsed(q, timeoutMs);
    return q.reap();
  }

  /** Whether the device signalled the call eventfd of `queue` (consumes the signal). */
  takeCall(queue: number): boolean {
    return drain(this.queue(queue).callFd);
  }

  queue(index: number): DriverQueue {
    const q = this.queues[index];
    if (q === undefined) throw new RangeError(`queue ${index} does not exist (${this.queues.length} queues)`);
    return q;
  }

  /**
   * Sends SET_MEM_TABLE as QEMU does after a memory change, one fd per region; hostile tests pass
   * regions that do not match guest RAM or fds that do not hold them. Throws if it is refused.
   */
  setMemTable(regions: readonly RegionSpec[], fds: readonly number[]): void {
    const payload = regionPayload(Layout.MEMORY_TABLE_HEADER, regions);
    new DataView(payload.buffer).setUint32(0, regions.length, true);
    this.vhostUser.set(R.SET_MEM_TABLE, payload, fds);
  }

  /** Reads and answers one back-end request (SHMEM_MAP/UNMAP); others are refused. */
  serveBackendRequest(): void {
    const conn = this.backendConn;
    if (conn === null) throw new Error('no back-end request channel');
    const msg = conn.receive();
    if (msg === null) throw new VhostUserError('back-end closed its request channel');
    const respond = (status: bigint): void => {
      if ((msg.flags & FLAG_NEED_REPLY) !== 0) conn.send(msg.request, FLAG_REPLY, u64Payload(status));
    };
    if (this.shmem !== null) this.shmem.handle(msg, this.mappingListener(), respond);
    else respond(refuse(msg));
  }

  /** GET_CONFIG: `size` bytes of the device config space from `offset`. */
  getConfig(size: number, offset = 0): Uint8Array {
    const request = new Uint8Array(Layout.CONFIG_HEADER + size);
    const v = new DataView(request.buffer);
    v.setUint32(0, offset, true);
    v.setUint32(4, size, true);
    const reply = this.vhostUser.get(R.GET_CONFIG, request);
    if (reply.length !== request.length) throw new VhostUserError(`GET_CONFIG answered ${reply.length} bytes`);
    return reply.subarray(Layout.CONFIG_HEADER);
  }

  /** Starts queue `index` again after a stop, from `base` (what GET_VRING_BASE answered), as QEMU does. */
  restartQueue(index: number, base: number): void {
    this.startQueue(this.queue(index), base);
  }

  /** With announceMappings, the listener that tells the back-end about writable mappings. */
  private mappingListener(): MappingListener | null {
    const shmem = this.shmem;
    if (!this.options.announceMappings || shmem === null) return null;
    const region = (m: WindowMapping): Uint8Array =>
      regionPayload(Layout.SINGLE_REGION_OFFSET, [
        {
          guestAddr: WINDOW_GPA + m.shmOffset,
          size: m.len,
          userAddr: shmem.base + m.shmOffset,
          mmapOffset: m.fdOffset,
        },
      ]);
    return {
      added: (m, fd) => this.vhostUser.set(R.ADD_MEM_REG, region(m), [fd]),
      removed: (m) => this.vhostUser.set(R.REM_MEM_REG, region(m)),
    };
  }

  /** Blocks until `q` has used entries to take; serves back-end requests meanwhile. */
  private awaitUsed(q: DriverQueue, timeoutMs: number): void {
    if (q.hasUsed()) return;
    const deadline = Date.now() + timeoutMs;
    const poll = this.pollSet(q);
    for (;;) {
      // Under EVENT_IDX this asks for an interrupt at the next used entry, then re-checks.
      if (q.armInterrupt()) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TransportTimeoutError(
          `queue ${q.index}: no used buffer within ${timeoutMs} ms (used idx ${q.usedIdx})`,
        );
      }
      // 0 is a timeout or a signal (a child exiting): the deadline above tells which.
      if (poll.wait(left) === 0) continue;
      if (poll.revents(0) !== 0) drain(q.callFd);
      if (poll.size > 1 && poll.revents(1) !== 0) this.serveBackendRequest();
      if (q.hasUsed()) return;
    }
  }

  /** The poll set of `q`'s call eventfd (and the back-end channel), built once per connection. */
  private pollSet(q: DriverQueue): PollSet {
    const cached = this.pollSets[q.index];
    if (cached !== undefined && cached.backendFd === this.backendFd) return cached.set;
    const set = new PollSet(this.backendFd >= 0 ? [q.callFd, this.backendFd] : [q.callFd], POLLIN);
    this.pollSets[q.index] = { backendFd: this.backendFd, set };
    return set;
  }

  /** The slot each in-flight head of `q` belongs to (-1: none), for runSlots. */
  private slotOfHead(q: DriverQueue): Int32Array {
    let map = this.slotMaps[q.index];
    if (map === undefined) {
      map = new Int32Array(q.size).fill(-1);
      this.slotMaps[q.index] = map;
    }
    return map;
  }

  private submit(q: DriverQueue, c: GuestChain, slot: number, slotOf: Int32Array): void {
    const head = q.addChainFrom(c.gpa, c.len, c.count, c.readable, c.tableGpa);
    slotOf[head] = slot;
    q.publish(head);
  }

  private place(q: DriverQueue, sub: Submission, inFlight: Map<number, InFlight>): void {
    const buffers: number[] = [];
    const readable: GuestRange[] = [];
    for (const bytes of sub.readable) {
      if (bytes.length === 0) continue;
      const gpa = this.ram.alloc(bytes.length);
      buffers.push(gpa);
      this.ram.view(gpa, bytes.length).set(bytes);
      readable.push({ gpa, len: bytes.length });
    }
    let reply: GuestRange | null = null;
    if (sub.writableLen > 0) {
      const gpa = this.ram.alloc(sub.writableLen);
      buffers.push(gpa);
      reply = { gpa, len: sub.writableLen };
    }
    const head = q.addChain(readable, reply === null ? [] : [reply], this.options.indirect ?? false);
    inFlight.set(head, { buffers, reply });
    q.publish(head);
  }

  private negotiate(): void {
    const c = this.vhostUser;
    const offered = c.getU64(R.GET_FEATURES);
    if (!hasBit(offered, VF.PROTOCOL_FEATURES)) throw new VhostUserError('back-end does not offer protocol features');
    let wanted = WANTED_PROTOCOL;
    if (this.options.memoryMode === 'slots') wanted |= bit(PF.CONFIGURE_MEM_SLOTS);
    else if (this.options.announceMappings) throw new Error("announceMappings needs memoryMode 'slots'");
    if (this.options.backendChannel) wanted |= bit(PF.BACKEND_REQ) | bit(PF.BACKEND_SEND_FD);
    if (this.shmem !== null) wanted |= bit(PF.SHMEM);
    if (this.options.config) wanted |= bit(PF.CONFIG);
    this.protocolFeatures = c.getU64(R.GET_PROTOCOL_FEATURES) & wanted;
    c.setU64(R.SET_PROTOCOL_FEATURES, this.protocolFeatures);
    c.replyAck = hasBit(this.protocolFeatures, PF.REPLY_ACK);
    // QEMU's generic device with a config_size refuses a back end without CONFIG.
    if (this.options.config && !hasBit(this.protocolFeatures, PF.CONFIG))
      throw new VhostUserError('back-end does not offer CONFIG');
    if (hasBit(this.protocolFeatures, PF.SHMEM)) this.shmemConfig = shmemSizes(c.get(R.GET_SHMEM_CONFIG));
    if (hasBit(this.protocolFeatures, PF.MQ)) {
      const max = Number(c.getU64(R.GET_QUEUE_NUM));
      if (max < this.queues.length)
        throw new VhostUserError(`back-end supports ${max} queues, ${this.queues.length} wanted`);
    }
    if (this.options.memoryMode === 'slots') {
      if (!hasBit(this.protocolFeatures, PF.CONFIGURE_MEM_SLOTS))
        throw new VhostUserError('back-end lacks CONFIGURE_MEM_SLOTS');
      const slots = Number(c.getU64(R.GET_MAX_MEM_SLOTS));
      if (slots < this.ram.regions.length) throw new VhostUserError(`back-end has ${slots} memory slots`);
    }
    if (this.options.backendChannel && hasBit(this.protocolFeatures, PF.BACKEND_REQ)) {
      const [mine, theirs] = socketPair();
      this.backendFd = mine;
      this.backendConn = new Connection(mine, this.timeoutMs);
      try {
        c.set(R.SET_BACKEND_REQ_FD, undefined, [theirs]);
      } finally {
        closeAll([theirs]);
      }
    }
    c.set(R.SET_OWNER);
    let features = bit(VF.VERSION_1) | bit(VF.PROTOCOL_FEATURES);
    if (this.options.indirect) features |= bit(VF.RING_INDIRECT_DESC);
    if (this.options.eventIdx) features |= bit(VF.RING_EVENT_IDX);
    const missing = features & ~offered;
    if (missing !== 0n) throw new VhostUserError(`back-end lacks features 0x${missing.toString(16)}`);
    this.features = features;
    c.setU64(R.SET_FEATURES, features);
  }

  private shareMemory(): void {
    const c = this.vhostUser;
    const regions = this.ram.regions;
    if (this.options.memoryMode === 'slots') {
      for (const r of regions) c.set(R.ADD_MEM_REG, regionPayload(Layout.SINGLE_REGION_OFFSET, [r]), [this.ram.fd]);
      return;
    }
    this.setMemTable(
      regions,
      regions.map(() => this.ram.fd),
    );
  }

  private startQueue(q: DriverQueue, base: number = q.nextAvail): void {
    const c = this.vhostUser;
    c.set(R.SET_VRING_NUM, statePayload(q.index, q.size));
    c.set(R.SET_VRING_BASE, statePayload(q.index, base));
    const addr = new Uint8Array(Layout.VRING_ADDR_SIZE);
    const v = new DataView(addr.buffer);
    v.setUint32(0, q.index, true);
    v.setBigUint64(Layout.VRING_ADDR_DESC, BigInt(this.ram.userAddr(q.descGpa)), true);
    v.setBigUint64(Layout.VRING_ADDR_USED, BigInt(this.ram.userAddr(q.usedGpa)), true);
    v.setBigUint64(Layout.VRING_ADDR_AVAIL, BigInt(this.ram.userAddr(q.availGpa)), true);
    c.set(R.SET_VRING_ADDR, addr);
    c.setU64(R.SET_VRING_KICK, q.index, [q.kickFd]);
    c.setU64(R.SET_VRING_CALL, q.index, [q.callFd]);
    c.set(R.SET_VRING_ENABLE, statePayload(q.index, 1));
  }
}

function shmemSizes(reply: Uint8Array): number[] {
  if (reply.length < Layout.SHMEM_CONFIG_SIZE)
    throw new VhostUserError(`GET_SHMEM_CONFIG answered ${reply.length} bytes`);
  const v = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  const count = v.getUint32(0, true);
  return Array.from({ length: count }, (_, i) => Number(v.getBigUint64(8 + 8 * i, true)));
}

function refuse(msg: VhostUserMessage): bigint {
  closeAll(msg.fds.splice(0));
  return 1n;
}

export function statePayload(index: number, num: number): Uint8Array {
  const payload = new Uint8Array(Layout.VRING_STATE_SIZE);
  const v = new DataView(payload.buffer);
  v.setUint32(0, index, true);
  v.setUint32(4, num, true);
  return payload;
}

/** Region descriptions after a `header`-byte prefix (memory table or single region). */
export function regionPayload(
  header: number,
  regions: readonly { guestAddr: number; size: number; userAddr: number; mmapOffset: number }[],
): Uint8Array {
  const payload = new Uint8Array(header + regions.length * Layout.MEMORY_REGION_SIZE);
  const v = new DataView(payload.buffer);
  regions.forEach((r, i) => {
    const at = header + i * Layout.MEMORY_REGION_SIZE;
    v.setBigUint64(at, BigInt(r.guestAddr), true);
    v.setBigUint64(at + 8, BigInt(r.size), true);
    v.setBigUint64(at + 16, BigInt(r.userAddr), true);
    v.setBigUint64(at + 24, BigInt(r.mmapOffset), true);
  });
  return payload;
}
