// File I/O through the chain's guest buffers, and the open flags of each cache policy.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { EACCES, EBADF, EISDIR, ELOOP } from '../fuse/errno';
import { Fopen, FUSE_WRITE_KILL_SUIDGID } from '../fuse/abi';
import { errnoOf, type FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { startHarness, startLoopbackHarness, type Harness } from '../../test_support/passthrough_harness';

const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_NOATIME = 0o1000000;
const O_PATH = 0o10000000;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;

let h: Harness;
let c: FuseClient;

beforeEach(() => {
  h = startHarness();
  c = h.client;
  c.init();
});
afterEach(() => h.cleanup());

/** The open flags of the daemon's fds on `path` that are not O_PATH (/proc/PID/fdinfo). */
function openFlagsOn(pid: number, path: string): number[] {
  return readdirSync(`/proc/${pid}/fd`)
    .filter((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === path)
    .map((fd) =>
      Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1] ?? '', 8),
    )
    .filter((flags) => (flags & O_PATH) === 0);
}

test("the guest's O_NOATIME reaches the host's open (what virtiofsd's --preserve-noatime asks)", () => {
  // Unsandboxed, so that the daemon's fds name the host's paths.
  const plain = startHarness({}, { sandbox: 'none' });
  try {
    plain.client.init();
    writeFileSync(join(plain.dir, 'f'), 'x');
    const e = plain.client.lookup(1, 'f');
    const o = plain.client.open(e.nodeid, O_NOATIME);
    const flags = openFlagsOn(plain.daemon.pid as number, join(plain.dir, 'f'));
    expect(flags).toHaveLength(1);
    expect((flags[0] as number) & O_NOATIME).toBe(O_NOATIME);
    plain.client.release(e.nodeid, o.fh);
  } finally {
    plain.cleanup();
  }
});

test('an opened file reads at any offset until released; directories and symlinks are not opened', () => {
  writeFileSync(join(h.dir, 'f'), 'hello, world');
  const e = c.lookup(1, 'f');
  const o = c.open(e.nodeid, 0);
  expect(c.read(e.nodeid, o.fh, 0, 5).toString()).toBe('hello');
  expect(c.read(e.nodeid, o.fh, 7, 100).toString()).toBe('world');
  expect(c.read(e.nodeid, o.fh, 100, 10).length).toBe(0);
  c.flush(e.nodeid, o.fh);
  c.release(e.nodeid, o.fh);
  expect(errnoOf(() => c.read(e.nodeid, o.fh, 0, 5))).toBe(EBADF);
  expect(errnoOf(() => c.open(1, 0))).toBe(EISDIR);
  const l = c.symlink(1, 'l', 'f');
  expect(errnoOf(() => c.open(l.nodeid, 0))).toBe(ELOOP);
});

test('a handle only works with its own inode', () => {
  writeFileSync(join(h.dir, 'a'), 'a');
  writeFileSync(join(h.dir, 'b'), 'b');
  const a = c.lookup(1, 'a');
  const b = c.lookup(1, 'b');
  const o = c.open(a.nodeid, 0);
  expect(errnoOf(() => c.read(b.nodeid, o.fh, 0, 1))).toBe(EBADF);
});

test('a created file gets the mode asked for and holds what was written; an exclusive create of it fails', () => {
  const f = c.create(1, 'new', O_WRONLY | O_CREAT | O_EXCL, 0o640);
  expect(f.entry.attr.mode & 0o777).toBe(0o640);
  expect(c.write(f.entry.nodeid, f.fh, 0, Buffer.from('0123456789'))).toBe(10);
  expect(c.write(f.entry.nodeid, f.fh, 5, Buffer.from('ab'))).toBe(2);
  c.fsync(f.entry.nodeid, f.fh, true);
  c.fsync(f.entry.nodeid, f.fh, false);
  c.release(f.entry.nodeid, f.fh);
  expect(readFileSync(join(h.dir, 'new'), 'utf8')).toBe('01234ab789');
  expect(c.getattr(f.entry.nodeid).size).toBe(10);
  expect(errnoOf(() => c.create(1, 'new', O_WRONLY | O_CREAT | O_EXCL, 0o640))).toBe(17);
  c.unlink(1, 'new');
  expect(existsSync(join(h.dir, 'new'))).toBe(false);
});

test('1 MiB WRITE and READ move data straight between the file and many guest buffers', () => {
  const data = randomBytes(1 << 20);
  const f = c.create(1, 'big', O_RDWR | O_CREAT, 0o644);
  expect(c.write(f.entry.nodeid, f.fh, 0, data)).toBe(1 << 20);
  expect(readFileSync(join(h.dir, 'big')).equals(data)).toBe(true);
  const back = c.read(f.entry.nodeid, f.fh, 0, 1 << 20);
  expect(back.equals(data)).toBe(true);
  const mid = c.read(f.entry.nodeid, f.fh, 4000, 10000);
  expect(mid.equals(data.subarray(4000, 14000))).toBe(true);
  c.release(f.entry.nodeid, f.fh);
});

test('reads larger than the reply space are cut to it', () => {
  writeFileSync(join(h.dir, 'f'), Buffer.alloc(100, 7));
  const e = c.lookup(1, 'f');
  const o = c.open(e.nodeid, 0);
  const a = Buffer.alloc(40);
  a.writeBigUInt64LE(BigInt(o.fh), 0);
  a.writeUInt32LE(100, 16);
  const r = c.send([c.header(15, e.nodeid, 40), a], 16 + 50);
  expect(r.error).toBe(0);
  expect(r.data.length).toBe(50);
});

test('O_TRUNC and O_APPEND are honoured', () => {
  writeFileSync(join(h.dir, 'f'), 'original');
  const e = c.lookup(1, 'f');
  const t = c.open(e.nodeid, O_WRONLY | O_TRUNC);
  expect(statSync(join(h.dir, 'f')).size).toBe(0);
  c.write(e.nodeid, t.fh, 0, Buffer.from('abc'));
  c.release(e.nodeid, t.fh);
  const a = c.open(e.nodeid, O_WRONLY | O_APPEND);
  c.write(e.nodeid, a.fh, 0, Buffer.from('def'));
  c.release(e.nodeid, a.fh);
  expect(readFileSync(join(h.dir, 'f'), 'utf8')).toBe('abcdef');
});

test('CREATE of an existing file opens it as the caller: another user neither reads nor truncates it', () => {
  chmodSync(h.dir, 0o777);
  const p = join(h.dir, 'secret');
  writeFileSync(p, 'root only');
  chmodSync(p, 0o600);
  c.uid = 1000;
  c.gid = 1000;
  expect(errnoOf(() => c.create(1, 'secret', O_RDWR | O_CREAT, 0o644))).toBe(EACCES);
  expect(errnoOf(() => c.create(1, 'secret', O_WRONLY | O_CREAT | O_TRUNC, 0o644))).toBe(EACCES);
  expect(readFileSync(p, 'utf8')).toBe('root only');
  // What the mode grants the caller, CREATE grants: here reading, not writing.
  chmodSync(p, 0o644);
  const r = c.create(1, 'secret', O_CREAT, 0o644);
  expect(c.read(r.entry.nodeid, r.fh, 0, 100).toString()).toBe('root only');
  c.release(r.entry.nodeid, r.fh);
  expect(errnoOf(() => c.create(1, 'secret', O_WRONLY | O_CREAT | O_TRUNC, 0o644))).toBe(EACCES);
  expect(statSync(p).size).toBe(9);
});

test('WRITE with FUSE_WRITE_KILL_SUIDGID clears set-id bits', () => {
  const p = join(h.dir, 'prog');
  writeFileSync(p, 'x');
  chmodSync(p, 0o6775);
  const e = c.lookup(1, 'prog');
  const o = c.open(e.nodeid, O_WRONLY);
  c.write(e.nodeid, o.fh, 0, Buffer.from('y'));
  expect(statSync(p).mode & 0o7777).toBe(0o6775);
  c.write(e.nodeid, o.fh, 0, Buffer.from('z'), FUSE_WRITE_KILL_SUIDGID);
  expect(statSync(p).mode & 0o7777).toBe(0o775);
  c.release(e.nodeid, o.fh);
});

test('space is preallocated, holes are found, and ranges are copied between handles of their own inodes', () => {
  const f = c.create(1, 'sparse', O_RDWR | O_CREAT, 0o644);
  c.fallocate(f.entry.nodeid, f.fh, 0, 8192);
  expect(statSync(join(h.dir, 'sparse')).size).toBe(8192);
  c.write(f.entry.nodeid, f.fh, 0, Buffer.alloc(4096, 1));
  c.write(f.entry.nodeid, f.fh, 1 << 20, Buffer.from('tail'));
  expect(c.lseek(f.entry.nodeid, f.fh, 0, SEEK_DATA)).toBe(0);
  const hole = c.lseek(f.entry.nodeid, f.fh, 0, SEEK_HOLE);
  expect(hole).toBeGreaterThanOrEqual(4096);
  expect(hole).toBeLessThan(1 << 20);
  expect(c.lseek(f.entry.nodeid, f.fh, hole, SEEK_DATA)).toBeLessThanOrEqual(1 << 20);
  const g = c.create(1, 'copy', O_RDWR | O_CREAT, 0o644);
  expect(c.copyFileRange(f.entry.nodeid, f.fh, 1 << 20, g.entry.nodeid, g.fh, 10, 4)).toBe(4);
  expect(readFileSync(join(h.dir, 'copy')).subarray(10).toString()).toBe('tail');
  expect(errnoOf(() => c.copyFileRange(f.entry.nodeid, f.fh, 0, f.entry.nodeid, g.fh, 0, 4))).toBe(EBADF);
  c.syncfs(1);
});

describe('special files already in the share', () => {
  /** Makes the special files on the host; a device node needs root (CAP_MKNOD). */
  const specials = (): string[] => {
    execFileSync('mkfifo', [join(h.dir, 'fifo')]);
    if (process.getuid?.() !== 0) return ['fifo'];
    execFileSync('mknod', [join(h.dir, 'null'), 'c', '1', '3']);
    return ['fifo', 'null'];
  };

  test('CREATE without O_EXCL refuses to open them on the host, and the daemon keeps serving', () => {
    for (const name of specials()) {
      expect(errnoOf(() => c.create(1, name, O_WRONLY | O_CREAT, 0o644))).toBe(EACCES);
      expect(errnoOf(() => c.create(1, name, O_WRONLY | O_CREAT | O_TRUNC, 0o644))).toBe(EACCES);
    }
    expect(errnoOf(() => c.create(1, 'fifo', O_WRONLY | O_CREAT | O_EXCL, 0o644))).toBe(17);
    expect(c.getattr(1).mode & 0o170000).toBe(0o040000);
  });

  test('CREATE without O_EXCL opens an existing regular file like OPEN, keeping its data unless O_TRUNC', () => {
    writeFileSync(join(h.dir, 'f'), 'kept');
    const f = c.create(1, 'f', O_RDWR | O_CREAT, 0o600);
    expect(f.entry.attr.size).toBe(4);
    expect(c.read(f.entry.nodeid, f.fh, 0, 10).toString()).toBe('kept');
    const t = c.create(1, 'f', O_RDWR | O_CREAT | O_TRUNC, 0o600);
    expect(t.entry.nodeid).toBe(f.entry.nodeid);
    expect(t.entry.attr.size).toBe(0);
    mkdirSync(join(h.dir, 'd'));
    expect(errnoOf(() => c.create(1, 'd', O_RDWR | O_CREAT, 0o600))).toBe(EISDIR);
  });

  test('SYNCFS on them syncs through the export without opening them', () => {
    for (const name of specials()) c.syncfs(c.lookup(1, name).nodeid);
    expect(c.getattr(1).mode & 0o170000).toBe(0o040000);
  });
});

describe('cache policy', () => {
  const cases: ['none' | 'auto' | 'always' | 'metadata', number, number, number][] = [
    ['none', 0, Fopen.DIRECT_IO, 0],
    ['metadata', 86400, Fopen.DIRECT_IO, 0],
    ['auto', 1, 0, 0],
    ['always', 86400, Fopen.KEEP_CACHE, Fopen.CACHE_DIR],
  ];
  test.each(cases)('cache=%s: timeout %d, file flags %d, dir flags %d', (cache, timeout, fileFlags, dirFlags) => {
    const x = startHarness({ cache });
    try {
      x.client.init();
      writeFileSync(join(x.dir, 'f'), '');
      const e = x.client.lookup(1, 'f');
      expect([e.entryValid, e.attrValid]).toEqual([timeout, timeout]);
      expect(x.client.open(e.nodeid, 0).openFlags).toBe(fileFlags);
      expect(x.client.create(1, 'g', O_WRONLY | O_CREAT, 0o644).openFlags).toBe(fileFlags);
      expect(x.client.opendir(1).openFlags).toBe(dirFlags);
    } finally {
      x.cleanup();
    }
  });
});

test('a new session starts from a clean table', () => {
  const l = startLoopbackHarness();
  const c = l.client;
  c.init();
  try {
    writeFileSync(join(l.dir, 'f'), 'x');
    const e = c.lookup(1, 'f');
    const o = c.open(e.nodeid, 0);
    const s = l.reconnect();
    s.client.init();
    expect(errnoOf(() => s.client.getattr(e.nodeid))).toBe(EBADF);
    c.read(e.nodeid, o.fh, 0, 1);
    l.transport.handler.reset();
    c.init();
    expect(errnoOf(() => c.read(e.nodeid, o.fh, 0, 1))).toBe(EBADF);
  } finally {
    l.cleanup();
  }
});
