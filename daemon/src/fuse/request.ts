// One request at a time: the decoded in-header, a private copy of the arguments (so a guest cannot
// change a name after it was checked), and the reply under construction. Everything here is
// allocated once per connection and reused.
import type { DescriptorChain } from '../virtio/descriptor_chain';
import { ChainReader, ChainWriter, IovecArray } from './chain_io';
import { IN_HEADER_SIZE, InHeader, OUT_HEADER_SIZE, Opcode, WRITE_IN_SIZE } from './abi';
import { EINVAL, ENAMETOOLONG } from './errno';

/** Largest argument block we copy: a 64 KiB xattr value plus its name and header. */
export const ARGS_MAX = 65536 + 4096;
/** Zeros kept after the copied arguments, so a fixed-size read past a short block sees 0. */
const ARGS_PAD = 8;
/** Largest reply we build in memory (READ data bypasses it): a 1 MiB READDIR buffer. */
const REPLY_MAX = OUT_HEADER_SIZE + (1 << 20);
const NAME_MAX = 255;
const SLASH = 0x2f;
const DOT = 0x2e;

/** Handles one opcode: returns the bytes written into the chain's writable buffers, or DEFERRED. */
export type OpHandler<Fs> = (rq: Request, fs: Fs) => number;

export class Request {
  readonly reader = new ChainReader();
  readonly writer = new ChainWriter();
  /** The in-header at 0 and the arguments at IN_HEADER_SIZE. */
  readonly args = Buffer.alloc(IN_HEADER_SIZE + ARGS_MAX + ARGS_PAD);
  readonly argsView = new DataView(this.args.buffer, this.args.byteOffset, this.args.byteLength);
  /** The reply: out-header at 0, payload at OUT_HEADER_SIZE. */
  readonly reply = Buffer.alloc(REPLY_MAX);
  readonly replyView = new DataView(this.reply.buffer, this.reply.byteOffset, this.reply.byteLength);
  /** The reply payload area, for system calls that fill it directly. */
  readonly payload = this.reply.subarray(OUT_HEADER_SIZE);
  readonly iov = new IovecArray();

  opcode = 0;
  /** nodeid of the header, or -1 when it does not fit our ids (any id above 2^32). */
  nodeid = -1;
  uid = 0;
  gid = 0;
  pid = 0;
  /** Bytes of arguments after the in-header, as the header says. */
  argLen = 0;
  chain: DescriptorChain | null = null;
  queueIndex = 0;

  /**
   * Loads a chain: validates the in-header and copies it with the arguments (for WRITE only its
   * fixed part). Returns 0, or -errno when the request is malformed.
   */
  begin(chain: DescriptorChain, queueIndex: number): number {
    this.chain = chain;
    this.queueIndex = queueIndex;
    this.reader.reset(chain.readable);
    this.writer.reset(chain.writable);
    this.args.fill(0, 0, IN_HEADER_SIZE);
    if (!this.reader.copy(0, this.args, 0, IN_HEADER_SIZE)) return -EINVAL;
    const v = this.argsView;
    const len = v.getUint32(InHeader.len, true);
    this.opcode = v.getUint32(InHeader.opcode, true);
    this.nodeid = v.getUint32(InHeader.nodeid + 4, true) === 0 ? v.getUint32(InHeader.nodeid, true) : -1;
    this.uid = v.getUint32(InHeader.uid, true);
    this.gid = v.getUint32(InHeader.gid, true);
    this.pid = v.getUint32(InHeader.pid, true);
    if (len < IN_HEADER_SIZE || len > this.reader.size) return -EINVAL;
    this.argLen = len - IN_HEADER_SIZE;
    const copyLen = this.opcode === Opcode.WRITE ? Math.min(this.argLen, WRITE_IN_SIZE) : this.argLen;
    if (copyLen > ARGS_MAX) return -EINVAL;
    this.reader.copy(IN_HEADER_SIZE, this.args, IN_HEADER_SIZE, copyLen);
    this.args.fill(0, IN_HEADER_SIZE + copyLen, IN_HEADER_SIZE + copyLen + ARGS_PAD);
    return 0;
  }

  /** True when the arguments hold at least `n` bytes. */
  has(n: number): boolean {
    return this.argLen >= n;
  }

  u32(off: number): number {
    return this.argsView.getUint32(IN_HEADER_SIZE + off, true);
  }

  /** A u64 argument as a Number; exact below 2^53, which covers every size and offset we accept. */
  u64(off: number): number {
    return (
      this.argsView.getUint32(IN_HEADER_SIZE + off, true) +
      this.argsView.getUint32(IN_HEADER_SIZE + off + 4, true) * 0x1_0000_0000
    );
  }

  /** A u64 id argument (nodeid, fh), or -1 above 2^32 where we never hand out ids. */
  id(off: number): number {
    return this.u32(off + 4) === 0 ? this.u32(off) : -1;
  }

  /** A u64 that must be a non-negative i64 (offsets, lengths); -1 when it is not. */
  offset(off: number): number {
    return this.u32(off + 4) >= 0x8000_0000 ? -1 : this.u64(off);
  }

  /** Copies the raw 8 bytes of the u64 argument at `off` into `dst` (64-bit cookies and times). */
  rawU64(off: number, dst: DataView, dstOff: number): void {
    dst.setUint32(dstOff, this.u32(off), true);
    dst.setUint32(dstOff + 4, this.u32(off + 4), true);
  }

  /**
   * Length of the NUL-terminated string at argument offset `off` (bounded by the arguments), or
   * -EINVAL when it is not terminated.
   */
  strlen(off: number): number {
    const start = IN_HEADER_SIZE + off;
    const end = IN_HEADER_SIZE + this.argLen;
    if (start >= end) return -EINVAL;
    const nul = this.args.indexOf(0, start);
    return nul < 0 || nul >= end ? -EINVAL : nul - start;
  }

  /**
   * Validates the directory-entry name at argument offset `off`: one path component, not "." or
   * "..", at most NAME_MAX bytes. Returns its length or -errno.
   */
  entryName(off: number): number {
    const len = this.strlen(off);
    if (len < 0) return len;
    if (len === 0) return -EINVAL;
    if (len > NAME_MAX) return -ENAMETOOLONG;
    const start = IN_HEADER_SIZE + off;
    const a = this.args;
    if (a[start] === DOT && (len === 1 || (len === 2 && a[start + 1] === DOT))) return -EINVAL;
    // A loop over the name: Buffer.indexOf would scan on to the end of the 68 KiB argument buffer
    // whenever the name has no slash, as nearly every name has not.
    for (let i = start; i < start + len; i++) if (a[i] === SLASH) return -EINVAL;
    return len;
  }

  /** The NUL-terminated bytes at argument offset `off`, for passing to a system call. */
  cstr(off: number): Buffer {
    return this.args.subarray(IN_HEADER_SIZE + off);
  }

  /** Sends the out-header and `payloadLen` bytes already placed at reply[OUT_HEADER_SIZE..]. */
  ok(payloadLen: number): number {
    return this.send(0, OUT_HEADER_SIZE + payloadLen);
  }

  /** Sends an error reply; `err` is -errno (or errno). */
  error(err: number): number {
    return this.send(-Math.abs(err), OUT_HEADER_SIZE);
  }

  /** Replies with `r` bytes of payload when r >= 0, else with the error -r. */
  result(r: number): number {
    return r < 0 ? this.error(r) : this.ok(r);
  }

  /**
   * Writes only the out-header for a reply whose `dataLen` payload bytes the handler already put
   * into the writable buffers (READ).
   */
  sendHeaderOnly(dataLen: number): number {
    // As send(): no room for the out-header, no reply (half a header is worse than none).
    if (this.writer.size < OUT_HEADER_SIZE) return 0;
    this.fillHeader(0, OUT_HEADER_SIZE + dataLen);
    this.writer.write(0, this.reply, 0, OUT_HEADER_SIZE);
    return OUT_HEADER_SIZE + dataLen;
  }

  /** Room for a payload in the guest's reply buffers. */
  replyRoom(): number {
    return Math.max(0, Math.min(this.writer.size, REPLY_MAX) - OUT_HEADER_SIZE);
  }

  private send(error: number, len: number): number {
    if (this.writer.size < OUT_HEADER_SIZE) return 0;
    if (len > this.writer.size) return this.send(-EINVAL, OUT_HEADER_SIZE);
    this.fillHeader(error, len);
    return this.writer.write(0, this.reply, 0, len);
  }

  private fillHeader(error: number, len: number): void {
    const v = this.replyView;
    v.setUint32(0, len, true);
    v.setInt32(4, error, true);
    v.setUint32(8, this.argsView.getUint32(InHeader.unique, true), true);
    v.setUint32(12, this.argsView.getUint32(InHeader.unique + 4, true), true);
  }
}
