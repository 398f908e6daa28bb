// Guest RAM as the front-end shares it (SET_MEM_TABLE, ADD_MEM_REG): each region is an fd that we
// mmap MAP_SHARED. Guest-physical addresses (descriptors) and front-end user addresses (vring
// addresses) translate to host addresses and zero-copy views, bounds-checked: a bad address is a
// guest error, reported as `false`/null, never a crash.
//
// A region is unmapped only when no chain that may hold a view of it is still in flight: chains
// pin the memory while the handler owns them (deferred replies), and removed regions wait in
// `retired`. Pins are counted per memory generation (bumped whenever the table changes): a region
// stays mapped only while a chain pinned between its addition and its removal is in flight, so
// one chain waiting long (a parked SETLKW) holds only the regions it could have seen, not every
// one added and removed since (QEMU 11.1 adds and removes one per DAX mapping).
import { close } from '../sys/fd';
import { AT_EMPTY_PATH, EMPTY_PATH, STATX_BASIC_STATS, STATX_SIZE, STX, statx } from '../sys/fs';
import { memoryView, mmap, munmap, MAP_SHARED, PAGE_SIZE, PROT_READ, PROT_WRITE } from '../sys/mman';
import type { GuestBuffer } from './descriptor_chain';

/** A memory table the front-end asked for cannot be honoured (bad region, overlap, no slot). */
export class GuestMemoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GuestMemoryError';
  }
}

export interface RegionSpec {
  readonly guestAddr: number;
  readonly size: number;
  /** The front-end's (QEMU's) virtual address of the region. */
  readonly userAddr: number;
  /** Offset of the region in its fd. */
  readonly mmapOffset: number;
}

/** A translated buffer: reused by the virtqueue, so translating allocates nothing. */
export class GuestSlice implements GuestBuffer {
  addr = 0;
  len = 0;
  window: Uint8Array = EMPTY;
  /** A DataView over `window` (made once per window), for reading structures in place. */
  view: DataView = EMPTY_VIEW;
  offset = 0;

  get bytes(): Uint8Array {
    return this.window.subarray(this.offset, this.offset + this.len);
  }
}

const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer);
// Views are made per 1 GiB stride, each 2 GiB long (clamped), so any buffer up to 1 GiB lies
// inside one view: koffi cannot make views over 4 GiB, and guest RAM can be larger.
const STRIDE = 1 << 30;
const WINDOW = 2 * STRIDE;

class MappedRegion {
  readonly windows: Uint8Array[] = [];
  readonly dataViews: DataView[] = [];
  /** The memory generation it was added in: chains pinned before cannot view it. */
  born = 0;

  constructor(
    readonly spec: RegionSpec,
    readonly mapAddr: number,
    readonly mapLength: number,
    readonly hostBase: number,
  ) {
    for (let start = 0; start < spec.size; start += STRIDE) {
      const window = memoryView(hostBase + start, Math.min(WINDOW, spec.size - start));
      this.windows.push(window);
      this.dataViews.push(new DataView(window.buffer, window.byteOffset, window.byteLength));
    }
  }

  containsGuest(gpa: number, len: number): boolean {
    return gpa >= this.spec.guestAddr && gpa + len <= this.spec.guestAddr + this.spec.size;
  }

  containsUser(uva: number, len: number): boolean {
    return uva >= this.spec.userAddr && uva + len <= this.spec.userAddr + this.spec.size;
  }

  /** Points `out` at `len` bytes at region offset `off` (already bounds-checked). */
  fill(off: number, len: number, out: GuestSlice): void {
    const k = Math.floor(off / STRIDE);
    out.addr = this.hostBase + off;
    out.len = len;
    if (len <= STRIDE) {
      out.window = this.windows[k]!;
      out.view = this.dataViews[k]!;
      out.offset = off - k * STRIDE;
    } else {
      out.window = memoryView(this.hostBase + off, len);
      out.view = new DataView(out.window.buffer, out.window.byteOffset, len);
      out.offset = 0;
    }
  }

  unmap(): void {
    munmap(this.mapAddr, this.mapLength);
  }
}

/** Where a ring lives: a DataView over its window and the ring's byte offset inside it. */
export interface HostRange {
  readonly view: DataView;
  readonly offset: number;
  readonly hostAddr: number;
}

export class GuestMemory {
  private regions: MappedRegion[] = [];
  /** Removed regions still mapped, with the generation they were removed in. */
  private retired: { readonly region: MappedRegion; readonly generation: number }[] = [];
  private lastHit: MappedRegion | null = null;
  /** Bumped when regions are removed; pins of the current one are `pins`, older ones in `olderPins`. */
  private generation = 0;
  private pins = 0;
  private readonly olderPins = new Map<number, number>();

  constructor(readonly maxRegions: number) {}

  get regionCount(): number {
    return this.regions.length;
  }

  /** Replaces the whole table (SET_MEM_TABLE). Takes ownership of `fds`. */
  setTable(specs: readonly RegionSpec[], fds: readonly number[]): void {
    const clash = firstOverlap(specs);
    if (clash !== null) {
      for (const fd of fds) close(fd);
      throw new GuestMemoryError(clash);
    }
    const mapped = mapAll(specs, fds);
    this.retire(this.regions);
    this.advance();
    for (const r of mapped) r.born = this.generation;
    this.regions = mapped;
    this.lastHit = null;
  }

  /** Adds one region (ADD_MEM_REG). Takes ownership of `fd`. */
  addRegion(spec: RegionSpec, fd: number): void {
    if (this.regions.length >= this.maxRegions) {
      close(fd);
      throw new GuestMemoryError(`all ${this.maxRegions} memory slots are in use`);
    }
    const clash = firstOverlap([spec, ...this.regions.map((r) => r.spec)]);
    if (clash !== null) {
      close(fd);
      throw new GuestMemoryError(clash);
    }
    const region = mapRegion(spec, fd);
    this.advance();
    region.born = this.generation;
    this.regions = [...this.regions, region];
    this.lastHit = null;
  }

  /** Removes the region with this guest address, user address and size (REM_MEM_REG). */
  removeRegion(spec: RegionSpec): void {
    const found = this.regions.find(
      (r) => r.spec.guestAddr === spec.guestAddr && r.spec.userAddr === spec.userAddr && r.spec.size === spec.size,
    );
    if (found === undefined)
      throw new GuestMemoryError(`no region at guest ${hex(spec.guestAddr)} of ${spec.size} bytes`);
    this.regions = this.regions.filter((r) => r !== found);
    this.lastHit = null;
    this.retire([found]);
  }

  /** Drops every region (disconnect, reset); unmaps as soon as nothing is pinned. */
  clear(): void {
    this.retire(this.regions);
    this.regions = [];
    this.lastHit = null;
  }

  /** A chain that may hold views is now owned by the device logic; returns the pin's generation. */
  pin(): number {
    this.pins++;
    return this.generation;
  }

  /** Lets go of a pin `pin()` returned `generation` for (one unpinAll dropped already: nothing). */
  unpin(generation: number): void {
    if (generation === this.generation) {
      this.pins--;
      return;
    }
    const left = this.olderPins.get(generation);
    if (left === undefined) return;
    if (left > 1) this.olderPins.set(generation, left - 1);
    else this.olderPins.delete(generation);
    this.unmapUnpinned();
  }

  /**
   * The device logic dropped every chain it held (handler reset): nothing is pinned any more. A new
   * generation, so that a late unpin of a dropped chain changes nothing.
   */
  unpinAll(): void {
    this.generation++;
    this.pins = 0;
    this.olderPins.clear();
    this.unmapUnpinned();
  }

  /** Translates guest-physical [gpa, gpa+len) into `out`; false if it is not inside one region. */
  translate(gpa: number, len: number, out: GuestSlice): boolean {
    let region = this.lastHit;
    if (region === null || !region.containsGuest(gpa, len)) {
      region = null;
      for (const r of this.regions) {
        if (r.containsGuest(gpa, len)) {
          region = r;
          break;
        }
      }
      if (region === null) return false;
      this.lastHit = region;
    }
    region.fill(gpa - region.spec.guestAddr, len, out);
    return true;
  }

  /** A DataView location for guest-physical [gpa, gpa+len), len ≤ 1 GiB; null if out of bounds. */
  guestRange(gpa: number, len: number): HostRange | null {
    const region = this.regions.find((r) => r.containsGuest(gpa, len));
    return region === undefined || len > STRIDE ? null : rangeIn(region, gpa - region.spec.guestAddr);
  }

  /** The same for a front-end user address (vring addresses), len ≤ 1 GiB. */
  userRange(uva: number, len: number): HostRange | null {
    const region = this.regions.find((r) => r.containsUser(uva, len));
    return region === undefined || len > STRIDE ? null : rangeIn(region, uva - region.spec.userAddr);
  }

  /** A new generation: the pins taken so far were taken before what changes next. */
  private advance(): void {
    if (this.pins > 0) this.olderPins.set(this.generation, this.pins);
    this.generation++;
    this.pins = 0;
  }

  private retire(regions: readonly MappedRegion[]): void {
    if (regions.length === 0) return;
    for (const region of regions) this.retired.push({ region, generation: this.generation });
    this.advance();
    this.unmapUnpinned();
  }

  /** Whether a chain pinned between `region`'s addition and its removal (`removed`) is in flight. */
  private viewable(region: MappedRegion, removed: number): boolean {
    for (const g of this.olderPins.keys()) if (g >= region.born && g <= removed) return true;
    return false;
  }

  /** Unmaps the removed regions no chain in flight can view. */
  private unmapUnpinned(): void {
    const keep: typeof this.retired = [];
    for (const r of this.retired) {
      if (this.viewable(r.region, r.generation)) keep.push(r);
      else r.region.unmap();
    }
    this.retired = keep;
  }
}

function rangeIn(region: MappedRegion, off: number): HostRange {
  const k = Math.floor(off / STRIDE);
  return { view: region.dataViews[k]!, offset: off - k * STRIDE, hostAddr: region.hostBase + off };
}

/** Why two regions cannot both be mapped (they share guest-physical or user addresses), or null. */
function overlapOf(a: RegionSpec, b: RegionSpec): string | null {
  if (a.guestAddr < b.guestAddr + b.size && b.guestAddr < a.guestAddr + a.size)
    return `region at guest ${hex(a.guestAddr)} overlaps the one at guest ${hex(b.guestAddr)}`;
  if (a.userAddr < b.userAddr + b.size && b.userAddr < a.userAddr + a.size)
    return `region at user address ${hex(a.userAddr)} overlaps the one at ${hex(b.userAddr)}`;
  return null;
}

function firstOverlap(specs: readonly RegionSpec[]): string | null {
  for (let i = 0; i < specs.length; i++) {
    for (let j = i + 1; j < specs.length; j++) {
      const clash = overlapOf(specs[i]!, specs[j]!);
      if (clash !== null) return clash;
    }
  }
  return null;
}

/**
 * Guest RAM past the end of its file would be mapped but fault (SIGBUS) on first touch, so a
 * region must lie inside its fd as it is now.
 */
function checkFitsFile(spec: RegionSpec, fd: number): void {
  const buf = new Uint8Array(STATX_SIZE);
  const r = statx(fd, EMPTY_PATH, AT_EMPTY_PATH, STATX_BASIC_STATS, buf);
  if (r < 0) throw new GuestMemoryError(`region at guest ${hex(spec.guestAddr)}: cannot stat its fd (errno ${-r})`);
  const v = new DataView(buf.buffer);
  const fileSize = v.getUint32(STX.size, true) + v.getUint32(STX.size + 4, true) * 2 ** 32;
  if (spec.mmapOffset + spec.size > fileSize) {
    throw new GuestMemoryError(
      `region at guest ${hex(spec.guestAddr)} of ${spec.size} bytes at offset ${spec.mmapOffset} does not fit ` +
        `its fd of ${fileSize} bytes`,
    );
  }
}

function mapAll(specs: readonly RegionSpec[], fds: readonly number[]): MappedRegion[] {
  const mapped: MappedRegion[] = [];
  try {
    for (const [i, spec] of specs.entries()) mapped.push(mapRegion(spec, fds[i]!));
  } catch (err) {
    for (const r of mapped) r.unmap();
    for (const fd of fds.slice(mapped.length + 1)) close(fd);
    throw err;
  }
  return mapped;
}

/** mmaps `fd` for `spec` and closes it (the mapping keeps the memory alive). */
function mapRegion(spec: RegionSpec, fd: number): MappedRegion {
  try {
    if (spec.size <= 0 || !Number.isSafeInteger(spec.size) || !Number.isSafeInteger(spec.guestAddr + spec.size)) {
      throw new GuestMemoryError(`region at guest ${hex(spec.guestAddr)} has a bad size ${spec.size}`);
    }
    checkFitsFile(spec, fd);
    const delta = spec.mmapOffset % PAGE_SIZE;
    const mapLength = spec.size + delta;
    const mapAddr = mmap(0, mapLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd, spec.mmapOffset - delta);
    try {
      return new MappedRegion(spec, mapAddr, mapLength, mapAddr + delta);
    } catch (err) {
      munmap(mapAddr, mapLength);
      throw err;
    }
  } finally {
    close(fd);
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
