// Guest RAM for the test front-end, laid out like QEMU's memory-backend-memfd (share=on): one
// memfd, mapped in this process (the "QEMU user address"), exposed to the back-end as one or
// more regions. Regions sit at guest-physical addresses with holes between them, so a back-end
// that confuses guest and user addresses, or ignores mmap_offset, fails loudly.
import { close } from '@vfs/daemon/sys';
import {
  ftruncate,
  memfdCreate,
  memoryView,
  mmap,
  munmap,
  MAP_SHARED,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
} from '@vfs/daemon/sys';
import type { RegionSpec } from '@vfs/daemon/virtio';

interface FreeRange {
  start: number;
  end: number;
}

export class GuestRam {
  readonly fd: number;
  readonly hostBase: number;
  readonly bytes: Uint8Array;
  /** All of guest RAM by mapping offset (gpaToOffset), for writers that must not allocate views. */
  readonly whole: DataView;
  readonly regions: readonly RegionSpec[];
  private readonly regionSize: number;
  private readonly free: FreeRange[][];
  private readonly allocated = new Map<number, number>();

  constructor(
    readonly size: number,
    regionCount = 1,
  ) {
    this.regionSize = Math.floor(size / regionCount / PAGE_SIZE) * PAGE_SIZE;
    if (this.regionSize === 0) throw new RangeError(`${size} bytes cannot make ${regionCount} regions`);
    this.fd = memfdCreate('vfs-guest-ram');
    ftruncate(this.fd, size);
    this.hostBase = mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, this.fd, 0);
    this.bytes = memoryView(this.hostBase, size);
    this.whole = new DataView(this.bytes.buffer, this.bytes.byteOffset, size);
    this.regions = Array.from({ length: regionCount }, (_, i) => ({
      guestAddr: i * 2 * this.regionSize,
      size: this.regionSize,
      userAddr: this.hostBase + i * this.regionSize,
      mmapOffset: i * this.regionSize,
    }));
    this.free = this.regions.map((r) => [{ start: r.mmapOffset, end: r.mmapOffset + r.size }]);
  }

  /** Allocates `len` bytes (aligned) inside one region; returns the guest-physical address. */
  alloc(len: number, align = 16): number {
    const need = Math.max(len, 1);
    for (let r = 0; r < this.free.length; r++) {
      const list = this.free[r]!;
      for (let i = 0; i < list.length; i++) {
        const range = list[i]!;
        const start = Math.ceil(range.start / align) * align;
        if (start + need > range.end) continue;
        this.carve(list, i, start, start + need);
        const gpa = this.offsetToGpa(start);
        this.allocated.set(gpa, need);
        return gpa;
      }
    }
    throw new RangeError(
      `guest RAM exhausted: no ${len} contiguous bytes free (${this.allocated.size} allocations live)`,
    );
  }

  release(gpa: number): void {
    const len = this.allocated.get(gpa);
    if (len === undefined) throw new RangeError(`guest address 0x${gpa.toString(16)} was not allocated`);
    this.allocated.delete(gpa);
    const start = this.gpaToOffset(gpa, len);
    const list = this.free[Math.floor(start / this.regionSize)]!;
    let i = 0;
    while (i < list.length && list[i]!.start < start) i++;
    list.splice(i, 0, { start, end: start + len });
    this.coalesce(list, Math.max(0, i - 1));
  }

  /** The RAM offset of guest-physical [gpa, gpa+len); throws outside RAM. */
  gpaToOffset(gpa: number, len = 1): number {
    for (const r of this.regions) {
      if (gpa >= r.guestAddr && gpa + len <= r.guestAddr + r.size) return r.mmapOffset + (gpa - r.guestAddr);
    }
    throw new RangeError(`guest address 0x${gpa.toString(16)}+${len} is outside guest RAM`);
  }

  offsetToGpa(offset: number): number {
    const r = this.regions[Math.floor(offset / this.regionSize)]!;
    return r.guestAddr + (offset - r.mmapOffset);
  }

  view(gpa: number, len: number): Uint8Array {
    const off = this.gpaToOffset(gpa, len);
    return this.bytes.subarray(off, off + len);
  }

  dataView(gpa: number, len: number): DataView {
    const off = this.gpaToOffset(gpa, len);
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + off, len);
  }

  /** The front-end ("QEMU") virtual address of a guest-physical address. */
  userAddr(gpa: number): number {
    return this.hostBase + this.gpaToOffset(gpa);
  }

  close(): void {
    munmap(this.hostBase, this.size);
    close(this.fd);
  }

  private carve(list: FreeRange[], i: number, start: number, end: number): void {
    const range = list[i]!;
    const pieces: FreeRange[] = [];
    if (range.start < start) pieces.push({ start: range.start, end: start });
    if (end < range.end) pieces.push({ start: end, end: range.end });
    list.splice(i, 1, ...pieces);
  }

  private coalesce(list: FreeRange[], from: number): void {
    for (let i = from; i + 1 < list.length && i <= from + 1; ) {
      if (list[i]!.end === list[i + 1]!.start) {
        list[i]!.end = list[i + 1]!.end;
        list.splice(i + 1, 1);
      } else {
        i++;
      }
    }
  }
}
