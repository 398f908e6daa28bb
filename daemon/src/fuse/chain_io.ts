// Reading a request from, and writing a reply into, the guest buffers of a descriptor chain.
// Small structures are copied through the caller's scratch Buffer; bulk data never is: READ and
// WRITE get iovecs that point straight into guest memory (as Rust virtiofsd's Reader/Writer do).
import type { GuestBuffer } from '../virtio/descriptor_chain';
import { GuestSlice } from '../virtio/guest_memory';

const IOVEC_SIZE = 16;
/** Up to this many bytes a loop beats making a subarray to copy from (headers, small replies). */
const SMALL_COPY = 64;
const U32 = 0x1_0000_0000;

/** A reusable `struct iovec[]` in native-visible memory. */
export class IovecArray {
  buf: Buffer;
  count = 0;
  private capacity: number;
  /** The same memory as 32-bit words: two stores per 64-bit field, no Buffer method calls. */
  private words: Uint32Array;

  constructor(capacity = 256) {
    this.capacity = capacity;
    this.buf = Buffer.alloc(capacity * IOVEC_SIZE);
    this.words = new Uint32Array(this.buf.buffer, this.buf.byteOffset, capacity * 4);
  }

  clear(): void {
    this.count = 0;
  }

  push(addr: number, len: number): void {
    if (this.count === this.capacity) this.grow();
    const w = this.words;
    const at = this.count * 4;
    w[at] = addr % U32;
    w[at + 1] = addr / U32;
    w[at + 2] = len;
    w[at + 3] = 0;
    this.count++;
  }

  private grow(): void {
    const bigger = Buffer.alloc(this.capacity * 2 * IOVEC_SIZE);
    this.buf.copy(bigger);
    this.buf = bigger;
    this.capacity *= 2;
    this.words = new Uint32Array(bigger.buffer, bigger.byteOffset, this.capacity * 4);
  }
}

/** Appends iovecs covering `len` bytes of `bufs`, starting `skip` bytes in; returns bytes covered. */
function collectIovecs(bufs: readonly GuestBuffer[], skip: number, len: number, iov: IovecArray): number {
  let covered = 0;
  for (let i = 0; i < bufs.length && covered < len; i++) {
    const b = bufs[i];
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    const take = Math.min(b.len - skip, len - covered);
    iov.push(b.addr + skip, take);
    covered += take;
    skip = 0;
  }
  return covered;
}

function copyBytes(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, n: number): void {
  if (n <= SMALL_COPY) {
    for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i]!;
  } else {
    dst.set(src.subarray(srcOff, srcOff + n), dstOff);
  }
}

/** Copies `n` bytes of guest buffer `b` from `at` into `dst`, through the slice's window when it has one. */
function copyFromGuest(b: GuestBuffer, at: number, dst: Uint8Array, dstOff: number, n: number): void {
  if (b instanceof GuestSlice) copyBytes(b.window, b.offset + at, dst, dstOff, n);
  else copyBytes(b.bytes, at, dst, dstOff, n);
}

function copyToGuest(src: Uint8Array, srcOff: number, b: GuestBuffer, at: number, n: number): void {
  if (b instanceof GuestSlice) copyBytes(src, srcOff, b.window, b.offset + at, n);
  else copyBytes(src, srcOff, b.bytes, at, n);
}

/** Copies `len` bytes of `bufs` starting `skip` bytes in, into `dst` at `dstOff`; returns bytes copied. */
function gather(bufs: readonly GuestBuffer[], skip: number, dst: Uint8Array, dstOff: number, len: number): number {
  let copied = 0;
  for (let i = 0; i < bufs.length && copied < len; i++) {
    const b = bufs[i];
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    const take = Math.min(b.len - skip, len - copied);
    copyFromGuest(b, skip, dst, dstOff + copied, take);
    copied += take;
    skip = 0;
  }
  return copied;
}

/** Copies `len` bytes of `src` into `bufs` starting `skip` bytes in; returns bytes copied. */
function scatter(bufs: readonly GuestBuffer[], skip: number, src: Uint8Array, srcOff: number, len: number): number {
  let copied = 0;
  for (let i = 0; i < bufs.length && copied < len; i++) {
    const b = bufs[i];
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    const take = Math.min(b.len - skip, len - copied);
    copyToGuest(src, srcOff + copied, b, skip, take);
    copied += take;
    skip = 0;
  }
  return copied;
}

function totalLen(bufs: readonly GuestBuffer[]): number {
  let n = 0;
  for (let i = 0; i < bufs.length; i++) n += bufs[i].len;
  return n;
}

/** The device-readable side of a chain. */
export class ChainReader {
  private bufs: readonly GuestBuffer[] = [];
  /** Total readable bytes. */
  size = 0;

  reset(bufs: readonly GuestBuffer[]): void {
    this.bufs = bufs;
    this.size = totalLen(bufs);
  }

  /** Copies `len` bytes at readable offset `pos` into `dst`; false when the chain is shorter. */
  copy(pos: number, dst: Uint8Array, dstOff: number, len: number): boolean {
    return gather(this.bufs, pos, dst, dstOff, len) === len;
  }

  /** Points `iov` at `len` bytes from readable offset `pos`; returns bytes covered. */
  iovecs(pos: number, len: number, iov: IovecArray): number {
    return collectIovecs(this.bufs, pos, len, iov);
  }
}

/** The device-writable side of a chain. */
export class ChainWriter {
  private bufs: readonly GuestBuffer[] = [];
  /** Total writable bytes. */
  size = 0;

  reset(bufs: readonly GuestBuffer[]): void {
    this.bufs = bufs;
    this.size = totalLen(bufs);
  }

  /** Copies `len` bytes of `src` to writable offset `pos`; returns bytes copied. */
  write(pos: number, src: Uint8Array, srcOff: number, len: number): number {
    return scatter(this.bufs, pos, src, srcOff, len);
  }

  /** Points `iov` at `len` writable bytes from offset `pos`; returns bytes covered. */
  iovecs(pos: number, len: number, iov: IovecArray): number {
    return collectIovecs(this.bufs, pos, len, iov);
  }
}
