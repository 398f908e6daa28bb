// The six workloads. Each runs `depth` request slots at once, every slot a little guest thread
// doing its sequence of requests (LOOKUP then GETATTR, OPEN then READ then RELEASE, …). Only
// run() is timed; prepare() and finish() do the untimed set-up and tidy-up, including the
// FORGETs the guest's dcache would send, so the daemons' inode tables stay bounded across rounds.
import { Opcode } from '@vfs/daemon/fuse';
import * as ops from './fuse_ops';
import { MAX_IO, PAGE } from './request_slot';
import { MAX_DEPTH, type Target } from './target';
import { fileName, type TreeSize } from './tree';

export type Unit = 'ops/s' | 'MB/s';

export interface Workload {
  readonly name: string;
  readonly unit: Unit;
  /** What one unit of `amount` is, for the table. */
  readonly counts: string;
  prepare(t: Target, depth: number): void;
  /** The timed part: returns requests done (ops/s) or bytes moved (MB/s). */
  run(t: Target, depth: number): number;
  finish(t: Target): void;
}

const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_LARGEFILE = 0o100000;
const S_IFREG_0644 = 0o100644;
const ENTRY_OUT = 128;
const DIRENT_NAMELEN = ENTRY_OUT + 16;
const DIRENT_OFF = ENTRY_OUT + 8;
const DIRENTPLUS_HEADER = ENTRY_OUT + 24;

/** Node ids to forget after a round (one lookup each; repeats allowed). */
class NodeList {
  ids = new Float64Array(1024);
  count = 0;

  push(id: number): void {
    if (this.count === this.ids.length) {
      const bigger = new Float64Array(this.ids.length * 2);
      bigger.set(this.ids);
      this.ids = bigger;
    }
    this.ids[this.count++] = id;
  }

  forgetAll(t: Target): void {
    t.forget(this.ids, this.count);
    this.count = 0;
  }
}

/** Per-slot state of the little state machines. */
class Slots {
  readonly phase = new Int8Array(MAX_DEPTH);
  readonly index = new Int32Array(MAX_DEPTH);
  readonly node = new Float64Array(MAX_DEPTH);
  readonly fh = new Float64Array(MAX_DEPTH);
}

function names(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => fileName(i));
}

/** Looks every name up (untimed, at full depth); returns the node ids in name order. */
function lookupAll(t: Target, parent: number, list: readonly Uint8Array[], forgets: NodeList): Float64Array {
  const ids = new Float64Array(list.length);
  const index = new Int32Array(MAX_DEPTH);
  let next = 0;
  t.run(MAX_DEPTH, (s, written) => {
    const slot = t.slots[s]!;
    if (written >= 0) {
      slot.check(written);
      ids[index[s]!] = slot.replyU64(ops.Reply.entryNodeid);
      forgets.push(ids[index[s]!]!);
    }
    if (next >= list.length) return false;
    index[s] = next++;
    ops.lookup(slot, t.nextUnique(), parent, list[index[s]!]!);
    return true;
  });
  return ids;
}

/** 1. LOOKUP + GETATTR of every small file. */
class LookupGetattr implements Workload {
  readonly name = 'lookup+getattr';
  readonly unit = 'ops/s';
  readonly counts = 'requests';
  private readonly names: Uint8Array[];
  private readonly forgets = new NodeList();
  private readonly st = new Slots();

  constructor(files: number) {
    this.names = names(files);
  }

  prepare(): void {}

  run(t: Target, depth: number): number {
    const { phase, node } = this.st;
    const list = this.names;
    let next = 0;
    let done = 0;
    t.run(depth, (s, written) => {
      const slot = t.slots[s]!;
      if (written >= 0) {
        slot.check(written);
        done++;
        if (phase[s] === Opcode.LOOKUP) {
          node[s] = slot.replyU64(ops.Reply.entryNodeid);
          this.forgets.push(node[s]!);
          phase[s] = Opcode.GETATTR;
          ops.getattr(slot, t.nextUnique(), node[s]!);
          return true;
        }
      }
      if (next >= list.length) return false;
      phase[s] = Opcode.LOOKUP;
      ops.lookup(slot, t.nextUnique(), t.filesDir, list[next++]!);
      return true;
    });
    return done;
  }

  finish(t: Target): void {
    this.forgets.forgetAll(t);
  }
}

/**
 * 2. READDIRPLUS of the whole files/ directory, one page per request. At depth d the listing is
 * split among d handles, each starting at the cookie where its share begins (taken from an
 * untimed listing), so every entry is still returned, and looked up, exactly once.
 */
class Readdirplus implements Workload {
  readonly name = 'readdirplus';
  readonly unit = 'ops/s';
  readonly counts = 'requests';
  private readonly forgets = new NodeList();
  /** Per target: the offset each request of a sequential listing starts from. */
  private readonly cookies = new Map<Target, number[]>();
  private fhs: number[] = [];
  private start: number[] = [];
  private quota: number[] = [];

  prepare(t: Target, depth: number): void {
    let cookies = this.cookies.get(t) ?? [0];
    if (depth > 1 && !this.cookies.has(t)) {
      this.fhs = [t.fuse.opendir(t.filesDir).fh];
      cookies = this.list(t, this.fhs, [0], [Infinity]).cookies;
      this.finish(t);
      this.cookies.set(t, cookies);
    }
    const per = Math.ceil(cookies.length / depth);
    this.fhs = [];
    this.start = [];
    this.quota = [];
    for (let k = 0; k < depth; k++) {
      this.fhs.push(t.fuse.opendir(t.filesDir).fh);
      this.start.push(cookies[Math.min(k * per, cookies.length - 1)]!);
      // The last share runs to the end of the directory (the empty reply).
      this.quota.push(k === depth - 1 ? Infinity : per);
    }
  }

  run(t: Target): number {
    return this.list(t, this.fhs, this.start, this.quota).requests;
  }

  finish(t: Target): void {
    for (const fh of this.fhs) t.fuse.releasedir(t.filesDir, fh);
    this.fhs = [];
    this.forgets.forgetAll(t);
  }

  private list(
    t: Target,
    fhs: readonly number[],
    start: readonly number[],
    quota: readonly number[],
  ): { requests: number; cookies: number[] } {
    const offset = new Float64Array(start);
    const issued = new Float64Array(fhs.length);
    const cookies: number[] = [];
    let requests = 0;
    t.run(fhs.length, (s, written) => {
      const slot = t.slots[s]!;
      if (written >= 0) {
        requests++;
        const size = slot.check(written);
        if (size === 0) return false;
        for (let off = 0; off < size; ) {
          const nodeid = slot.dataU64(off);
          if (nodeid !== 0) this.forgets.push(nodeid);
          offset[s] = slot.dataU64(off + DIRENT_OFF);
          off += (DIRENTPLUS_HEADER + slot.dataU32(off + DIRENT_NAMELEN) + 7) & ~7;
        }
        if (issued[s]! >= quota[s]!) return false;
      }
      if (fhs.length === 1) cookies.push(offset[s]!);
      issued[s] = issued[s]! + 1;
      ops.readdirplus(slot, t.nextUnique(), t.filesDir, fhs[s]!, offset[s]!);
      return true;
    });
    return { requests, cookies };
  }
}

/** 3. OPEN + READ 4 KiB + RELEASE of every small file (looked up beforehand, untimed). */
class OpenReadRelease implements Workload {
  readonly name = 'open+read4k+release';
  readonly unit = 'ops/s';
  readonly counts = 'requests';
  private readonly names: Uint8Array[];
  private readonly forgets = new NodeList();
  private readonly st = new Slots();
  private nodeids: Float64Array = new Float64Array(0);

  constructor(files: number) {
    this.names = names(files);
  }

  prepare(t: Target): void {
    this.nodeids = lookupAll(t, t.filesDir, this.names, this.forgets);
  }

  run(t: Target, depth: number): number {
    const { phase, node, fh } = this.st;
    const ids = this.nodeids;
    let next = 0;
    let done = 0;
    t.run(depth, (s, written) => {
      const slot = t.slots[s]!;
      if (written >= 0) {
        const size = slot.check(written);
        done++;
        if (phase[s] === Opcode.OPEN) {
          fh[s] = slot.replyU64(ops.Reply.openFh);
          phase[s] = Opcode.READ;
          ops.read(slot, t.nextUnique(), node[s]!, fh[s]!, 0, PAGE);
          return true;
        }
        if (phase[s] === Opcode.READ) {
          if (size !== PAGE) throw new Error(`READ returned ${size} bytes, ${PAGE} expected`);
          phase[s] = Opcode.RELEASE;
          ops.release(slot, t.nextUnique(), node[s]!, fh[s]!);
          return true;
        }
      }
      if (next >= ids.length) return false;
      node[s] = ids[next++]!;
      phase[s] = Opcode.OPEN;
      ops.open(slot, t.nextUnique(), node[s]!, ops.OPEN_READ);
      return true;
    });
    return done;
  }

  finish(t: Target): void {
    this.forgets.forgetAll(t);
  }
}

/** 4. Sequential READ of the big file in 1 MiB requests (at depth d, d consecutive MiB in flight). */
class SequentialRead implements Workload {
  readonly name = 'seq read 1MiB';
  readonly unit = 'MB/s';
  readonly counts = 'bytes';
  private fh = 0;

  constructor(private readonly bytes: number) {}

  prepare(t: Target): void {
    this.fh = t.fuse.open(t.bigFile, ops.OPEN_READ).fh;
  }

  run(t: Target, depth: number): number {
    let next = 0;
    let moved = 0;
    t.run(depth, (s, written) => {
      const slot = t.slots[s]!;
      if (written >= 0) moved += slot.check(written);
      if (next >= this.bytes) return false;
      const size = Math.min(MAX_IO, this.bytes - next);
      ops.read(slot, t.nextUnique(), t.bigFile, this.fh, next, size);
      next += size;
      return true;
    });
    if (moved !== this.bytes) throw new Error(`read ${moved} bytes of ${this.bytes}`);
    return moved;
  }

  finish(t: Target): void {
    t.fuse.release(t.bigFile, this.fh);
  }
}

/** 5. Sequential WRITE of a new file in 1 MiB requests; the file is deleted after each round. */
class SequentialWrite implements Workload {
  readonly name = 'seq write 1MiB';
  readonly unit = 'MB/s';
  readonly counts = 'bytes';
  private static readonly NAME = 'seq-write';
  private nodeid = 0;
  private fh = 0;

  constructor(private readonly bytes: number) {}

  prepare(t: Target): void {
    const r = t.fuse.create(t.scratch, SequentialWrite.NAME, O_RDWR | O_CREAT | O_TRUNC | O_LARGEFILE, S_IFREG_0644);
    this.nodeid = r.entry.nodeid;
    this.fh = r.fh;
  }

  run(t: Target, depth: number): number {
    let next = 0;
    let moved = 0;
    t.run(depth, (s, written) => {
      const slot = t.slots[s]!;
      if (written >= 0) {
        slot.check(written);
        moved += slot.replyU32(0);
      }
      if (next >= this.bytes) return false;
      const size = Math.min(MAX_IO, this.bytes - next);
      ops.write(slot, t.nextUnique(), this.nodeid, this.fh, next, size);
      next += size;
      return true;
    });
    if (moved !== this.bytes) throw new Error(`wrote ${moved} bytes of ${this.bytes}`);
    return moved;
  }

  finish(t: Target): void {
    t.fuse.release(this.nodeid, this.fh);
    t.fuse.unlink(t.scratch, SequentialWrite.NAME);
    t.forget(Float64Array.of(this.nodeid), 1);
  }
}

/** 6. CREATE + WRITE 4 KiB + RELEASE + UNLINK of new files in the daemon's scratch directory. */
class CreateWriteUnlink implements Workload {
  readonly name = 'create+write4k+release+unlink';
  readonly unit = 'ops/s';
  readonly counts = 'requests';
  private readonly names: Uint8Array[];
  private readonly forgets = new NodeList();
  private readonly st = new Slots();

  constructor(files: number) {
    this.names = names(files);
  }

  prepare(): void {}

  run(t: Target, depth: number): number {
    const { phase, node, fh, index } = this.st;
    const list = this.names;
    let next = 0;
    let done = 0;
    t.run(depth, (s, written) => {
      const slot = t.slots[s]!;
      if (written >= 0) {
        slot.check(written);
        done++;
        switch (phase[s]) {
          case Opcode.CREATE:
            node[s] = slot.replyU64(ops.Reply.entryNodeid);
            fh[s] = slot.replyU64(ops.Reply.createFh);
            this.forgets.push(node[s]!);
            phase[s] = Opcode.WRITE;
            ops.write(slot, t.nextUnique(), node[s]!, fh[s]!, 0, PAGE);
            return true;
          case Opcode.WRITE:
            if (slot.replyU32(0) !== PAGE) throw new Error(`WRITE wrote ${slot.replyU32(0)} bytes, ${PAGE} expected`);
            phase[s] = Opcode.RELEASE;
            ops.release(slot, t.nextUnique(), node[s]!, fh[s]!);
            return true;
          case Opcode.RELEASE:
            phase[s] = Opcode.UNLINK;
            ops.unlink(slot, t.nextUnique(), t.scratch, list[index[s]!]!);
            return true;
        }
      }
      if (next >= list.length) return false;
      index[s] = next++;
      phase[s] = Opcode.CREATE;
      ops.create(
        slot,
        t.nextUnique(),
        t.scratch,
        list[index[s]!]!,
        O_WRONLY | O_CREAT | O_EXCL | O_LARGEFILE,
        S_IFREG_0644,
      );
      return true;
    });
    return done;
  }

  finish(t: Target): void {
    this.forgets.forgetAll(t);
  }
}

/** The workloads in the order of the issue, sized by `size`. */
export function workloads(size: TreeSize, creates: number): Workload[] {
  return [
    new LookupGetattr(size.files),
    new Readdirplus(),
    new OpenReadRelease(size.files),
    new SequentialRead(size.bigFileBytes),
    new SequentialWrite(size.writeBytes),
    new CreateWriteUnlink(creates),
  ];
}
