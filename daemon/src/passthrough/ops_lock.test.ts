// Locks that really lock on the host: guest owners contend with each other and with host
// processes, SETLKW waits without blocking the queue, and INTERRUPT cancels a waiting SETLKW.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EAGAIN, EBADF, EINTR } from '../fuse/errno';
import {
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION,
  INIT_IN_SIZE,
  INIT_OUT_SIZE,
  InitIn,
  LK_IN_SIZE,
  Opcode,
  OUT_HEADER_SIZE,
} from '../fuse/abi';
import { errnoOf, type FuseClient, LOCK_TO_EOF, type FileLock } from '@vfs/harness/vhost_user_driver/fuse_client';
import { REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import {
  startHarness,
  startLoopbackHarness,
  type DaemonHarness,
  type Harness,
  type LoopbackHarness,
} from '../../test_support/passthrough_harness';
import { hostCanLock, spawnHostLockHolder } from '../../test_support/host_lock';

const F_RDLCK = 0;
const F_WRLCK = 1;
const F_UNLCK = 2;
const O_RDWR = 2;

let h: Harness;
let c: FuseClient;
let children: ChildProcess[] = [];

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function waitFor(cond: () => boolean, ms = 5000): void {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    Atomics.wait(sleeper, 0, 0, 10);
  }
}

/** A host process holding a POSIX write lock on `path` for `holdMs` (or until killed). */
function hostPosixLock(path: string, marker: string, holdMs: number): ChildProcess {
  const p = spawnHostLockHolder(path, marker, holdMs);
  children.push(p);
  waitFor(() => existsSync(marker));
  return p;
}

const whole = (type: number): FileLock => ({ start: 0n, end: LOCK_TO_EOF, type, pid: 1 });
const range = (start: number, end: number, type: number): FileLock => ({
  start: BigInt(start),
  end: BigInt(end),
  type,
  pid: 1,
});

let file: { nodeid: number; fh: number; path: string };

function useHarness(harness: Harness): void {
  h = harness;
  c = h.client;
  c.init();
  const path = join(h.dir, 'locked');
  writeFileSync(path, 'data');
  const e = c.lookup(1, 'locked');
  file = { nodeid: e.nodeid, fh: c.open(e.nodeid, O_RDWR).fh, path };
}

/** Swaps the daemon for the in-process handler, for tests that watch a deferred chain. */
function useLoopback(): LoopbackHarness {
  h.cleanup();
  const l = startLoopbackHarness();
  useHarness(l);
  return l;
}

beforeEach(() => useHarness(startHarness()));

afterEach(() => {
  for (const p of children) if (p.exitCode === null) p.kill('SIGKILL');
  children = [];
  h.cleanup();
});

test('two guest lock owners contend; GETLK reports the conflict; FLUSH releases the owner', () => {
  c.setlk(file.nodeid, file.fh, 1n, range(0, 99, F_WRLCK));
  expect(errnoOf(() => c.setlk(file.nodeid, file.fh, 2n, range(50, 60, F_RDLCK)))).toBe(EAGAIN);
  const conflict = c.getlk(file.nodeid, file.fh, 2n, range(50, 60, F_RDLCK));
  expect([conflict.type, conflict.start, conflict.end, conflict.pid]).toEqual([F_WRLCK, 0n, 99n, 0]);
  expect(c.getlk(file.nodeid, file.fh, 2n, range(100, 200, F_WRLCK)).type).toBe(F_UNLCK);
  c.setlk(file.nodeid, file.fh, 2n, range(100, 199, F_WRLCK));
  c.setlk(file.nodeid, file.fh, 1n, range(0, 99, F_UNLCK));
  c.setlk(file.nodeid, file.fh, 2n, range(50, 60, F_RDLCK));
  c.flush(file.nodeid, file.fh, 2n);
  c.setlk(file.nodeid, file.fh, 1n, whole(F_WRLCK));
});

test('a host process holding a POSIX lock blocks the guest, and the guest lock blocks the host', () => {
  const host = hostPosixLock(file.path, join(h.dir, 'm1'), 60_000);
  expect(errnoOf(() => c.setlk(file.nodeid, file.fh, 1n, whole(F_WRLCK)))).toBe(EAGAIN);
  expect(c.getlk(file.nodeid, file.fh, 1n, whole(F_RDLCK)).type).toBe(F_WRLCK);
  host.kill('SIGKILL');
  waitFor(() => errnoOf(() => c.setlk(file.nodeid, file.fh, 1n, whole(F_WRLCK))) === 0);
  expect(hostCanLock(file.path)).toBe(false);
  c.setlk(file.nodeid, file.fh, 1n, whole(F_UNLCK));
  expect(hostCanLock(file.path)).toBe(true);
});

test('SETLKW is deferred while the host holds the lock and granted when it lets go', () => {
  const l = useLoopback();
  hostPosixLock(file.path, join(h.dir, 'm2'), 300);
  const hdr = c.header(Opcode.SETLKW, file.nodeid, LK_IN_SIZE);
  const started = l.transport.start(REQUEST_QUEUE, {
    readable: [hdr, c.lkIn(file.fh, 7n, whole(F_WRLCK))],
    writableLen: 16,
  });
  expect(started).not.toBeInstanceOf(Uint8Array);
  if (started instanceof Uint8Array) return;
  expect(l.transport.pendingCount()).toBe(1);
  c.getattr(file.nodeid);
  const reply = Buffer.from(l.transport.wait(started, 5000));
  expect(reply.readInt32LE(4)).toBe(0);
  expect(reply.readBigUInt64LE(8)).toBe(hdr.readBigUInt64LE(8));
  expect(hostCanLock(file.path)).toBe(false);
});

test('SETLKW through the daemon blocks until the host lets go, without stalling the queue', () => {
  const holder = hostPosixLock(file.path, join(h.dir, 'm4'), 400);
  const started = Date.now();
  c.setlk(file.nodeid, file.fh, 9n, whole(F_WRLCK), true);
  expect(holder.exitCode !== null || Date.now() - started >= 300).toBe(true);
  expect(hostCanLock(file.path)).toBe(false);
});

test('RELEASEDIR answers an flock SETLKW waiting on that directory handle with EBADF; the file that reuses its fd stays unlocked', () => {
  const l = useLoopback();
  mkdirSync(join(h.dir, 'd'));
  const dir = c.lookup(1, 'd').nodeid;
  const holder = c.opendir(dir).fh;
  const waiter = c.opendir(dir).fh;
  c.setlk(dir, holder, 1n, whole(F_WRLCK), false, true);
  const hdr = c.header(Opcode.SETLKW, dir, LK_IN_SIZE);
  const started = l.transport.start(REQUEST_QUEUE, {
    readable: [hdr, c.lkIn(waiter, 2n, whole(F_WRLCK), true)],
    writableLen: 16,
  });
  if (started instanceof Uint8Array) throw new Error('SETLKW was not deferred');
  writeFileSync(join(h.dir, 'g'), '');
  const g = c.lookup(1, 'g');
  c.releasedir(dir, waiter);
  // The lowest free fd is the one the waiter's handle had: a waiter left behind would flock it.
  c.open(g.nodeid, O_RDWR);
  const reply = Buffer.from(l.transport.wait(started, 1000));
  expect(-reply.readInt32LE(4)).toBe(EBADF);
  expect(spawnSync('flock', ['-n', '-x', join(h.dir, 'g'), 'true']).status).toBe(0);
});

test('INTERRUPT answers a waiting SETLKW with EINTR', () => {
  const l = useLoopback();
  hostPosixLock(file.path, join(h.dir, 'm3'), 60_000);
  const hdr = c.header(Opcode.SETLKW, file.nodeid, LK_IN_SIZE);
  const started = l.transport.start(REQUEST_QUEUE, {
    readable: [hdr, c.lkIn(file.fh, 7n, whole(F_WRLCK))],
    writableLen: 16,
  });
  if (started instanceof Uint8Array) throw new Error('SETLKW was not deferred');
  l.transport.handler.poll();
  c.interrupt(hdr.readBigUInt64LE(8));
  const reply = Buffer.from(l.transport.wait(started, 1000));
  expect(-reply.readInt32LE(4)).toBe(EINTR);
  expect(l.transport.pendingCount()).toBe(0);
});

test('an INTERRUPT served before its SETLKW still answers that SETLKW with EINTR, once', () => {
  const l = useLoopback();
  hostPosixLock(file.path, join(h.dir, 'm5'), 60_000);
  // The hiprio queue may be served first: the INTERRUPT finds nothing parked yet.
  const hdr = c.header(Opcode.SETLKW, file.nodeid, LK_IN_SIZE);
  c.interrupt(hdr.readBigUInt64LE(8));
  const first = l.transport.start(REQUEST_QUEUE, {
    readable: [hdr, c.lkIn(file.fh, 8n, whole(F_WRLCK))],
    writableLen: 16,
  });
  if (!(first instanceof Uint8Array)) throw new Error('the interrupted SETLKW was parked');
  expect(-Buffer.from(first).readInt32LE(4)).toBe(EINTR);
  // Spent: the same unique again waits.
  const again = l.transport.start(REQUEST_QUEUE, {
    readable: [hdr, c.lkIn(file.fh, 8n, whole(F_WRLCK))],
    writableLen: 16,
  });
  if (again instanceof Uint8Array) throw new Error('SETLKW was not deferred');
  c.interrupt(hdr.readBigUInt64LE(8));
  expect(-Buffer.from(l.transport.wait(again, 1000)).readInt32LE(4)).toBe(EINTR);
});

test('flock contends with the host flock(1) and SETLKW on flock waits for it', () => {
  const marker = join(h.dir, 'm4');
  const host = spawn('flock', ['-x', file.path, '-c', `touch ${marker}; sleep 0.3`], { stdio: 'ignore' });
  children.push(host);
  waitFor(() => existsSync(marker));
  expect(errnoOf(() => c.setlk(file.nodeid, file.fh, 1n, whole(F_WRLCK), false, true))).toBe(EAGAIN);
  c.setlk(file.nodeid, file.fh, 1n, whole(F_WRLCK), true, true);
  expect(spawnSync('flock', ['-n', '-x', file.path, 'true']).status).toBe(1);
  c.setlk(file.nodeid, file.fh, 1n, whole(F_UNLCK), false, true);
  expect(spawnSync('flock', ['-n', '-x', file.path, 'true']).status).toBe(0);
});

describe('lock owners holding no locks pin no fds', () => {
  const O_RDONLY = 0;
  let pid: number;
  const fdCount = (): number => readdirSync(`/proc/${pid}/fd`).length;

  beforeEach(() => {
    h.cleanup();
    useHarness(startHarness({}, { sandbox: 'none' }));
    pid = (h as DaemonHarness).daemon.pid as number;
  });

  test('GETLKs of 21,000 new owners leave the fd count as it was, and LOOKUP, OPEN and OPENDIR still work', () => {
    c.setlk(file.nodeid, file.fh, 1n, range(0, 9, F_WRLCK));
    const before = fdCount();
    for (let owner = 2n; owner < 21_002n; owner++) {
      if (owner % 5000n === 0n) expect(fdCount()).toBeLessThan(before + 8);
      const probe = owner % 2n === 0n ? range(5, 20, F_RDLCK) : range(10, 20, F_WRLCK);
      expect(c.getlk(file.nodeid, file.fh, owner, probe).type).toBe(owner % 2n === 0n ? F_WRLCK : F_UNLCK);
    }
    expect(fdCount()).toBeLessThan(before + 8);
    writeFileSync(join(h.dir, 'after'), 'x');
    const e = c.lookup(1, 'after');
    c.release(e.nodeid, c.open(e.nodeid, O_RDONLY).fh);
    c.releasedir(1, c.opendir(1).fh);
  });

  test('a refused SETLK or a whole-file unlock gives the owner description back', () => {
    c.setlk(file.nodeid, file.fh, 1n, whole(F_WRLCK));
    const before = fdCount();
    for (let owner = 2n; owner < 500n; owner++) {
      expect(errnoOf(() => c.setlk(file.nodeid, file.fh, owner, range(0, 9, F_RDLCK)))).toBe(EAGAIN);
    }
    expect(fdCount()).toBeLessThan(before + 8);
    c.setlk(file.nodeid, file.fh, 1n, whole(F_UNLCK));
    for (let owner = 2n; owner < 500n; owner++) {
      c.setlk(file.nodeid, file.fh, owner, range(Number(owner), Number(owner), F_WRLCK));
      c.setlk(file.nodeid, file.fh, owner, whole(F_UNLCK));
    }
    expect(fdCount()).toBeLessThanOrEqual(before);
    c.setlk(file.nodeid, file.fh, 7n, whole(F_WRLCK));
  });
});

describe('a session ending while a SETLKW waits', () => {
  /** SETLKW of owner 2 behind owner 1's lock, then `end` in the same batch; their replies' errors. */
  function parkThenEnd(end: Uint8Array[], endReplyLen: number): number[] {
    const daemon = h as DaemonHarness;
    c.setlk(file.nodeid, file.fh, 1n, whole(F_WRLCK));
    const setlkw = [c.header(Opcode.SETLKW, file.nodeid, LK_IN_SIZE), c.lkIn(file.fh, 2n, whole(F_WRLCK))];
    const batch = [
      { readable: setlkw, writableLen: 16 },
      { readable: end, writableLen: endReplyLen },
    ];
    const errors: number[] = [];
    daemon.frontend.pipeline(
      REQUEST_QUEUE,
      2,
      () => batch.shift() ?? null,
      (r) => errors.push(Buffer.from(r).readInt32LE(4)),
    );
    return errors;
  }

  /** The ring still serves: the SETLKW's head comes back first from the driver's free list. */
  function servesManyRequests(): void {
    c.init();
    for (let i = 0; i < 600; i++) c.getattr(1);
  }

  test('INIT again answers the waiting SETLKW with EINTR, and its ring slot serves new requests', () => {
    const init = Buffer.alloc(INIT_IN_SIZE);
    init.writeUInt32LE(FUSE_KERNEL_VERSION, InitIn.major);
    init.writeUInt32LE(FUSE_KERNEL_MINOR_VERSION, InitIn.minor);
    const errors = parkThenEnd([c.header(Opcode.INIT, 0, init.length), init], OUT_HEADER_SIZE + INIT_OUT_SIZE);
    expect(errors.sort()).toEqual([-EINTR, 0].sort());
    servesManyRequests();
  });

  test('DESTROY answers the waiting SETLKW with EINTR', () => {
    const errors = parkThenEnd([c.header(Opcode.DESTROY, 0, 0)], 16);
    expect(errors.sort()).toEqual([-EINTR, 0].sort());
    servesManyRequests();
  });
});
