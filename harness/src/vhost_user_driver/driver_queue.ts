// The driver (guest kernel) side of a split virtqueue, in guest RAM: free-descriptor list, chains
// (direct or through an indirect table), the available ring, used-ring reaping and EVENT_IDX.
// It also writes raw, malformed descriptors for fault tests.
import { eventfd } from '@vfs/daemon/sys';
import { close } from '@vfs/daemon/sys';
import {
  DESC_ADDR,
  DESC_FLAGS,
  DESC_LEN,
  DESC_NEXT,
  DESC_SIZE,
  DescFlag,
  availEventOffset,
  usedEventOffset,
  USED_F_NO_NOTIFY,
  availRingBytes,
  descTableBytes,
  needEvent,
  usedRingBytes,
} from '@vfs/daemon/virtio';
import type { GuestRam } from './guest_ram';

export interface GuestRange {
  readonly gpa: number;
  readonly len: number;
}

export interface UsedEntry {
  readonly head: number;
  readonly len: number;
}

export interface RawDescriptor {
  readonly index: number;
  readonly addr: number;
  readonly len: number;
  readonly flags: number;
  readonly next: number;
}

export class DriverQueue {
  readonly descGpa: number;
  readonly availGpa: number;
  readonly usedGpa: number;
  readonly kickFd: number;
  readonly callFd: number;
  private readonly desc: DataView;
  private readonly avail: Uint16Array;
  private readonly used16: Uint16Array;
  private readonly used32: Uint32Array;
  private readonly freeList: number[];
  private readonly chainLength: Uint16Array;
  /** Per head: the guest address of its indirect table, or -1. */
  private readonly indirectTable: Float64Array;
  /** Per head: the indirect table belongs to the caller (addChainFrom), not to guest RAM's allocator. */
  private readonly tableOwned: Uint8Array;
  /** The entry nextUsed() took last. */
  usedHead = 0;
  usedLen = 0;
  private availIdx = 0;
  private kickedAvail = 0;
  private lastUsed = 0;

  constructor(
    private readonly ram: GuestRam,
    readonly index: number,
    readonly size: number,
    readonly eventIdx: boolean,
  ) {
    this.descGpa = ram.alloc(descTableBytes(size), 16);
    this.availGpa = ram.alloc(availRingBytes(size), 2);
    this.usedGpa = ram.alloc(usedRingBytes(size), 4);
    ram.view(this.descGpa, descTableBytes(size)).fill(0);
    ram.view(this.availGpa, availRingBytes(size)).fill(0);
    ram.view(this.usedGpa, usedRingBytes(size)).fill(0);
    this.desc = ram.dataView(this.descGpa, descTableBytes(size));
    const availBytes = ram.view(this.availGpa, availRingBytes(size));
    this.avail = new Uint16Array(availBytes.buffer, availBytes.byteOffset, 3 + size);
    const usedBytes = ram.view(this.usedGpa, usedRingBytes(size));
    this.used16 = new Uint16Array(usedBytes.buffer, usedBytes.byteOffset, 3 + 4 * size);
    this.used32 = new Uint32Array(usedBytes.buffer, usedBytes.byteOffset, 1 + 2 * size);
    this.freeList = Array.from({ length: size }, (_, i) => size - 1 - i);
    this.chainLength = new Uint16Array(size);
    this.indirectTable = new Float64Array(size).fill(-1);
    this.tableOwned = new Uint8Array(size);
    this.kickFd = eventfd();
    this.callFd = eventfd();
  }

  get freeDescriptors(): number {
    return this.freeList.length;
  }

  /** The next index the driver will publish (what the back-end resumes from after a reconnect). */
  get nextAvail(): number {
    return this.availIdx;
  }

  get usedIdx(): number {
    return Atomics.load(this.used16, 1);
  }

  /** avail_event, written by the device under EVENT_IDX. */
  get availEvent(): number {
    return Atomics.load(this.used16, availEventOffset(this.size));
  }

  /** used_event: the device should interrupt once it has used the entry with this index. */
  setUsedEvent(idx: number): void {
    Atomics.store(this.avail, usedEventOffset(this.size), idx & 0xffff);
  }

  /** Builds a chain from guest buffers; returns its head (not yet published). */
  addChain(readable: readonly GuestRange[], writable: readonly GuestRange[], indirect: boolean): number {
    const parts = [
      ...readable.map((r) => ({ ...r, flags: 0 })),
      ...writable.map((w) => ({ ...w, flags: DescFlag.WRITE })),
    ];
    if (parts.length === 0) throw new RangeError('a chain needs at least one buffer');
    if (indirect) return this.addIndirect(parts);
    if (parts.length > this.freeList.length) {
      throw new RangeError(`queue ${this.index}: ${parts.length} descriptors needed, ${this.freeList.length} free`);
    }
    const indices = parts.map(() => this.freeList.pop()!);
    parts.forEach((p, i) => {
      const last = i === parts.length - 1;
      this.writeDescriptor(
        this.desc,
        indices[i]!,
        p.gpa,
        p.len,
        p.flags | (last ? 0 : DescFlag.NEXT),
        last ? 0 : indices[i + 1]!,
      );
    });
    this.chainLength[indices[0]!] = parts.length;
    return indices[0]!;
  }

  /**
   * Builds a chain from caller-owned buffers without allocating (the benchmark's hot path):
   * `count` buffers at `gpa[i]`/`len[i]`, the first `readable` of them device-readable. With
   * `tableGpa` >= 0 the chain goes through that caller-owned indirect table (room for `count`).
   * Returns the head (not yet published).
   */
  addChainFrom(
    gpa: ArrayLike<number>,
    len: ArrayLike<number>,
    count: number,
    readable: number,
    tableGpa: number,
  ): number {
    if (count === 0) throw new RangeError('a chain needs at least one buffer');
    const direct = tableGpa < 0;
    if (this.freeList.length < (direct ? count : 1)) {
      throw new RangeError(
        `queue ${this.index}: ${direct ? count : 1} descriptors needed, ${this.freeList.length} free`,
      );
    }
    if (direct) {
      const head = this.freeList.pop()!;
      let index = head;
      for (let i = 0; i < count; i++) {
        const last = i === count - 1;
        const next = last ? 0 : this.freeList.pop()!;
        const flags = (i < readable ? 0 : DescFlag.WRITE) | (last ? 0 : DescFlag.NEXT);
        this.writeDescriptor(this.desc, index, gpa[i]!, len[i]!, flags, next);
        index = next;
      }
      this.chainLength[head] = count;
      return head;
    }
    const table = this.ram.whole;
    const base = this.ram.gpaToOffset(tableGpa, count * DESC_SIZE);
    for (let i = 0; i < count; i++) {
      const last = i === count - 1;
      const flags = (i < readable ? 0 : DescFlag.WRITE) | (last ? 0 : DescFlag.NEXT);
      writeDescriptorAt(table, base + i * DESC_SIZE, gpa[i]!, len[i]!, flags, last ? 0 : i + 1);
    }
    const head = this.freeList.pop()!;
    this.writeDescriptor(this.desc, head, tableGpa, count * DESC_SIZE, DescFlag.INDIRECT, 0);
    this.indirectTable[head] = tableGpa;
    this.tableOwned[head] = 1;
    return head;
  }

  /** Takes `n` free descriptor slots for raw (hand-built) chains. */
  takeDescriptors(n: number): number[] {
    if (n > this.freeList.length)
      throw new RangeError(`queue ${this.index}: only ${this.freeList.length} descriptors free`);
    return Array.from({ length: n }, () => this.freeList.pop()!);
  }

  returnDescriptors(indices: readonly number[]): void {
    this.freeList.push(...indices);
  }

  writeRaw(d: RawDescriptor): void {
    this.writeDescriptor(this.desc, d.index, d.addr, d.len, d.flags, d.next);
  }

  /** Writes a raw descriptor into an indirect table at guest address `tableGpa`. */
  writeRawIndirect(tableGpa: number, entries: number, d: RawDescriptor): void {
    this.writeDescriptor(this.ram.dataView(tableGpa, entries * DESC_SIZE), d.index, d.addr, d.len, d.flags, d.next);
  }

  /** Makes `head` available to the device (any value: fault tests publish out-of-range heads). */
  publish(head: number): void {
    this.avail[2 + (this.availIdx & (this.size - 1))] = head;
    this.availIdx = (this.availIdx + 1) & 0xffff;
    Atomics.store(this.avail, 1, this.availIdx);
  }

  /** Rewrites avail.idx directly (fault tests). */
  forceAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    Atomics.store(this.avail, 1, this.availIdx);
  }

  /** Whether the device wants a kick for what was published since the last kick. */
  needsKick(): boolean {
    const old = this.kickedAvail;
    this.kickedAvail = this.availIdx;
    if (old === this.availIdx) return false;
    if (!this.eventIdx) return (Atomics.load(this.used16, 0) & USED_F_NO_NOTIFY) === 0;
    return needEvent(this.availEvent, this.availIdx, old);
  }

  /** Collects used entries the device pushed since the last call. */
  reap(): UsedEntry[] {
    const entries: UsedEntry[] = [];
    while (this.nextUsed()) entries.push({ head: this.usedHead, len: this.usedLen });
    return entries;
  }

  /** Whether the device pushed used entries not yet taken. */
  hasUsed(): boolean {
    return Atomics.load(this.used16, 1) !== this.lastUsed;
  }

  /** Takes the next used entry into usedHead/usedLen (no allocation); false when there is none. */
  nextUsed(): boolean {
    if (Atomics.load(this.used16, 1) === this.lastUsed) return false;
    const slot = this.lastUsed & (this.size - 1);
    this.usedHead = this.used32[1 + 2 * slot]!;
    this.usedLen = this.used32[2 + 2 * slot]!;
    this.lastUsed = (this.lastUsed + 1) & 0xffff;
    return true;
  }

  /** Asks for an interrupt at the next used entry; true if entries arrived meanwhile. */
  armInterrupt(): boolean {
    if (this.eventIdx) this.setUsedEvent(this.lastUsed);
    return Atomics.load(this.used16, 1) !== this.lastUsed;
  }

  /** Returns a completed chain's descriptors (and its indirect table) to the free lists. */
  freeChain(head: number): void {
    const table = this.indirectTable[head]!;
    if (table >= 0) {
      if (this.tableOwned[head] === 0) this.ram.release(table);
      this.tableOwned[head] = 0;
      this.indirectTable[head] = -1;
      this.freeList.push(head);
      return;
    }
    let index = head;
    for (let n = this.chainLength[head]!; n > 0; n--) {
      this.freeList.push(index);
      index = this.desc.getUint16(index * DESC_SIZE + DESC_NEXT, true);
    }
  }

  close(): void {
    close(this.kickFd);
    close(this.callFd);
  }

  private addIndirect(parts: readonly (GuestRange & { flags: number })[]): number {
    if (this.freeList.length === 0) throw new RangeError(`queue ${this.index}: no descriptor free`);
    const tableGpa = this.ram.alloc(parts.length * DESC_SIZE, 16);
    const table = this.ram.dataView(tableGpa, parts.length * DESC_SIZE);
    parts.forEach((p, i) => {
      const last = i === parts.length - 1;
      this.writeDescriptor(table, i, p.gpa, p.len, p.flags | (last ? 0 : DescFlag.NEXT), last ? 0 : i + 1);
    });
    const head = this.freeList.pop()!;
    this.writeDescriptor(this.desc, head, tableGpa, parts.length * DESC_SIZE, DescFlag.INDIRECT, 0);
    this.indirectTable[head] = tableGpa;
    return head;
  }

  private writeDescriptor(table: DataView, i: number, addr: number, len: number, flags: number, next: number): void {
    writeDescriptorAt(table, i * DESC_SIZE, addr, len, flags, next);
  }
}

function writeDescriptorAt(table: DataView, at: number, addr: number, len: number, flags: number, next: number): void {
  table.setUint32(at + DESC_ADDR, addr % 0x1_0000_0000, true);
  table.setUint32(at + DESC_ADDR + 4, Math.floor(addr / 0x1_0000_0000), true);
  table.setUint32(at + DESC_LEN, len, true);
  table.setUint16(at + DESC_FLAGS, flags, true);
  table.setUint16(at + DESC_NEXT, next, true);
}
