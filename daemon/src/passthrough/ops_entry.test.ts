// Name-space and attribute operations, checked against the host's own view of the directory.
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
  existsSync,
  readFileSync,
  statfsSync,
} from 'node:fs';
import { join } from 'node:path';
import { EBADF, EEXIST, EINVAL, ENOENT, ENOTDIR, EPERM, EROFS, EACCES } from '../fuse/errno';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT, FUSE_ATTR_SUBMOUNT, InitFlag2 } from '../fuse/abi';
import { errnoOf, type FuseAttr, type FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { startHarness, type Harness } from '../../test_support/passthrough_harness';

let h: Harness;
let c: FuseClient;

beforeEach(() => {
  h = startHarness();
  c = h.client;
  c.init();
});
afterEach(() => h.cleanup());

function expectSameAsHost(attr: FuseAttr, path: string): void {
  const st = lstatSync(path, { bigint: true });
  expect(attr.ino).toBe(st.ino);
  expect(attr.mode).toBe(Number(st.mode));
  expect(attr.nlink).toBe(Number(st.nlink));
  expect(attr.uid).toBe(Number(st.uid));
  expect(attr.gid).toBe(Number(st.gid));
  expect(attr.size).toBe(Number(st.size));
  expect(attr.blocks).toBe(Number(st.blocks));
  expect(BigInt(attr.mtime) * 1_000_000_000n + BigInt(attr.mtimensec)).toBe(st.mtimeNs);
  expect(BigInt(attr.ctime) * 1_000_000_000n + BigInt(attr.ctimensec)).toBe(st.ctimeNs);
}

test('LOOKUP and GETATTR match the host', () => {
  writeFileSync(join(h.dir, 'file'), 'abc');
  mkdirSync(join(h.dir, 'sub'));
  symlinkSync('/etc/passwd', join(h.dir, 'link'));
  for (const name of ['file', 'sub', 'link']) {
    const e = c.lookup(1, name);
    expect(e.nodeid).toBeGreaterThan(1);
    expect(e.entryValid).toBe(1);
    expectSameAsHost(e.attr, join(h.dir, name));
    expectSameAsHost(c.getattr(e.nodeid), join(h.dir, name));
  }
  expectSameAsHost(c.getattr(1), h.dir);
  expect(errnoOf(() => c.lookup(1, 'missing'))).toBe(ENOENT);
  expect(errnoOf(() => c.lookup(c.lookup(1, 'file').nodeid, 'x'))).toBe(ENOTDIR);
});

test('hard links and repeated lookups share one node id; FORGET drops it at zero', () => {
  writeFileSync(join(h.dir, 'a'), '');
  linkSync(join(h.dir, 'a'), join(h.dir, 'b'));
  const a = c.lookup(1, 'a');
  const b = c.lookup(1, 'b');
  expect(b.nodeid).toBe(a.nodeid);
  c.forget(a.nodeid, 1);
  c.getattr(a.nodeid);
  c.forget(a.nodeid, 1);
  expect(errnoOf(() => c.getattr(a.nodeid))).toBe(EBADF);
  const again = c.lookup(1, 'a');
  expect(again.nodeid).not.toBe(a.nodeid);
  c.lookup(1, 'a');
  c.batchForget([
    { nodeid: again.nodeid, nlookup: 2 },
    { nodeid: 424242, nlookup: 1 },
  ]);
  expect(errnoOf(() => c.getattr(again.nodeid))).toBe(EBADF);
});

test('the root is never forgotten', () => {
  c.forget(1, 1000);
  c.getattr(1);
});

test('SETATTR: mode, owner, size, times (given and NOW), with and without a file handle', () => {
  const p = join(h.dir, 'f');
  writeFileSync(p, 'hello');
  const e = c.lookup(1, 'f');
  expect(c.setattr(e.nodeid, { mode: 0o600 }).mode & 0o7777).toBe(0o600);
  expect(statSync(p).mode & 0o7777).toBe(0o600);
  const owned = c.setattr(e.nodeid, { uid: 1234, gid: 4321 });
  expect([owned.uid, owned.gid]).toEqual([1234, 4321]);
  expect([statSync(p).uid, statSync(p).gid]).toEqual([1234, 4321]);
  expect(c.setattr(e.nodeid, { size: 2 }).size).toBe(2);
  expect(readFileSync(p, 'utf8')).toBe('he');
  const t = c.setattr(e.nodeid, { atime: { sec: 1_000_000, nsec: 5 }, mtime: { sec: 2_000_000, nsec: 7 } });
  expect([t.atime, t.atimensec, t.mtime, t.mtimensec]).toEqual([1_000_000, 5, 2_000_000, 7]);
  expect(Math.floor(statSync(p).mtimeMs)).toBe(2_000_000_000);
  const onlyA = c.setattr(e.nodeid, { atime: { sec: 3_000_000, nsec: 0 } });
  expect(onlyA.mtime).toBe(2_000_000);
  const now = Math.floor(Date.now() / 1000);
  expect(c.setattr(e.nodeid, { mtime: 'now' }).mtime).toBeGreaterThanOrEqual(now - 1);
  const o = c.open(e.nodeid, 2);
  expect(c.setattr(e.nodeid, { fh: o.fh, size: 100 }).size).toBe(100);
  expect(c.setattr(e.nodeid, { fh: o.fh, mode: 0o644 }).mode & 0o777).toBe(0o644);
  expect(errnoOf(() => c.setattr(e.nodeid, { fh: 9999, size: 1 }))).toBe(EBADF);
  c.release(e.nodeid, o.fh);
  expectSameAsHost(c.getattr(e.nodeid), p);
});

test('SETATTR with FATTR_KILL_SUIDGID on truncate clears set-id bits', () => {
  const p = join(h.dir, 'suid');
  writeFileSync(p, 'x');
  chmodSync(p, 0o6755);
  const e = c.lookup(1, 'suid');
  const a = c.setattr(e.nodeid, { size: 0, killSuidgid: true });
  expect(a.mode & 0o7777).toBe(0o755);
});

test('a symlink keeps its target verbatim, never resolved; reading a non-symlink as one is EINVAL', () => {
  const e = c.symlink(1, 'l', '../../outside/target');
  expect(readlinkSync(join(h.dir, 'l'))).toBe('../../outside/target');
  expect(c.readlink(e.nodeid)).toBe('../../outside/target');
  expectSameAsHost(e.attr, join(h.dir, 'l'));
  expect(errnoOf(() => c.readlink(1))).toBe(EINVAL);
});

test('MKNOD: regular file, FIFO, socket, a 0:0 whiteout and device nodes (device_nodes.test.ts); not a directory', () => {
  const reg = c.mknod(1, 'reg', 0o100640);
  expect(lstatSync(join(h.dir, 'reg')).isFile()).toBe(true);
  expectSameAsHost(reg.attr, join(h.dir, 'reg'));
  c.mknod(1, 'fifo', 0o010644);
  expect(lstatSync(join(h.dir, 'fifo')).isFIFO()).toBe(true);
  c.mknod(1, 'sock', 0o140755);
  expect(lstatSync(join(h.dir, 'sock')).isSocket()).toBe(true);
  const wh = c.mknod(1, 'wh', 0o020000);
  const st = lstatSync(join(h.dir, 'wh'));
  expect(st.isCharacterDevice()).toBe(true);
  expect(st.rdev).toBe(0);
  expect(wh.attr.rdev).toBe(0);
  expect(c.mknod(1, 'null', 0o020666, (1 << 8) | 3).attr.rdev).toBe((1 << 8) | 3);
  expect(errnoOf(() => c.mknod(1, 'dir', 0o040755))).toBe(EPERM);
  expect(existsSync(join(h.dir, 'dir'))).toBe(false);
  expect(errnoOf(() => c.mknod(1, 'reg', 0o100640))).toBe(EEXIST);
});

test('opening a FIFO or a device node on the host is refused', () => {
  const fifo = c.mknod(1, 'fifo', 0o010644);
  expect(errnoOf(() => c.open(fifo.nodeid, 0))).toBe(EACCES);
  const wh = c.mknod(1, 'wh', 0o020000);
  expect(errnoOf(() => c.open(wh.nodeid, 0))).toBe(EACCES);
});

test('MKDIR honours mode, RMDIR and UNLINK remove', () => {
  const d = c.mkdir(1, 'd', 0o750);
  expect(statSync(join(h.dir, 'd')).mode & 0o777).toBe(0o750);
  expectSameAsHost(d.attr, join(h.dir, 'd'));
  c.mknod(d.nodeid, 'inner', 0o100600);
  expect(existsSync(join(h.dir, 'd', 'inner'))).toBe(true);
  c.unlink(d.nodeid, 'inner');
  expect(existsSync(join(h.dir, 'd', 'inner'))).toBe(false);
  c.rmdir(1, 'd');
  expect(existsSync(join(h.dir, 'd'))).toBe(false);
  expect(errnoOf(() => c.rmdir(1, 'd'))).toBe(ENOENT);
});

test('creations run with the caller uid/gid', () => {
  chmodSync(h.dir, 0o700);
  c.uid = 1000;
  c.gid = 1001;
  expect(errnoOf(() => c.mkdir(1, 'denied', 0o755))).toBe(EACCES);
  chmodSync(h.dir, 0o777);
  c.gid = 1001;
  const d = c.mkdir(1, 'mine', 0o755);
  expect([d.attr.uid, d.attr.gid]).toEqual([1000, 1001]);
  const f = c.create(d.nodeid, 'f', 0o1, 0o644);
  expect([f.entry.attr.uid, f.entry.attr.gid]).toEqual([1000, 1001]);
  c.symlink(d.nodeid, 's', 'x');
  expect(lstatSync(join(h.dir, 'mine', 's')).uid).toBe(1000);
  c.release(f.entry.nodeid, f.fh);
  c.uid = 0;
  c.gid = 0;
  expect(c.mkdir(1, 'root', 0o755).attr.uid).toBe(0);
});

test('RENAME and RENAME2 (NOREPLACE, EXCHANGE, WHITEOUT)', () => {
  writeFileSync(join(h.dir, 'a'), 'A');
  writeFileSync(join(h.dir, 'b'), 'B');
  const d = c.mkdir(1, 'd', 0o755);
  c.rename(1, 'a', d.nodeid, 'a2');
  expect(readFileSync(join(h.dir, 'd', 'a2'), 'utf8')).toBe('A');
  expect(errnoOf(() => c.rename(d.nodeid, 'a2', 1, 'b', RENAME_NOREPLACE))).toBe(EEXIST);
  c.rename(d.nodeid, 'a2', 1, 'b', RENAME_EXCHANGE);
  expect(readFileSync(join(h.dir, 'b'), 'utf8')).toBe('A');
  expect(readFileSync(join(h.dir, 'd', 'a2'), 'utf8')).toBe('B');
  c.rename(1, 'b', 1, 'c', RENAME_WHITEOUT);
  const wh = lstatSync(join(h.dir, 'b'));
  expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
  expect(errnoOf(() => c.rename(1, 'c', 1, 'e', 1 << 10))).toBe(EINVAL);
});

test('a hard link shares the node id and host inode of its target', () => {
  writeFileSync(join(h.dir, 'orig'), 'x');
  const o = c.lookup(1, 'orig');
  const l = c.link(o.nodeid, 1, 'copy');
  expect(l.nodeid).toBe(o.nodeid);
  expect(l.attr.nlink).toBe(2);
  expect(statSync(join(h.dir, 'copy')).ino).toBe(statSync(join(h.dir, 'orig')).ino);
});

test('ACCESS checks as the caller', () => {
  const p = join(h.dir, 'private');
  writeFileSync(p, '');
  chmodSync(p, 0o600);
  const e = c.lookup(1, 'private');
  c.access(e.nodeid, 4);
  c.uid = 1000;
  c.gid = 1000;
  expect(errnoOf(() => c.access(e.nodeid, 4))).toBe(EACCES);
});

test('STATFS matches the host', () => {
  const s = c.statfs(1);
  const host = statfsSync(h.dir);
  expect(s.bsize).toBe(host.bsize);
  expect(s.blocks).toBe(host.blocks);
  expect(s.namelen).toBe(255);
});

test('a symlink to outside is never followed', () => {
  symlinkSync('/etc', join(h.dir, 'etc'));
  const e = c.lookup(1, 'etc');
  expect(errnoOf(() => c.lookup(e.nodeid, 'passwd'))).toBe(ENOTDIR);
  expect(errnoOf(() => c.opendir(e.nodeid))).toBe(ENOTDIR);
  expect(errnoOf(() => c.mknod(e.nodeid, 'x', 0o100644))).toBe(ENOTDIR);
  expect(existsSync('/etc/x')).toBe(false);
});

describe('read-only export', () => {
  let ro: Harness;
  beforeEach(() => {
    ro = startHarness({ readonly: true });
    ro.client.init();
    writeFileSync(join(ro.dir, 'f'), 'data');
  });
  afterEach(() => ro.cleanup());

  test('every change answers EROFS', () => {
    const r = ro.client;
    const f = r.lookup(1, 'f');
    expect(errnoOf(() => r.mkdir(1, 'd', 0o755))).toBe(EROFS);
    expect(errnoOf(() => r.mknod(1, 'n', 0o100644))).toBe(EROFS);
    expect(errnoOf(() => r.symlink(1, 's', 't'))).toBe(EROFS);
    expect(errnoOf(() => r.create(1, 'c', 0o1, 0o644))).toBe(EROFS);
    expect(errnoOf(() => r.unlink(1, 'f'))).toBe(EROFS);
    expect(errnoOf(() => r.rename(1, 'f', 1, 'g'))).toBe(EROFS);
    expect(errnoOf(() => r.link(f.nodeid, 1, 'h'))).toBe(EROFS);
    expect(errnoOf(() => r.setattr(f.nodeid, { mode: 0o777 }))).toBe(EROFS);
    expect(errnoOf(() => r.open(f.nodeid, 0o1))).toBe(EROFS);
    expect(errnoOf(() => r.open(f.nodeid, 0o2))).toBe(EROFS);
    expect(errnoOf(() => r.open(f.nodeid, 0o1000))).toBe(EROFS);
    expect(errnoOf(() => r.setxattr(f.nodeid, 'user.x', Buffer.from('1')))).toBe(EROFS);
    expect(errnoOf(() => r.removexattr(f.nodeid, 'user.x'))).toBe(EROFS);
    expect(errnoOf(() => r.access(f.nodeid, 2))).toBe(EROFS);
    const o = r.open(f.nodeid, 0);
    expect(r.read(f.nodeid, o.fh, 0, 10).toString()).toBe('data');
    expect(errnoOf(() => r.write(f.nodeid, o.fh, 0, Buffer.from('x')))).toBe(EROFS);
    expect(errnoOf(() => r.fallocate(f.nodeid, o.fh, 0, 10))).toBe(EROFS);
    expect(readFileSync(join(ro.dir, 'f'), 'utf8')).toBe('data');
    expect(existsSync(join(ro.dir, 'd'))).toBe(false);
  });
});

test('announce-submounts marks a directory on another mount', () => {
  const sub = startHarness({ announceSubmounts: true });
  try {
    const init = sub.client.init();
    expect(init.flags & (1 << 27)).toBeTruthy();
    symlinkSync('/proc', join(sub.dir, 'notfollowed'));
    mkdirSync(join(sub.dir, 'plain'));
    expect(sub.client.lookup(1, 'plain').attr.flags & FUSE_ATTR_SUBMOUNT).toBe(0);
  } finally {
    sub.cleanup();
  }
});

describe('a daemon started with supplementary group root (CVE-2022-0358)', () => {
  let g: Harness;
  beforeEach(() => {
    g = startHarness({}, { groups: [0] });
    g.client.init();
    g.client.uid = 1000;
    g.client.gid = 1000;
  });
  afterEach(() => g.cleanup());

  test('a guest outside the group creates no set-group-ID file in a set-group-ID directory', () => {
    chmodSync(g.dir, 0o2777);
    const f = g.client.create(1, 'created', 0o1, 0o2755);
    g.client.release(f.entry.nodeid, f.fh);
    const n = g.client.mknod(1, 'made', 0o102755);
    for (const [name, attr] of [
      ['created', f.entry.attr],
      ['made', n.attr],
    ] as const) {
      const host = statSync(join(g.dir, name));
      expect([host.uid, host.gid, host.mode & 0o7777]).toEqual([1000, 0, 0o755]);
      expect(attr.mode & 0o7777).toBe(0o755);
    }
  });

  test('ACCESS does not grant the guest the daemon’s groups', () => {
    chmodSync(g.dir, 0o755);
    const p = join(g.dir, 'group-only');
    writeFileSync(p, '');
    chmodSync(p, 0o070);
    const e = g.client.lookup(1, 'group-only');
    expect(errnoOf(() => g.client.access(e.nodeid, 4))).toBe(EACCES);
  });
});

/** fuse_ext_header { size, type: FUSE_EXT_GROUPS } + fuse_supp_groups { nr_groups, groups[] }. */
function suppGroupsExt(groups: readonly number[]): Buffer {
  const b = Buffer.alloc(8 + Math.ceil((4 + 4 * groups.length) / 8) * 8);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt32LE(2, 4);
  b.writeUInt32LE(groups.length, 8);
  for (const [i, gid] of groups.entries()) b.writeUInt32LE(gid, 12 + 4 * i);
  return b;
}

test('a creation sent with its parent’s group (FUSE_CREATE_SUPP_GROUP) keeps set-group-ID, and the group leaves with it', () => {
  const s = startHarness({}, { groups: [0] });
  try {
    const sc = s.client;
    const offered = sc.init(undefined, undefined, InitFlag2.CREATE_SUPP_GROUP).flags2;
    expect(offered & InitFlag2.CREATE_SUPP_GROUP).toBe(InitFlag2.CREATE_SUPP_GROUP);
    chownSync(s.dir, 0, 1234);
    chmodSync(s.dir, 0o2777);
    sc.uid = 1000;
    sc.gid = 1000;
    sc.extensions = suppGroupsExt([1234]);
    const f = sc.create(1, 'created', 0o1, 0o2755);
    sc.release(f.entry.nodeid, f.fh);
    sc.mknod(1, 'made', 0o102755);
    sc.extensions = null;
    sc.mknod(1, 'plain', 0o102755);
    const modeOf = (name: string): number => statSync(join(s.dir, name)).mode & 0o7777;
    expect([modeOf('created'), modeOf('made'), modeOf('plain')]).toEqual([0o2755, 0o2755, 0o755]);
    expect(statSync(join(s.dir, 'created')).gid).toBe(1234);
    // A malformed extension is refused, and the daemon keeps serving.
    sc.extensions = suppGroupsExt([1234, 0]);
    expect(errnoOf(() => sc.mknod(1, 'two', 0o100644))).toBe(EINVAL);
    sc.extensions = Buffer.alloc(8, 0xff);
    expect(errnoOf(() => sc.create(1, 'huge', 0o1, 0o644))).toBe(EINVAL);
    sc.extensions = null;
    expect(sc.lookup(1, 'plain').attr.mode & 0o7777).toBe(0o755);
  } finally {
    s.cleanup();
  }
});
