// The bounds on what a guest can make the daemon hold, through the real daemon process: each is
// set small by its flag and exceeded; the request past it gets its errno, the daemon keeps
// serving everything else, and giving the resource back (RELEASE, FLUSH, unlock) frees the slot.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ENFILE, ENOLCK } from '../fuse/errno';
import { GETATTR_IN_SIZE, LK_IN_SIZE, Opcode } from '../fuse/abi';
import { errnoOf, LOCK_TO_EOF, type FileLock, type FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import { DEFAULT_LIMITS, type ResourceLimits } from './config';
import { startHarness, type DaemonHarness } from '../../test_support/passthrough_harness';
import { spawnHostLockHolder } from '../../test_support/host_lock';

const O_RDONLY = 0;
const O_RDWR = 2;
const O_CREAT = 0o100;
const F_RDLCK = 0;
const F_WRLCK = 1;
const F_UNLCK = 2;

const whole = (type: number): FileLock => ({ start: 0n, end: LOCK_TO_EOF, type, pid: 1 });
const byte = (at: number, type: number): FileLock => ({ start: BigInt(at), end: BigInt(at), type, pid: 1 });

let h: DaemonHarness | undefined;
afterEach(() => {
  h?.cleanup();
  h = undefined;
});

function daemonWith(limits: Partial<ResourceLimits>): { c: FuseClient; dir: string; harness: DaemonHarness } {
  h = startHarness({ limits: { ...DEFAULT_LIMITS, ...limits } });
  h.client.init();
  return { c: h.client, dir: h.dir, harness: h };
}

test('--max-open-handles: OPEN, OPENDIR and CREATE past it get ENFILE and create nothing; RELEASE frees a slot', () => {
  const { c, dir } = daemonWith({ maxOpenHandles: 3 });
  writeFileSync(join(dir, 'a'), 'aaa');
  const a = c.lookup(1, 'a').nodeid;
  const fa = c.open(a, O_RDONLY).fh;
  const root = c.opendir(1).fh;
  const b = c.create(1, 'b', O_RDWR | O_CREAT, 0o644);

  expect(errnoOf(() => c.open(a, O_RDONLY))).toBe(ENFILE);
  expect(errnoOf(() => c.opendir(1))).toBe(ENFILE);
  expect(errnoOf(() => c.create(1, 'c', O_RDWR | O_CREAT, 0o644))).toBe(ENFILE);
  expect(existsSync(join(dir, 'c'))).toBe(false);
  // Everything else is served, the open handles included.
  expect(c.read(a, fa, 0, 10).toString()).toBe('aaa');
  expect(c.readdirAll(1, root).map((e) => e.name)).toContain('b');
  expect(c.lookup(1, 'b').nodeid).toBe(b.entry.nodeid);

  c.release(a, fa);
  const again = c.open(a, O_RDONLY).fh;
  expect(errnoOf(() => c.opendir(1))).toBe(ENFILE);
  c.releasedir(1, root);
  c.release(b.entry.nodeid, b.fh);
  c.releasedir(1, c.opendir(1).fh);
  c.release(a, again);
});

describe('lock bounds', () => {
  function lockedFile(c: FuseClient, dir: string, name: string): { nodeid: number; fh: number } {
    writeFileSync(join(dir, name), 'data');
    const nodeid = c.lookup(1, name).nodeid;
    return { nodeid, fh: c.open(nodeid, O_RDWR).fh };
  }

  test('--max-lock-owners: a new owner past it gets ENOLCK, on any file; FLUSH or a whole-file unlock frees a slot', () => {
    const { c, dir } = daemonWith({ maxLockOwners: 3 });
    const f = lockedFile(c, dir, 'f');
    const g = lockedFile(c, dir, 'g');
    c.setlk(f.nodeid, f.fh, 1n, byte(1, F_WRLCK));
    c.setlk(f.nodeid, f.fh, 2n, byte(2, F_WRLCK));
    c.setlk(g.nodeid, g.fh, 1n, byte(1, F_WRLCK));

    expect(errnoOf(() => c.setlk(f.nodeid, f.fh, 4n, byte(4, F_WRLCK)))).toBe(ENOLCK);
    expect(errnoOf(() => c.setlk(g.nodeid, g.fh, 2n, byte(2, F_RDLCK)))).toBe(ENOLCK);
    // Owners already holding locks keep locking; GETLK needs no slot; other requests are served.
    c.setlk(f.nodeid, f.fh, 1n, byte(10, F_WRLCK));
    expect(c.getlk(f.nodeid, f.fh, 4n, byte(1, F_WRLCK)).type).toBe(F_WRLCK);
    c.setlk(f.nodeid, f.fh, 4n, whole(F_UNLCK));
    expect(c.read(f.nodeid, f.fh, 0, 4).toString()).toBe('data');

    c.flush(f.nodeid, f.fh, 2n);
    c.setlk(f.nodeid, f.fh, 4n, byte(4, F_WRLCK));
    expect(errnoOf(() => c.setlk(f.nodeid, f.fh, 5n, byte(5, F_WRLCK)))).toBe(ENOLCK);
    c.setlk(g.nodeid, g.fh, 1n, whole(F_UNLCK));
    c.setlk(f.nodeid, f.fh, 5n, byte(5, F_WRLCK));

    // A new session starts with every slot free.
    c.init();
    const again = lockedFile(c, dir, 'h');
    for (const owner of [1n, 2n, 3n]) c.setlk(again.nodeid, again.fh, owner, byte(Number(owner), F_WRLCK));
    expect(errnoOf(() => c.setlk(again.nodeid, again.fh, 4n, byte(4, F_WRLCK)))).toBe(ENOLCK);
  });

  test('--max-parked-locks: one more SETLKW gets ENOLCK at once while the parked ones wait; granting them frees the slots', () => {
    const { c, dir, harness } = daemonWith({ maxParkedLocks: 2 });
    const f = lockedFile(c, dir, 'f');
    const lk = (owner: bigint, lock: FileLock, sleep: boolean): Uint8Array[] => [
      c.header(sleep ? Opcode.SETLKW : Opcode.SETLK, f.nodeid, LK_IN_SIZE),
      c.lkIn(f.fh, owner, lock),
    ];
    /** Owner 1 holds the write lock; owners 2..n+1 wait for read locks; then owner 1 unlocks. */
    function parkThenUnlock(waiting: number): { errors: Map<string, number>; order: string[] } {
      c.setlk(f.nodeid, f.fh, 1n, whole(F_WRLCK));
      const named: [string, Uint8Array[]][] = [];
      for (let i = 0; i < waiting; i++) named.push([`setlkw ${i + 2}`, lk(BigInt(i + 2), whole(F_RDLCK), true)]);
      named.push(['getattr', [c.header(Opcode.GETATTR, f.nodeid, GETATTR_IN_SIZE), Buffer.alloc(GETATTR_IN_SIZE)]]);
      named.push(['unlock', lk(1n, whole(F_UNLCK), false)]);
      const byUnique = new Map(named.map(([name, parts]) => [Buffer.from(parts[0]!).readBigUInt64LE(8), name]));
      const errors = new Map<string, number>();
      const order: string[] = [];
      const batch = named.map(([, parts]) => ({ readable: parts, writableLen: 128 }));
      harness.frontend.pipeline(
        REQUEST_QUEUE,
        batch.length,
        () => batch.shift() ?? null,
        (r) => {
          const reply = Buffer.from(r);
          const name = byUnique.get(reply.readBigUInt64LE(8)) ?? '?';
          order.push(name);
          errors.set(name, Math.abs(reply.readInt32LE(4)));
        },
      );
      return { errors, order };
    }

    const first = parkThenUnlock(3);
    expect(first.errors.get('setlkw 4')).toBe(ENOLCK);
    expect(['setlkw 2', 'setlkw 3', 'getattr', 'unlock'].map((n) => first.errors.get(n))).toEqual([0, 0, 0, 0]);
    // The refused one was answered at once, the parked ones only once owner 1 let go.
    expect(first.order.indexOf('setlkw 4')).toBeLessThan(first.order.indexOf('unlock'));
    expect(first.order.indexOf('unlock')).toBeLessThan(first.order.indexOf('setlkw 2'));

    c.setlk(f.nodeid, f.fh, 2n, whole(F_UNLCK));
    c.setlk(f.nodeid, f.fh, 3n, whole(F_UNLCK));
    const second = parkThenUnlock(2);
    expect(['setlkw 2', 'setlkw 3', 'unlock'].map((n) => second.errors.get(n))).toEqual([0, 0, 0]);
  });
});

describe('descriptor-chain slots', () => {
  let holder: ChildProcess | undefined;
  afterEach(() => holder?.kill('SIGKILL'));

  test('are bounded by the queue size: a head re-sent while in flight is skipped, and the queue keeps serving', () => {
    h = startHarness({}, {}, { queueSize: 8 });
    const { client: c, frontend: fe, dir } = h;
    c.init();
    writeFileSync(join(dir, 'f'), 'data');
    const f = c.lookup(1, 'f').nodeid;
    const fh = c.open(f, O_RDWR).fh;
    const marker = join(dir, 'held');
    holder = spawnHostLockHolder(join(dir, 'f'), marker, 60_000);
    while (!existsSync(marker)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);

    // A SETLKW that waits for the host's lock keeps its head in flight; the guest sends it again.
    const q = fe.queue(REQUEST_QUEUE);
    const parts = [c.header(Opcode.SETLKW, f, LK_IN_SIZE), c.lkIn(fh, 7n, whole(F_WRLCK))];
    const readable = parts.map((p) => {
      const gpa = fe.ram.alloc(p.length);
      fe.ram.view(gpa, p.length).set(p);
      return { gpa, len: p.length };
    });
    const reply = { gpa: fe.ram.alloc(16), len: 16 };
    const head = q.addChain(readable, [reply], false);
    q.publish(head);
    q.publish(head);
    fe.kick(q);
    // Served meanwhile: a used entry for the SETLKW's head here would make the driver throw.
    for (let i = 0; i < 32; i++) expect(c.getattr(1).ino).toBeGreaterThan(0);

    holder.kill('SIGKILL');
    const used = fe.waitUsed(REQUEST_QUEUE);
    expect(used.map((u) => u.head)).toEqual([head]);
    expect(Buffer.from(fe.ram.view(reply.gpa, 16)).readInt32LE(4)).toBe(0);
    q.freeChain(head);
    for (const r of [...readable, reply]) fe.ram.release(r.gpa);
    for (let i = 0; i < 32; i++) expect(c.getattr(1).ino).toBeGreaterThan(0);
  });
});

describe('--rlimit-nofile', () => {
  /** Soft and hard "Max open files" of a process. */
  function nofile(pid: number | string): [number, number] {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const m = /(\d+)\s+(\d+)/.exec(line ?? '');
    if (m === null) throw new Error(`no open-files limit in /proc/${pid}/limits`);
    return [Number(m[1]), Number(m[2])];
  }

  test('sets soft and hard limit to N', () => {
    h = startHarness({}, { sandbox: 'none', rlimitNofile: 4321 });
    h.client.init();
    expect(nofile(h.daemon.pid as number)).toEqual([4321, 4321]);
  });

  /** CAP_SYS_RESOURCE (bit 24) in our effective set: the hard limit may rise. */
  function mayRaiseHardLimit(): boolean {
    const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return eff !== null && (BigInt(`0x${eff[1]}`) & (1n << 24n)) !== 0n;
  }

  test('unset, raises the limit to 1,000,000 (or fs.nr_open; without CAP_SYS_RESOURCE, the hard limit) as virtiofsd does', () => {
    h = startHarness({}, { sandbox: 'none' });
    h.client.init();
    const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    const floor = mayRaiseHardLimit() ? Math.min(1_000_000, nrOpen) : nofile('self')[1];
    expect(nofile(h.daemon.pid as number)[0]).toBeGreaterThanOrEqual(floor);
  });
});
