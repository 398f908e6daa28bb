// An in-process VirtioFsTransport for unit tests of a ChainHandler without vhost-user: requests
// are laid out in anonymous mmap'd memory (so buffers have real host addresses, as guest RAM
// would), split the way the guest's virtio-fs driver splits them, and handed to the handler
// directly. Deferred chains are completed by pumping the handler's poll().
import koffi from 'koffi';
import { libc } from '../src/sys/libc';
import {
  DEFERRED,
  NO_BACKEND,
  type ChainHandler,
  type ChainHandlerFactory,
  type DescriptorChain,
  type GuestBuffer,
} from '../src/virtio/descriptor_chain';
import type { Submission, VirtioFsTransport } from '@vfs/harness/vhost_user_driver/transport';

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_PRIVATE = 2;
const MAP_ANONYMOUS = 0x20;
const PAGE = 4096;
const OUT_HEADER = 16;

const mmap = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)');
const munmap = libc.func('int munmap(void *addr, size_t len)');

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** A region of anonymous memory handed out front to back; reset when no chain is in flight. */
class GuestMemory {
  private readonly ptr: unknown;
  private readonly base: number;
  private readonly bytes: Uint8Array;
  private next = 0;

  constructor(readonly size: number) {
    this.ptr = mmap(null, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    this.base = Number(koffi.address(this.ptr));
    if (this.base === -1 || this.base === 0) throw new Error('mmap failed');
    this.bytes = new Uint8Array(koffi.view(this.ptr, size));
  }

  alloc(len: number): GuestBuffer {
    const off = this.next;
    if (off + len > this.size) throw new Error('loopback guest memory exhausted');
    this.next = off + ((len + 7) & ~7);
    return { addr: this.base + off, len, bytes: this.bytes.subarray(off, off + len) };
  }

  reset(): void {
    this.next = 0;
  }

  free(): void {
    munmap(this.ptr, this.size);
  }
}

export interface LoopbackOptions {
  /** Guest memory size; default 16 MiB. */
  memSize?: number;
  /** Split readable parts larger than this into several buffers; default one page. */
  readableChunk?: number;
  /** Writable buffers: the out-header alone, then chunks of this size; default one page. */
  writableChunk?: number;
}

/** A chain handed to the handler whose reply came back DEFERRED. */
export interface InFlight {
  readonly chain: DescriptorChain;
  /** Bytes written once completed, else null. */
  written: number | null;
}

export class LoopbackTransport implements VirtioFsTransport {
  readonly handler: ChainHandler;
  private readonly mem: GuestMemory;
  private readonly inFlight = new Map<DescriptorChain, InFlight>();
  private nextHead = 0;

  constructor(
    factory: ChainHandlerFactory,
    private readonly opts: LoopbackOptions = {},
  ) {
    this.mem = new GuestMemory(opts.memSize ?? 16 << 20);
    this.handler = factory((chain, _queue, written) => {
      const f = this.inFlight.get(chain);
      if (f === undefined) throw new Error('completion of a chain that is not in flight');
      f.written = written;
    }, NO_BACKEND);
  }

  /** Lays out `sub` in guest memory as a chain. */
  build(sub: Submission): DescriptorChain {
    if (this.pendingCount() === 0) this.mem.reset();
    const readable: GuestBuffer[] = [];
    const rChunk = this.opts.readableChunk ?? PAGE;
    for (const part of sub.readable) {
      for (let off = 0; off < part.length || (off === 0 && part.length === 0); off += rChunk) {
        const piece = part.subarray(off, Math.min(part.length, off + rChunk));
        if (piece.length === 0) break;
        const b = this.mem.alloc(piece.length);
        b.bytes.set(piece);
        readable.push(b);
      }
    }
    const writable: GuestBuffer[] = [];
    const wChunk = this.opts.writableChunk ?? PAGE;
    let left = sub.writableLen;
    if (left > 0) {
      const first = Math.min(left, OUT_HEADER);
      writable.push(this.mem.alloc(first));
      left -= first;
    }
    for (; left > 0; left -= Math.min(left, wChunk)) writable.push(this.mem.alloc(Math.min(left, wChunk)));
    return { head: this.nextHead++ & 0xffff, readable, writable };
  }

  /** Hands a chain to the handler without waiting: the reply, or an InFlight when deferred. */
  start(queue: number, sub: Submission): Uint8Array | InFlight {
    const chain = this.build(sub);
    const w = this.handler.handle(chain, queue);
    if (w !== DEFERRED) return gather(chain, w);
    const f: InFlight = { chain, written: null };
    this.inFlight.set(chain, f);
    return f;
  }

  /** Pumps poll() until `f` completes; returns its reply. */
  wait(f: InFlight, timeoutMs = 5000): Uint8Array {
    const deadline = Date.now() + timeoutMs;
    while (f.written === null) {
      if (Date.now() > deadline) throw new Error('deferred request did not complete in time');
      const next = this.handler.poll();
      if (f.written === null) sleepMs(next < 0 ? 2 : Math.min(next, 20));
    }
    this.inFlight.delete(f.chain);
    return gather(f.chain, f.written);
  }

  call(queue: number, sub: Submission, timeoutMs?: number): Uint8Array {
    const r = this.start(queue, sub);
    return r instanceof Uint8Array ? r : this.wait(r, timeoutMs);
  }

  pipeline(
    queue: number,
    _depth: number,
    next: () => Submission | null,
    done: (reply: Uint8Array) => void,
    timeoutMs?: number,
  ): void {
    for (let sub = next(); sub !== null; sub = next()) done(this.call(queue, sub, timeoutMs));
  }

  pendingCount(): number {
    let n = 0;
    for (const f of this.inFlight.values()) if (f.written === null) n++;
    return n;
  }

  close(): void {
    this.handler.reset();
    this.mem.free();
  }
}

/** Copies the first `written` bytes of the chain's writable buffers. */
function gather(chain: DescriptorChain, written: number): Uint8Array {
  const out = new Uint8Array(written);
  let off = 0;
  for (const b of chain.writable) {
    if (off >= written) break;
    const n = Math.min(b.len, written - off);
    out.set(b.bytes.subarray(0, n), off);
    off += n;
  }
  return out;
}
