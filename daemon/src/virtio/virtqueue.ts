// The device side of a split virtqueue: pops descriptor chains from the available ring, translates
// their buffers through GuestMemory, and pushes used entries. Everything the guest wrote is
// untrusted: a bad chain (out-of-range index, loop, buffer outside RAM, nested indirect table…)
// is reported through `onGuestError` as a VirtqueueError and answered with a zero-length used
// entry; the queue keeps going. Only a corrupt available index breaks the queue (there is nothing
// left to trust).
//
// Hot path: chain objects are pooled per head index and buffers are reused GuestSlices, so popping
// allocates nothing once warm (only a guest error allocates: its VirtqueueError). A head keeps the
// slots of a short chain; longer chains borrow from a bounded pool shared by the queue, so no
// sequence of chains, malformed or not, leaves the queue holding more than that. Ring indices go
// through Atomics (full fences on x86-64) because the guest reads and writes the same memory
// concurrently.
import type { DescriptorChain } from './descriptor_chain';
import { type GuestMemory, GuestSlice, type HostRange } from './guest_memory';
import {
  AVAIL_F_NO_INTERRUPT,
  DESC_ADDR,
  DESC_FLAGS,
  DESC_LEN,
  DESC_NEXT,
  DESC_SIZE,
  USED_F_NO_NOTIFY,
  DescFlag,
  availEventOffset,
  availRingBytes,
  descTableBytes,
  needEvent,
  usedEventOffset,
  usedRingBytes,
} from './ring_layout';
import { VirtqueueError, type VirtqueueErrorKind } from './virtqueue_error';

export type GuestErrorSink = (error: VirtqueueError) => void;

/** The most entries an indirect table may have (Linux sizes them by the request, not the ring). */
export const MAX_INDIRECT_ENTRIES = 4096;
/** Buffer slots a head keeps between chains: enough for every request but large I/O. */
const KEPT_SLOTS = 16;
/**
 * Slots a queue keeps for long chains (large I/O) beyond its heads' own, so what a guest can make
 * the queue hold stays bounded whatever chains it sent before (malformed ones included).
 */
const SPARE_SLOTS = 2 * MAX_INDIRECT_ENTRIES;

export interface RingLocation {
  readonly desc: HostRange;
  readonly avail: HostRange;
  readonly used: HostRange;
}

export interface QueueSetup {
  readonly size: number;
  readonly rings: RingLocation;
  /** Next available-ring index to process (SET_VRING_BASE). */
  readonly lastAvail: number;
  readonly eventIdx: boolean;
  readonly indirect: boolean;
}

class PooledChain implements DescriptorChain {
  head = 0;
  /** The queue's epoch when popped (Virtqueue.epoch): a chain of an earlier one belongs to no ring. */
  epoch = 0;
  /** The generation of its memory pin (GuestMemory.pin) while in flight. */
  pinGeneration = 0;
  readonly readable: GuestSlice[] = [];
  readonly writable: GuestSlice[] = [];
  writableBytes = 0;
  private readonly slots: GuestSlice[] = [];
  private used = 0;

  /** `spare`: the queue's slots for chains longer than KEPT_SLOTS, shared by its heads. */
  constructor(private readonly spare: GuestSlice[]) {}

  reset(head: number): void {
    this.head = head;
    this.readable.length = 0;
    this.writable.length = 0;
    this.writableBytes = 0;
    this.used = 0;
  }

  nextSlot(): GuestSlice {
    if (this.used === this.slots.length) this.slots.push(this.spare.pop() ?? new GuestSlice());
    return this.slots[this.used++]!;
  }

  /**
   * The chain is answered or rejected: slots beyond KEPT_SLOTS go back to the spare pool (up to
   * its bound, the rest to the collector), so a head keeps no more than a short chain needs.
   */
  shrink(): void {
    const slots = this.slots;
    if (slots.length <= KEPT_SLOTS) return;
    this.reset(this.head);
    while (slots.length > KEPT_SLOTS) {
      const slot = slots.pop()!;
      if (this.spare.length < SPARE_SLOTS) this.spare.push(slot);
    }
  }
}

export class Virtqueue {
  private size = 0;
  private mask = 0;
  private ready = false;
  private eventIdx = false;
  private indirect = false;
  private desc: DataView = new DataView(new ArrayBuffer(0));
  private descBase = 0;
  private avail: Uint16Array = new Uint16Array(0);
  private used16: Uint16Array = new Uint16Array(0);
  private used32: Uint32Array = new Uint32Array(0);
  /** u16 indices of avail_event (in used16) and used_event (in avail), fixed per start(). */
  private availEventAt = 0;
  private usedEventAt = 0;
  private lastAvail = 0;
  private usedIdx = 0;
  private signalledUsed = 0;
  private pendingNotify = false;
  /** False while the device loop polls the ring: the driver need not kick. */
  private kicksWanted = true;
  private chains: (PooledChain | undefined)[] = [];
  private readonly spareSlots: GuestSlice[] = [];
  /** Per descriptor of the ring's table and of an indirect table: the walk that last met it. */
  private seenDirect = new Uint32Array(0);
  private readonly seenIndirect = new Uint32Array(MAX_INDIRECT_ENTRIES);
  private walkStamp = 0;
  private inFlight = new Uint8Array(0);
  /**
   * Bumped when the chains in flight stop belonging to the ring: a restart with another size (a
   * driver reset renegotiated it) or a handler reset. A deferred chain of an earlier epoch that
   * finishes gets no used entry: its head means nothing in the ring now.
   */
  private epoch = 0;
  private popHeads = 0;
  /** The chain the last pop() returned (null if it returned none): the one unpop() may give back. */
  private lastPopped: PooledChain | null = null;
  private readonly tableSlot = new GuestSlice();

  constructor(
    readonly index: number,
    private readonly memory: GuestMemory,
    private readonly onGuestError: GuestErrorSink,
  ) {}

  get isReady(): boolean {
    return this.ready;
  }

  /** Starts processing; returns the guest's error instead of starting if the rings are unusable. */
  start(setup: QueueSetup): VirtqueueError | null {
    const { size, rings } = setup;
    if (rings.avail.offset % 2 !== 0 || rings.used.offset % 4 !== 0 || rings.desc.offset % 16 !== 0) {
      return new VirtqueueError('misaligned-ring', this.index, 'misaligned ring address');
    }
    this.size = size;
    this.mask = size - 1;
    this.desc = rings.desc.view;
    this.descBase = rings.desc.offset;
    this.avail = new Uint16Array(rings.avail.view.buffer, rings.avail.view.byteOffset + rings.avail.offset, 3 + size);
    this.used16 = new Uint16Array(rings.used.view.buffer, rings.used.view.byteOffset + rings.used.offset, 3 + 4 * size);
    this.used32 = new Uint32Array(rings.used.view.buffer, rings.used.view.byteOffset + rings.used.offset, 1 + 2 * size);
    this.availEventAt = availEventOffset(size);
    this.usedEventAt = usedEventOffset(size);
    this.lastAvail = setup.lastAvail & 0xffff;
    this.usedIdx = Atomics.load(this.used16, 1);
    this.signalledUsed = this.usedIdx;
    this.eventIdx = setup.eventIdx;
    this.indirect = setup.indirect;
    if (this.chains.length !== size) {
      // Chains still in flight keep their pins (a handler may yet write to them) as orphans.
      this.epoch++;
      this.chains = new Array<PooledChain | undefined>(size);
      this.inFlight = new Uint8Array(size);
      this.seenDirect = new Uint32Array(size);
    }
    this.ready = true;
    this.kicksWanted = true;
    if (this.eventIdx) Atomics.store(this.used16, this.availEventAt, this.lastAvail);
    else Atomics.store(this.used16, 0, 0);
    return null;
  }

  /** Stops processing (GET_VRING_BASE, memory going away); returns the next available index. */
  stop(): number {
    this.ready = false;
    return this.lastAvail;
  }

  /** Forgets every chain in flight: the handler that held them was reset (its owner unpins all). */
  forgetInFlight(): void {
    this.epoch++;
    this.inFlight.fill(0);
    for (const chain of this.chains) chain?.shrink();
  }

  /** The byte sizes of the three rings of a queue of `size` entries. */
  static ringBytes(size: number): { desc: number; avail: number; used: number } {
    return { desc: descTableBytes(size), avail: availRingBytes(size), used: usedRingBytes(size) };
  }

  /**
   * Pops the next well-formed chain, answering malformed ones on the way; null when empty, or once
   * it took `maxHeads` heads (lastPopHeads tells how many it took): a guest answered for each
   * malformed head can publish the next as fast as we answer, so a caller bounds its round and comes
   * back for the rest (hasAvailable) after serving others.
   */
  pop(maxHeads: number = this.size): DescriptorChain | null {
    this.popHeads = 0;
    this.lastPopped = null;
    while (this.ready && this.popHeads < maxHeads) {
      const availIdx = Atomics.load(this.avail, 1);
      if (availIdx === this.lastAvail) return null;
      if (((availIdx - this.lastAvail) & 0xffff) > this.size) {
        this.ready = false;
        const message = `available index ${availIdx} is more than ${this.size} ahead of ${this.lastAvail}: queue stopped`;
        this.onGuestError(new VirtqueueError('avail-index-overrun', this.index, message));
        return null;
      }
      const head = this.avail[2 + (this.lastAvail & this.mask)]!;
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
      this.popHeads++;
      // Under EVENT_IDX, ask to be kicked for the next buffer; the seq-cst store orders this before
      // the next Atomics.load of avail.idx, so a buffer added in between is never missed.
      if (this.eventIdx && this.kicksWanted) Atomics.store(this.used16, this.availEventAt, this.lastAvail);
      const chain = this.parse(head);
      if (chain !== null) {
        this.lastPopped = chain;
        return chain;
      }
    }
    return null;
  }

  /**
   * Gives back `chain`, still unanswered, if the last pop() returned it: the next pop (or the index
   * a stop returns) takes its slot again, whatever the guest left there. False otherwise.
   */
  unpop(chain: DescriptorChain): boolean {
    const pooled = chain as PooledChain;
    if (pooled !== this.lastPopped || pooled.epoch !== this.epoch || this.inFlight[pooled.head] !== 1) return false;
    this.lastPopped = null;
    this.lastAvail = (this.lastAvail - 1) & 0xffff;
    // Before the pin goes: a stopped ring's memory may be unmapped once the chain lets go of it.
    if (this.ready && this.eventIdx && this.kicksWanted) Atomics.store(this.used16, this.availEventAt, this.lastAvail);
    this.abandon(pooled.head);
    return true;
  }

  /** Heads the last pop() took from the ring, malformed ones included. */
  get lastPopHeads(): number {
    return this.popHeads;
  }

  /** Whether the driver published chains not popped yet. */
  hasAvailable(): boolean {
    return this.ready && Atomics.load(this.avail, 1) !== this.lastAvail;
  }

  /**
   * The device loop polls the ring: the driver need not kick. Under EVENT_IDX avail_event simply
   * stays behind (the driver has passed it); otherwise used.flags says NO_NOTIFY.
   */
  suppressKicks(): void {
    this.kicksWanted = false;
    if (!this.eventIdx) Atomics.store(this.used16, 0, USED_F_NO_NOTIFY);
  }

  /** Asks for kicks again (before sleeping); true when chains arrived meanwhile, to take first. */
  wantKicks(): boolean {
    this.kicksWanted = true;
    if (this.eventIdx) Atomics.store(this.used16, this.availEventAt, this.lastAvail);
    else Atomics.store(this.used16, 0, 0);
    return this.hasAvailable();
  }

  /**
   * A chain whose answer cannot reach the driver (its ring stopped meanwhile): frees its head for
   * the next pop and its memory pin, so retired guest RAM can be unmapped.
   */
  abandon(head: number): void {
    if (head >= this.size) return;
    if (this.inFlight[head] === 1) {
      this.inFlight[head] = 0;
      this.memory.unpin(this.chains[head]!.pinGeneration);
    }
    this.chains[head]?.shrink();
  }

  /**
   * For a deferred chain that finished: true when it is of an earlier epoch (see `epoch`), whose
   * pin is let go here (after a handler reset, unpinAll let go of it already: a no-op); the caller
   * then drops it.
   */
  releaseOrphan(chain: DescriptorChain): boolean {
    const pooled = chain as PooledChain;
    if (pooled.epoch === this.epoch) return false;
    this.memory.unpin(pooled.pinGeneration);
    return true;
  }

  /** Returns a chain to the driver with `len` bytes written. */
  pushUsed(head: number, len: number): void {
    const slot = this.usedIdx & this.mask;
    this.used32[1 + 2 * slot] = head;
    this.used32[2 + 2 * slot] = len;
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    Atomics.store(this.used16, 1, this.usedIdx);
    this.pendingNotify = true;
    this.abandon(head);
  }

  /** Whether used entries were pushed since the last call and the driver wants an interrupt. */
  takeNotification(): boolean {
    if (!this.pendingNotify) return false;
    this.pendingNotify = false;
    if (!this.eventIdx) return (Atomics.load(this.avail, 0) & AVAIL_F_NO_INTERRUPT) === 0;
    const usedEvent = Atomics.load(this.avail, this.usedEventAt);
    const old = this.signalledUsed;
    this.signalledUsed = this.usedIdx;
    return needEvent(usedEvent, this.usedIdx, old);
  }

  private parse(head: number): PooledChain | null {
    if (head >= this.size) {
      this.onGuestError(
        new VirtqueueError(
          'head-out-of-range',
          this.index,
          `head descriptor ${head} is outside a queue of ${this.size}: skipped`,
          head,
        ),
      );
      return null;
    }
    if (this.inFlight[head] === 1) {
      this.onGuestError(
        new VirtqueueError('head-in-flight', this.index, `head descriptor ${head} is already in flight: skipped`, head),
      );
      return null;
    }
    const chain = (this.chains[head] ??= new PooledChain(this.spareSlots));
    chain.reset(head);
    chain.epoch = this.epoch;
    const error = this.walk(chain);
    if (error !== null) {
      this.onGuestError(error);
      this.pushUsed(head, 0);
      return null;
    }
    this.inFlight[head] = 1;
    chain.pinGeneration = this.memory.pin();
    return chain;
  }

  /** A stamp no descriptor carries yet (the tables are cleared once every 2^32 walks). */
  private nextWalkStamp(): number {
    if (++this.walkStamp > 0xffff_ffff) {
      this.walkStamp = 1;
      this.seenDirect.fill(0);
      this.seenIndirect.fill(0);
    }
    return this.walkStamp;
  }

  /** A malformed chain, to be answered with a zero-length used entry. */
  private malformed(kind: VirtqueueErrorKind, head: number, what: string): VirtqueueError {
    return new VirtqueueError(kind, this.index, `chain ${head}: ${what}; answered with 0 bytes`, head);
  }

  /** Walks the descriptors of `chain`; returns the guest's error, or null when well-formed. */
  private walk(chain: PooledChain): VirtqueueError | null {
    let table = this.desc;
    let base = this.descBase;
    let tableSize = this.size;
    let index = chain.head;
    // A descriptor met twice is a loop: rejected before it takes a slot again.
    const stamp = this.nextWalkStamp();
    let seen = this.seenDirect;
    let inIndirect = false;
    let seenWritable = false;
    for (;;) {
      if (index >= tableSize)
        return this.malformed(
          'descriptor-out-of-range',
          chain.head,
          `descriptor index ${index} is outside a table of ${tableSize}`,
        );
      if (seen[index] === stamp)
        return this.malformed('descriptor-loop', chain.head, `descriptor ${index} comes twice (a loop)`);
      seen[index] = stamp;
      const at = base + index * DESC_SIZE;
      const lo = table.getUint32(at + DESC_ADDR, true);
      const hi = table.getUint32(at + DESC_ADDR + 4, true);
      const len = table.getUint32(at + DESC_LEN, true);
      const flags = table.getUint16(at + DESC_FLAGS, true);
      const next = table.getUint16(at + DESC_NEXT, true);
      const addr = lo + hi * 0x1_0000_0000;
      if ((flags & DescFlag.INDIRECT) !== 0) {
        if (!this.indirect) {
          return this.malformed(
            'indirect-not-negotiated',
            chain.head,
            'indirect descriptor but VIRTIO_F_RING_INDIRECT_DESC was not negotiated',
          );
        }
        if (inIndirect)
          return this.malformed('nested-indirect', chain.head, 'indirect descriptor inside an indirect table');
        if ((flags & DescFlag.NEXT) !== 0)
          return this.malformed('indirect-with-next', chain.head, 'indirect descriptor with the NEXT flag');
        if (len === 0 || len % DESC_SIZE !== 0 || len / DESC_SIZE > MAX_INDIRECT_ENTRIES) {
          return this.malformed('indirect-bad-size', chain.head, `indirect table of ${len} bytes`);
        }
        if (hi >= 0x20_0000 || !this.memory.translate(addr, len, this.tableSlot)) {
          return this.malformed(
            'indirect-outside-memory',
            chain.head,
            `indirect table at 0x${addr.toString(16)} is outside guest memory`,
          );
        }
        table = this.tableSlot.view;
        base = this.tableSlot.offset;
        tableSize = len / DESC_SIZE;
        index = 0;
        seen = this.seenIndirect;
        inIndirect = true;
        continue;
      }
      if (len > 0) {
        const slot = chain.nextSlot();
        if (hi >= 0x20_0000 || !this.memory.translate(addr, len, slot)) {
          return this.malformed(
            'buffer-outside-memory',
            chain.head,
            `buffer 0x${addr.toString(16)}+${len} is outside guest memory`,
          );
        }
        if ((flags & DescFlag.WRITE) !== 0) {
          chain.writable.push(slot);
          chain.writableBytes += len;
          seenWritable = true;
        } else {
          if (seenWritable)
            return this.malformed(
              'readable-after-writable',
              chain.head,
              'device-readable descriptor after a device-writable one',
            );
          chain.readable.push(slot);
        }
      }
      if ((flags & DescFlag.NEXT) === 0) return null;
      index = next;
    }
  }
}

/** The total writable bytes of a chain popped from a Virtqueue (to clamp a handler's answer). */
export function writableBytes(chain: DescriptorChain): number {
  return chain instanceof PooledChain ? chain.writableBytes : chain.writable.reduce((n, b) => n + b.len, 0);
}
