// Runs a batch of FUSE cases through the front-end driver: request-queue cases pipelined up to a
// depth, hiprio cases (FORGET, INTERRUPT) beside them, each reply checked for framing (length,
// unique, errno range) and mined for the node ids and handles the pool offers later cases. A
// SETLKW may rightly wait for a lock: when only such requests are left they are INTERRUPTed, as
// the kernel does for a signalled task. Anything else unanswered within the hang timeout is a hang.
import * as abi from '@vfs/daemon/fuse';
import type { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import type { GuestRange } from '@vfs/harness/vhost_user_driver/driver_queue';
import { HIPRIO_QUEUE, REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import { VirtioFeature as VF } from '@vfs/daemon/vhost-user';
import type { FuseCase } from './fuse_cases';
import type { SessionPool } from './session_pool';

/** How long in-flight SETLKWs may wait before the batch interrupts them. */
const PARK_GRACE_MS = 30;
const POLL_MS = 10;
const ENTRY_OPS = new Set<number>([
  abi.Opcode.LOOKUP,
  abi.Opcode.MKNOD,
  abi.Opcode.MKDIR,
  abi.Opcode.SYMLINK,
  abi.Opcode.LINK,
  abi.Opcode.CREATE,
  abi.Opcode.TMPFILE,
]);

export class HangError extends Error {
  constructor(
    message: string,
    /** The cases still unanswered. */
    readonly cases: readonly FuseCase[],
  ) {
    super(message);
    this.name = 'HangError';
  }
}

/** A reply that breaks the FUSE framing, for the report. */
export interface Violation {
  readonly fuseCase: FuseCase;
  readonly detail: string;
}

interface InFlight {
  readonly c: FuseCase;
  readonly buffers: number[];
  readonly writable: GuestRange[];
  interrupted: boolean;
}

export class FuseBatch {
  readonly violations: Violation[] = [];
  private readonly inFlight = [new Map<number, InFlight>(), new Map<number, InFlight>()];
  private lastProgress = 0;

  constructor(
    private readonly frontend: VhostUserFrontend,
    private readonly pool: SessionPool,
    private readonly depth: number,
    private readonly hangMs: number,
  ) {}

  /** Sends every case and waits for every answer; throws HangError when the daemon stops answering. */
  run(cases: readonly FuseCase[]): void {
    this.lastProgress = Date.now();
    for (const c of cases) {
      const q = c.queue === HIPRIO_QUEUE ? HIPRIO_QUEUE : REQUEST_QUEUE;
      while (this.inFlight[q]!.size >= this.depth || !this.fits(q, c)) this.progress();
      this.place(q, c);
    }
    while (this.inFlight[0]!.size + this.inFlight[1]!.size > 0) this.progress();
  }

  private get indirect(): boolean {
    return (this.frontend.features & (1n << BigInt(VF.RING_INDIRECT_DESC))) !== 0n;
  }

  private fits(q: number, c: FuseCase): boolean {
    const need = this.indirect ? 1 : c.readable.length + c.writable.length;
    return this.frontend.queue(q).freeDescriptors >= need;
  }

  private place(q: number, c: FuseCase): void {
    const ram = this.frontend.ram;
    const buffers: number[] = [];
    const readable: GuestRange[] = [];
    for (const bytes of c.readable) {
      const gpa = ram.alloc(bytes.length);
      buffers.push(gpa);
      ram.view(gpa, bytes.length).set(bytes);
      readable.push({ gpa, len: bytes.length });
    }
    const writable: GuestRange[] = [];
    for (const len of c.writable) {
      const gpa = ram.alloc(len);
      buffers.push(gpa);
      writable.push({ gpa, len });
    }
    const queue = this.frontend.queue(q);
    const head = queue.addChain(readable, writable, this.indirect);
    this.inFlight[q]!.set(head, { c, buffers, writable, interrupted: false });
    queue.publish(head);
    this.frontend.kick(queue);
  }

  /** Waits a little for the device to use chains and reaps them; throws HangError once it stalls. */
  private progress(): void {
    let done = this.reap(HIPRIO_QUEUE);
    if (this.inFlight[REQUEST_QUEUE]!.size > 0) done = this.waitOn(REQUEST_QUEUE) || done;
    else if (!done && this.inFlight[HIPRIO_QUEUE]!.size > 0) done = this.waitOn(HIPRIO_QUEUE);
    if (done) {
      this.lastProgress = Date.now();
      return;
    }
    const stalled = Date.now() - this.lastProgress;
    if (stalled >= PARK_GRACE_MS) this.interruptParked();
    if (stalled >= this.hangMs) {
      const waiting = [...this.inFlight[0]!.values(), ...this.inFlight[1]!.values()].map((f) => f.c);
      throw new HangError(`no reply within ${this.hangMs} ms to ${waiting.length} request(s)`, waiting);
    }
  }

  /** Waits up to POLL_MS for `q`'s call eventfd; completes what the device used. */
  private waitOn(q: number): boolean {
    try {
      for (const u of this.frontend.waitUsed(q, POLL_MS)) this.complete(q, u.head, u.len);
      return true;
    } catch (err) {
      if (err instanceof Error && err.name === 'TransportTimeoutError') return false;
      throw err;
    }
  }

  private reap(q: number): boolean {
    const queue = this.frontend.queue(q);
    let any = false;
    while (queue.nextUsed()) {
      this.complete(q, queue.usedHead, queue.usedLen);
      any = true;
    }
    return any;
  }

  /**
   * INTERRUPTs every in-flight SETLKW not interrupted yet, as a signal to the waiting task would;
   * on either queue, since cases go to the hiprio queue too.
   */
  private interruptParked(): void {
    for (const f of [...this.inFlight[REQUEST_QUEUE]!.values(), ...this.inFlight[HIPRIO_QUEUE]!.values()]) {
      if (f.c.opcode !== abi.Opcode.SETLKW || f.interrupted) continue;
      // No room on hiprio now: the next stalled round tries again.
      if (this.frontend.queue(HIPRIO_QUEUE).freeDescriptors === 0) return;
      f.interrupted = true;
      const h = Buffer.alloc(abi.IN_HEADER_SIZE + abi.INTERRUPT_IN_SIZE);
      h.writeUInt32LE(h.length, abi.InHeader.len);
      h.writeUInt32LE(abi.Opcode.INTERRUPT, abi.InHeader.opcode);
      h.writeBigUInt64LE(BigInt.asUintN(64, f.c.unique) | (1n << 63n), abi.InHeader.unique);
      h.writeBigUInt64LE(BigInt.asUintN(64, f.c.unique), abi.IN_HEADER_SIZE);
      this.place(HIPRIO_QUEUE, { ...f.c, opcode: abi.Opcode.INTERRUPT, readable: [h], writable: [], queue: 0 });
    }
  }

  private complete(q: number, head: number, usedLen: number): void {
    const f = this.inFlight[q]!.get(head);
    if (f === undefined) throw new Error(`queue ${q}: the device returned head ${head}, which is not in flight`);
    this.inFlight[q]!.delete(head);
    this.frontend.queue(q).freeChain(head);
    try {
      if (q === REQUEST_QUEUE && f.c.queue === REQUEST_QUEUE) this.check(f, usedLen);
    } finally {
      for (const gpa of f.buffers) this.frontend.ram.release(gpa);
    }
  }

  /** Checks the reply's framing and harvests ids from successful ones. */
  private check(f: InFlight, usedLen: number): void {
    const offered = f.writable.reduce((n, w) => n + w.len, 0);
    const violation = (detail: string): void => {
      this.violations.push({ fuseCase: f.c, detail });
    };
    if (usedLen > offered) return violation(`used length ${usedLen} > ${offered} bytes offered`);
    if (usedLen === 0) return;
    if (usedLen < abi.OUT_HEADER_SIZE) return violation(`a ${usedLen}-byte reply (shorter than the out-header)`);
    const reply = this.gather(f.writable, usedLen);
    const len = reply.readUInt32LE(abi.OutHeader.len);
    const error = reply.readInt32LE(abi.OutHeader.error);
    const unique = reply.readBigUInt64LE(abi.OutHeader.unique);
    if (len !== usedLen) return violation(`out-header length ${len}, used length ${usedLen}`);
    if (unique !== BigInt.asUintN(64, f.c.unique)) return violation(`unique ${unique}, request's ${f.c.unique}`);
    if (error > 0 || error < -4095) return violation(`error ${error} outside -4095..0`);
    if (error !== 0 && len !== abi.OUT_HEADER_SIZE) return violation(`error ${error} with ${len}-byte reply`);
    if (error === 0) this.harvest(f.c.opcode, reply.subarray(abi.OUT_HEADER_SIZE));
  }

  private gather(writable: readonly GuestRange[], usedLen: number): Buffer {
    const parts: Buffer[] = [];
    let left = usedLen;
    for (const w of writable) {
      if (left <= 0) break;
      const n = Math.min(w.len, left);
      parts.push(Buffer.from(this.frontend.ram.view(w.gpa, n)));
      left -= n;
    }
    return Buffer.concat(parts);
  }

  private harvest(opcode: number, d: Buffer): void {
    if (ENTRY_OPS.has(opcode) && d.length >= abi.ENTRY_OUT_SIZE) {
      this.pool.addNode(d.readBigUInt64LE(abi.EntryOut.nodeid));
      if (opcode === abi.Opcode.CREATE || opcode === abi.Opcode.TMPFILE) {
        if (d.length >= abi.ENTRY_OUT_SIZE + 8) this.pool.addFileHandle(d.readBigUInt64LE(abi.ENTRY_OUT_SIZE));
      }
    } else if (opcode === abi.Opcode.OPEN && d.length >= 8) {
      this.pool.addFileHandle(d.readBigUInt64LE(0));
    } else if (opcode === abi.Opcode.OPENDIR && d.length >= 8) {
      this.pool.addDirHandle(d.readBigUInt64LE(0));
    } else if (opcode === abi.Opcode.READDIRPLUS) {
      for (let off = 0; off + abi.DIRENTPLUS_HEADER_SIZE <= d.length; ) {
        this.pool.addNode(d.readBigUInt64LE(off + abi.EntryOut.nodeid));
        const namelen = d.readUInt32LE(off + abi.ENTRY_OUT_SIZE + abi.Dirent.namelen);
        off += abi.ENTRY_OUT_SIZE + abi.recAlign(abi.DIRENT_HEADER_SIZE + namelen);
      }
    }
  }
}
