// One in-flight FUSE request of the benchmark, laid out as the guest kernel's virtio-fs driver
// lays it out: in-header, one argument block, data pages; out-header, one reply-argument block,
// data pages (each page its own descriptor, as scattered guest pages are). The guest buffers are
// allocated once per slot and every request is encoded straight into guest RAM, so the driver's
// cost per request stays small and equal for both daemons.
import type { GuestChain, VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import type { GuestRam } from '@vfs/harness/vhost_user_driver/guest_ram';

export const PAGE = 4096;
/** The largest READ/WRITE payload (the max_write both daemons announce). */
export const MAX_IO = 1 << 20;

const IN_HEADER = 40;
const OUT_HEADER = 16;
/** Argument block: the largest fixed part (write_in, create_in) plus a name. */
const ARGS_MAX = 64 + 256;
/** Reply-argument block: fuse_entry_out + fuse_open_out (CREATE) is the largest we ask for. */
const REPLY_MAX = 256;
const U32 = 0x1_0000_0000;

export class FuseRequestError extends Error {
  constructor(
    readonly opcode: number,
    readonly errno: number,
  ) {
    super(`FUSE opcode ${opcode} failed with errno ${errno}`);
    this.name = 'FuseRequestError';
  }
}

export class RequestSlot {
  readonly chain: GuestChain;
  private readonly ram: GuestRam;
  private readonly view: DataView;
  private readonly inGpa: number;
  private readonly argsGpa: number;
  private readonly outGpa: number;
  private readonly replyGpa: number;
  private readonly dataGpa: number;
  private readonly inOff: number;
  private readonly argsOff: number;
  private readonly outOff: number;
  private readonly replyOff: number;
  /** RAM offset of the data pages (WRITE source, READ and READDIRPLUS destination). */
  readonly dataOff: number;
  private opcode = 0;
  private argLen = 0;

  constructor(frontend: VhostUserFrontend, dataBytes: number) {
    this.ram = frontend.ram;
    this.view = frontend.ram.whole;
    this.chain = frontend.chain(4 + Math.ceil(dataBytes / PAGE));
    this.inGpa = this.ram.alloc(IN_HEADER, 64);
    this.argsGpa = this.ram.alloc(ARGS_MAX, 64);
    this.outGpa = this.ram.alloc(OUT_HEADER, 64);
    this.replyGpa = this.ram.alloc(REPLY_MAX, 64);
    this.dataGpa = this.ram.alloc(Math.max(dataBytes, PAGE), PAGE);
    this.inOff = this.ram.gpaToOffset(this.inGpa, IN_HEADER);
    this.argsOff = this.ram.gpaToOffset(this.argsGpa, ARGS_MAX);
    this.outOff = this.ram.gpaToOffset(this.outGpa, OUT_HEADER);
    this.replyOff = this.ram.gpaToOffset(this.replyGpa, REPLY_MAX);
    this.dataOff = this.ram.gpaToOffset(this.dataGpa, Math.max(dataBytes, PAGE));
    // Touch the data pages once, so page faults stay out of the measurements.
    this.ram.bytes.fill(0xa5, this.dataOff, this.dataOff + Math.max(dataBytes, PAGE));
  }

  /** Starts a request: the in-header (its length is set by finish); arguments follow. */
  begin(opcode: number, nodeid: number, unique: number): void {
    const v = this.view;
    const o = this.inOff;
    this.opcode = opcode;
    this.argLen = 0;
    v.setUint32(o + 4, opcode, true);
    setU64(v, o + 8, unique);
    setU64(v, o + 16, nodeid);
    v.setUint32(o + 24, 0, true); // uid
    v.setUint32(o + 28, 0, true); // gid
    v.setUint32(o + 32, 1, true); // pid
    v.setUint32(o + 36, 0, true); // total_extlen
  }

  u32(value: number): void {
    this.view.setUint32(this.argsOff + this.argLen, value, true);
    this.argLen += 4;
  }

  u64(value: number): void {
    setU64(this.view, this.argsOff + this.argLen, value);
    this.argLen += 8;
  }

  /** Appends raw bytes (a NUL-terminated name). */
  bytes(b: Uint8Array): void {
    this.ram.bytes.set(b, this.argsOff + this.argLen);
    this.argLen += b.length;
  }

  /**
   * Completes the chain: `inData` bytes of data pages after the arguments (WRITE), a reply block
   * of `replyLen` bytes, then `outData` bytes of data pages (READ, READDIRPLUS).
   */
  finish(inData: number, replyLen: number, outData: number): void {
    this.view.setUint32(this.inOff, IN_HEADER + this.argLen + inData, true);
    const c = this.chain;
    c.clear();
    c.read(this.inGpa, IN_HEADER);
    if (this.argLen > 0) c.read(this.argsGpa, this.argLen);
    if (inData > 0) this.pages(inData, true);
    c.write(this.outGpa, OUT_HEADER);
    if (replyLen > 0) c.write(this.replyGpa, replyLen);
    if (outData > 0) this.pages(outData, false);
  }

  /** Throws unless the device wrote a successful reply; returns the bytes after the out-header. */
  check(written: number): number {
    if (written < OUT_HEADER) throw new Error(`FUSE opcode ${this.opcode}: ${written}-byte reply`);
    const error = this.view.getInt32(this.outOff + 4, true);
    if (error !== 0) throw new FuseRequestError(this.opcode, -error);
    return written - OUT_HEADER;
  }

  replyU32(off: number): number {
    return this.view.getUint32(this.replyOff + off, true);
  }

  /** A u64 of the reply block as a Number (node ids and handles stay far below 2^53). */
  replyU64(off: number): number {
    return this.view.getUint32(this.replyOff + off, true) + this.view.getUint32(this.replyOff + off + 4, true) * U32;
  }

  /** A u32 of the data pages (READDIRPLUS records). */
  dataU32(off: number): number {
    return this.view.getUint32(this.dataOff + off, true);
  }

  dataU64(off: number): number {
    return this.view.getUint32(this.dataOff + off, true) + this.view.getUint32(this.dataOff + off + 4, true) * U32;
  }

  private pages(len: number, readable: boolean): void {
    for (let at = 0; at < len; at += PAGE) {
      const n = Math.min(PAGE, len - at);
      if (readable) this.chain.read(this.dataGpa + at, n);
      else this.chain.write(this.dataGpa + at, n);
    }
  }
}

function setU64(v: DataView, off: number, value: number): void {
  v.setUint32(off, value % U32, true);
  v.setUint32(off + 4, Math.floor(value / U32), true);
}
