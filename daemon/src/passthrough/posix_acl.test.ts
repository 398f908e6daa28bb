// --posix-acl: what INIT agrees on, creations under the caller's umask or a parent's default ACL
// (the host applies whichever a local file system would), and set-group-ID cleared after an ACL
// change when the guest kernel asks (FUSE_SETXATTR_ACL_KILL_SGID). The host's side is read and
// written with getfacl and setfacl on a tmpfs with ACLs.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FUSE_SETXATTR_ACL_KILL_SGID, InitFlag } from '../fuse/abi';
import { EPERM } from '../fuse/errno';
import { hostPrograms } from '@vfs/harness/host_programs';
import { errnoOf } from '@vfs/harness/vhost_user_driver/fuse_client';
import { startHarness, startLoopbackHarness } from '../../test_support/passthrough_harness';

const acl = hostPrograms('getfacl', 'setfacl');

const ACL_FLAGS = InitFlag.POSIX_ACL | InitFlag.DONT_MASK | InitFlag.SETXATTR_EXT;
const O_RDWR = 0o2;

function hostAcl(path: string): string[] {
  return execFileSync('getfacl', ['--omit-header', '--absolute-names', path], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l !== '');
}

const mode = (path: string): number => statSync(path).mode & 0o7777;

/** system.posix_acl_access's value (posix_acl_xattr: version 2, then tag, perm, id per entry). */
function aclXattr(entries: readonly [tag: number, perm: number, id: number][]): Buffer {
  const b = Buffer.alloc(4 + 8 * entries.length);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    b.writeUInt16LE(tag, 4 + 8 * i);
    b.writeUInt16LE(perm, 6 + 8 * i);
    b.writeUInt32LE(id >>> 0, 8 + 8 * i);
  });
  return b;
}
const ACL_USER_OBJ = 0x01;
const ACL_USER = 0x02;
const ACL_GROUP_OBJ = 0x04;
const ACL_GROUP = 0x08;
const ACL_MASK = 0x10;
const ACL_OTHER = 0x20;

test('INIT agrees on POSIX_ACL, DONT_MASK and SETXATTR_EXT only with --posix-acl, and only on an export with xattrs', () => {
  const on = startHarness({ posixAcl: true });
  const off = startHarness({});
  const noXattr = startLoopbackHarness({ posixAcl: true, xattr: false });
  // A map that answers the ACL names EOPNOTSUPP: a guest enforcing ACLs would fail on every check.
  const userOnly = startLoopbackHarness({ posixAcl: true, xattrmap: ':ok:all:user.:user.: :unsupported:all:::' });
  try {
    expect(on.client.init().flags & ACL_FLAGS).toBe(ACL_FLAGS);
    expect(off.client.init().flags & ACL_FLAGS).toBe(0);
    expect(noXattr.client.init().flags & ACL_FLAGS).toBe(0);
    expect(userOnly.client.init().flags & ACL_FLAGS).toBe(0);
    // DONT_MASK without POSIX_ACL would leave creations unmasked.
    const masking = InitFlag.POSIX_ACL | InitFlag.DONT_MASK;
    expect(on.client.init(ACL_FLAGS & ~InitFlag.POSIX_ACL).flags & masking).toBe(0);
  } finally {
    on.cleanup();
    off.cleanup();
    noXattr.cleanup();
    userOnly.cleanup();
  }
});

acl.describe('with --posix-acl', () => {
  const h = startHarness({ posixAcl: true });
  beforeAll(() => h.client.init());
  afterAll(() => h.cleanup());

  test('a creation takes the umask it carries where the parent has no default ACL', () => {
    const c = h.client;
    c.mkdir(1, 'plain', 0o777, 0o022);
    expect(mode(join(h.dir, 'plain'))).toBe(0o755);
    const f = c.create(1, 'plain-file', O_RDWR, 0o666, 0o077);
    c.release(f.entry.nodeid, f.fh);
    expect(mode(join(h.dir, 'plain-file'))).toBe(0o600);
    c.mknod(1, 'plain-node', 0o100666, 0, 0o027);
    expect(mode(join(h.dir, 'plain-node'))).toBe(0o640);
    // The daemon's umask is back to 0 after each: a file the host makes is as asked.
    writeFileSync(join(h.dir, 'after'), '', { mode: 0o666 });
    expect(mode(join(h.dir, 'after'))).toBe(0o666);
  });

  test('a creation in a directory with a default ACL takes that ACL, not the umask', () => {
    const dir = join(h.dir, 'inherits');
    mkdirSync(dir);
    execFileSync('setfacl', ['-d', '-m', 'u::rwx,u:1234:rwx,g::r-x,o::---', dir]);
    const c = h.client;
    const parent = c.lookup(1, 'inherits');
    const f = c.create(parent.nodeid, 'file', O_RDWR, 0o666, 0o077);
    c.release(f.entry.nodeid, f.fh);
    // The umask would have made 0600; the ACL's mask (rw- of the mode's group bits) shows instead.
    expect(mode(join(dir, 'file'))).toBe(0o660);
    expect(hostAcl(join(dir, 'file'))).toContain('user:1234:rwx\t#effective:rw-');
    c.mkdir(parent.nodeid, 'sub', 0o777, 0o077);
    expect(mode(join(dir, 'sub'))).toBe(0o770);
    expect(hostAcl(join(dir, 'sub'))).toContain('default:user:1234:rwx');
  });

  test('an ACL change the guest marks KILL_SGID clears set-group-ID; one it does not mark keeps it', () => {
    const c = h.client;
    const value = aclXattr([
      [ACL_USER_OBJ, 7, -1],
      [ACL_USER, 5, 1234],
      [ACL_GROUP_OBJ, 5, -1],
      [ACL_MASK, 7, -1],
      [ACL_OTHER, 0, -1],
    ]);
    for (const [name, flags, sgidAfter] of [
      ['kill', FUSE_SETXATTR_ACL_KILL_SGID, 0],
      ['keep', 0, 0o2000],
    ] as const) {
      const path = join(h.dir, name);
      writeFileSync(path, '');
      chmodSync(path, 0o2750);
      const f = c.lookup(1, name);
      c.setxattr(f.nodeid, 'system.posix_acl_access', value, 0, flags);
      expect(hostAcl(path)).toContain('user:1234:r-x');
      // The host set the group bits from the ACL's mask.
      expect(mode(path)).toBe(sgidAfter | 0o770);
      expect((c.getxattr(f.nodeid, 'system.posix_acl_access', 256) as Buffer).equals(value)).toBe(true);
    }
  });

  test('a default ACL changes no mode: set-group-ID stays though the guest marks KILL_SGID', () => {
    const c = h.client;
    const path = join(h.dir, 'sgid-dir');
    mkdirSync(path);
    chmodSync(path, 0o2770);
    const d = c.lookup(1, 'sgid-dir');
    const value = aclXattr([
      [ACL_USER_OBJ, 7, -1],
      [ACL_GROUP_OBJ, 5, -1],
      [ACL_OTHER, 0, -1],
    ]);
    c.setxattr(d.nodeid, 'system.posix_acl_default', value, 0, FUSE_SETXATTR_ACL_KILL_SGID);
    expect(hostAcl(path)).toContain('default:group::r-x');
    expect(mode(path)).toBe(0o2770);
  });

  test('a new session that does not take POSIX_ACL masks nothing: the umask it sends is ignored', () => {
    const c = h.client;
    c.init(ACL_FLAGS & ~InitFlag.POSIX_ACL);
    try {
      c.mkdir(1, 'after-reinit', 0o775, 0o077);
      expect(mode(join(h.dir, 'after-reinit'))).toBe(0o775);
    } finally {
      c.init();
    }
  });
});

acl.describe('with --posix-acl and --translate-uid/gid', () => {
  const ids = ['map:1000:101000:10', 'forbid-guest:2000:1'];
  const h = startHarness({ posixAcl: true, translateUid: ids, translateGid: ids });
  beforeAll(() => h.client.init());
  afterAll(() => h.cleanup());
  const ENTRIES = (user: number, group: number): [number, number, number][] => [
    [ACL_USER_OBJ, 6, -1],
    [ACL_USER, 4, user],
    [ACL_GROUP_OBJ, 4, -1],
    [ACL_GROUP, 4, group],
    [ACL_MASK, 6, -1],
    [ACL_OTHER, 0, -1],
  ];

  test('the users and groups an ACL names are translated as owners are, both ways', () => {
    const c = h.client;
    writeFileSync(join(h.dir, 'f'), '');
    const f = c.lookup(1, 'f');
    c.setxattr(f.nodeid, 'system.posix_acl_access', aclXattr(ENTRIES(1001, 1002)));
    expect(hostAcl(join(h.dir, 'f'))).toEqual(expect.arrayContaining(['user:101001:r--', 'group:101002:r--']));
    execFileSync('setfacl', ['-m', 'u:101005:rw,g:101006:r', join(h.dir, 'f')]);
    const seen = c.getxattr(f.nodeid, 'system.posix_acl_access', 256) as Buffer;
    const named: [number, number][] = [];
    for (let at = 4; at < seen.length; at += 8) {
      const tag = seen.readUInt16LE(at);
      if (tag === ACL_USER || tag === ACL_GROUP) named.push([tag, seen.readUInt32LE(at + 4)]);
    }
    expect(named).toEqual([
      [ACL_USER, 1001],
      [ACL_USER, 1005],
      [ACL_GROUP, 1002],
      [ACL_GROUP, 1006],
    ]);
  });

  test('an ACL naming a forbidden guest id is refused with EPERM, and the file keeps its ACL', () => {
    const c = h.client;
    writeFileSync(join(h.dir, 'g'), '');
    const g = c.lookup(1, 'g');
    const before = hostAcl(join(h.dir, 'g'));
    expect(errnoOf(() => c.setxattr(g.nodeid, 'system.posix_acl_access', aclXattr(ENTRIES(1001, 2000))))).toBe(EPERM);
    expect(hostAcl(join(h.dir, 'g'))).toEqual(before);
  });
});

test('without --posix-acl a mode arrives masked by the guest and the daemon masks nothing more', () => {
  const h = startHarness({});
  try {
    h.client.init();
    h.client.mkdir(1, 'd', 0o775, 0o022);
    expect(mode(join(h.dir, 'd'))).toBe(0o775);
  } finally {
    h.cleanup();
  }
});
