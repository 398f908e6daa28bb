// Device nodes the guest makes, as C and Rust virtiofsd allow them: MKNOD puts them in the host
// directory, every name-space and attribute operation works on them, and nothing opens them on the
// host. The daemon runs unsandboxed here, on a share where opening a device node would work: an
// inotify watch on the directory then shows that the daemon itself never opens one (the sandboxed
// daemon's nodev view of the share is sandbox.test.ts's). FIFOs take the same paths and none of
// them blocks the daemon.
import { closeSync, existsSync, lstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { EACCES, EINVAL, ENODATA, ENOTDIR, ENOTSUP, EPERM } from '../fuse/errno';
import { OpenWatch } from '@vfs/harness/open_watch';
import { errnoOf, type FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { startHarness, type Harness } from '../../test_support/passthrough_harness';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
/** dev_t as the guest sends it (the kernel's 32-bit encoding) and as the host's lstat shows it. */
const makedev = (major: number, minor: number): number => (major << 8) | minor;

/** The guest's `mknod n1 c 1 3; mknod n2 b 7 0`, and a FIFO. */
const NODES = [
  { name: 'n1', mode: S_IFCHR | 0o666, rdev: makedev(1, 3) },
  { name: 'n2', mode: S_IFBLK | 0o660, rdev: makedev(7, 0) },
  { name: 'fifo', mode: S_IFIFO | 0o644, rdev: 0 },
] as const;

let h: Harness;
let c: FuseClient;
let watch: OpenWatch;

beforeEach(() => {
  h = startHarness({}, { sandbox: 'none' });
  c = h.client;
  c.init();
  watch = OpenWatch.of(h.dir);
});
afterEach(() => {
  watch.close();
  h.cleanup();
});

function makeAll(): Map<string, number> {
  return new Map(NODES.map((n) => [n.name, c.mknod(1, n.name, n.mode, n.rdev).nodeid]));
}

test('MKNOD makes 1:3 character and 7:0 block nodes in the host directory', () => {
  for (const n of NODES) {
    const e = c.mknod(1, n.name, n.mode, n.rdev);
    expect({ mode: e.attr.mode, rdev: e.attr.rdev }).toEqual({ mode: n.mode, rdev: n.rdev });
    const st = lstatSync(join(h.dir, n.name));
    expect({ name: n.name, mode: st.mode, rdev: st.rdev }).toEqual({ name: n.name, mode: n.mode, rdev: n.rdev });
  }
  expect(watch.opened()).toEqual([]);
});

test('a caller without CAP_MKNOD in the host sense (a non-root guest uid) cannot make one', () => {
  const d = c.mkdir(1, 'open', 0o777);
  c.uid = 1000;
  c.gid = 1000;
  expect(errnoOf(() => c.mknod(d.nodeid, 'n1', S_IFCHR | 0o666, makedev(1, 3)))).toBe(EPERM);
  expect(c.mknod(d.nodeid, 'fifo', S_IFIFO | 0o644).attr.uid).toBe(1000);
  expect(existsSync(join(h.dir, 'open', 'n1'))).toBe(false);
});

test('chmod, chown, utimens, link, rename and unlink work on them, and none is opened', () => {
  for (const [name, nodeid] of makeAll()) {
    const path = join(h.dir, name);
    expect(c.setattr(nodeid, { mode: 0o600 }).mode & 0o7777).toBe(0o600);
    expect(lstatSync(path).mode & 0o7777).toBe(0o600);
    c.setattr(nodeid, { uid: 1234, gid: 5678 });
    expect({ uid: lstatSync(path).uid, gid: lstatSync(path).gid }).toEqual({ uid: 1234, gid: 5678 });
    const when = { sec: 1_000_000_000, nsec: 5 };
    expect(c.setattr(nodeid, { atime: when, mtime: when }).mtime).toBe(when.sec);
    expect(lstatSync(path, { bigint: true }).mtimeNs).toBe(1_000_000_000_000_000_005n);
    expect(c.link(nodeid, 1, `${name}.link`).attr.nlink).toBe(2);
    c.rename(1, name, 1, `${name}.moved`);
    expect(existsSync(path)).toBe(false);
    expect(lstatSync(`${path}.moved`).ino).toBe(lstatSync(`${path}.link`).ino);
    c.unlink(1, `${name}.moved`);
    c.unlink(1, `${name}.link`);
    expect(existsSync(`${path}.link`)).toBe(false);
  }
  expect(watch.opened()).toEqual([]);
});

test('every path that opens an inode refuses them without blocking, and no open reaches the host', () => {
  for (const [name, nodeid] of makeAll()) {
    for (const flags of [O_RDONLY, O_WRONLY, O_RDWR | O_TRUNC])
      expect(errnoOf(() => c.open(nodeid, flags))).toBe(EACCES);
    expect(errnoOf(() => c.create(1, name, O_WRONLY | O_CREAT, 0o644))).toBe(EACCES);
    expect(errnoOf(() => c.opendir(nodeid))).toBe(ENOTDIR);
    expect(errnoOf(() => c.setattr(nodeid, { size: 0 }))).toBe(EINVAL);
    // Through /proc/self/fd with the *xattrat calls, or ENOTSUP without them: never an open.
    expect([ENODATA, ENOTSUP]).toContain(errnoOf(() => c.getxattr(nodeid, 'user.x', 64)));
    c.syncfs(nodeid);
  }
  expect(watch.opened()).toEqual([]);
  // The watch does see a device node opened for real: here, through the host's own mount.
  closeSync(openSync(join(h.dir, 'n1'), 'r'));
  expect(watch.opened()).toEqual(['n1']);
});
