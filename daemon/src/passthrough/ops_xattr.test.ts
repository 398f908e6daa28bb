// Extended attributes, the size-probe protocol, and the trusted.* -> user.* mapping overlayfs needs.
import { execFileSync } from 'node:child_process';
import { constants, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENODATA, ENOSYS, EPERM, ERANGE } from '../fuse/errno';
import { hostPrograms } from '@vfs/harness/host_programs';
import { errnoOf } from '@vfs/harness/vhost_user_driver/fuse_client';
import { startHarness } from '../../test_support/passthrough_harness';
import { XattrMap, XattrMapError } from './xattr_map';

// The host's side is read and written with getfattr and setfattr.
const attr = hostPrograms('getfattr', 'setfattr');

function hostXattrs(path: string): string {
  return execFileSync('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', path], { encoding: 'utf8' });
}

// Unsandboxed: trusted.* needs CAP_SYS_ADMIN, which the sandbox drops (as virtiofsd does).
attr.it('SETXATTR, GETXATTR (with size probe and ERANGE), LISTXATTR, REMOVEXATTR', () => {
  const h = startHarness({}, { sandbox: 'none' });
  try {
    const c = h.client;
    c.init();
    writeFileSync(join(h.dir, 'f'), '');
    const f = c.lookup(1, 'f');
    c.setxattr(f.nodeid, 'user.color', Buffer.from('blue'));
    expect(hostXattrs(join(h.dir, 'f'))).toContain('user.color="blue"');
    expect(c.getxattr(f.nodeid, 'user.color', 0)).toBe(4);
    expect((c.getxattr(f.nodeid, 'user.color', 64) as Buffer).toString()).toBe('blue');
    expect(errnoOf(() => c.getxattr(f.nodeid, 'user.color', 2))).toBe(ERANGE);
    expect(errnoOf(() => c.getxattr(f.nodeid, 'user.none', 64))).toBe(ENODATA);
    c.setxattr(f.nodeid, 'trusted.t', Buffer.from('1'));
    const len = c.listxattr(f.nodeid, 0) as number;
    expect(len).toBe('user.color\0trusted.t\0'.length);
    expect((c.listxattr(f.nodeid, len) as string[]).sort()).toEqual(['trusted.t', 'user.color']);
    expect(errnoOf(() => c.listxattr(f.nodeid, 3))).toBe(ERANGE);
    c.removexattr(f.nodeid, 'user.color');
    expect(errnoOf(() => c.getxattr(f.nodeid, 'user.color', 64))).toBe(ENODATA);
    expect(errnoOf(() => c.setxattr(f.nodeid, 'user.x', Buffer.from('1'), 2))).toBe(ENODATA);
    const l = c.symlink(1, 'l', 'f');
    c.setxattr(l.nodeid, 'trusted.onlink', Buffer.from('s'));
    expect((c.getxattr(l.nodeid, 'trusted.onlink', 10) as Buffer).toString()).toBe('s');
    expect(hostXattrs(join(h.dir, 'f'))).not.toContain('onlink');
  } finally {
    h.cleanup();
  }
});

attr.it('a sandboxed daemon (no CAP_SYS_ADMIN) answers EPERM to unmapped trusted.*', () => {
  const h = startHarness({}, { sandbox: 'namespace' });
  try {
    const c = h.client;
    c.init();
    writeFileSync(join(h.dir, 'f'), '');
    const f = c.lookup(1, 'f');
    expect(errnoOf(() => c.setxattr(f.nodeid, 'trusted.t', Buffer.from('1')))).toBe(EPERM);
    c.setxattr(f.nodeid, 'user.u', Buffer.from('1'));
    expect(hostXattrs(join(h.dir, 'f'))).toContain('user.u="1"');
  } finally {
    h.cleanup();
  }
});

test('xattr off answers ENOSYS', () => {
  const h = startHarness({ xattr: false });
  try {
    h.client.init();
    expect(errnoOf(() => h.client.getxattr(1, 'user.a', 10))).toBe(ENOSYS);
    expect(errnoOf(() => h.client.listxattr(1, 0))).toBe(ENOSYS);
    expect(errnoOf(() => h.client.setxattr(1, 'user.a', Buffer.from('1')))).toBe(ENOSYS);
    expect(errnoOf(() => h.client.removexattr(1, 'user.a'))).toBe(ENOSYS);
  } finally {
    h.cleanup();
  }
});

attr.it('trusted.* from the guest lands in user.virtiofs.trusted.* on the host', () => {
  const h = startHarness({ xattrmap: ':map:trusted.:user.virtiofs.:' });
  try {
    const c = h.client;
    c.init();
    const d = c.mkdir(1, 'upper', 0o755);
    c.setxattr(d.nodeid, 'trusted.overlay.opaque', Buffer.from('y'));
    c.setxattr(d.nodeid, 'user.plain', Buffer.from('p'));
    const host = hostXattrs(join(h.dir, 'upper'));
    expect(host).toContain('user.virtiofs.trusted.overlay.opaque="y"');
    expect(host).toContain('user.plain="p"');
    expect(host).not.toMatch(/^trusted\./m);
    expect((c.getxattr(d.nodeid, 'trusted.overlay.opaque', 10) as Buffer).toString()).toBe('y');
    expect((c.listxattr(d.nodeid, 4096) as string[]).sort()).toEqual(['trusted.overlay.opaque', 'user.plain']);
    expect(errnoOf(() => c.setxattr(d.nodeid, 'user.virtiofs.sneaky', Buffer.from('1')))).toBe(EPERM);
    expect(errnoOf(() => c.getxattr(d.nodeid, 'user.virtiofs.trusted.overlay.opaque', 10))).toBe(ENODATA);
    execFileSync('setfattr', ['-n', 'trusted.hostonly', '-v', 'h', join(h.dir, 'upper')]);
    expect(c.listxattr(d.nodeid, 4096)).not.toContain('trusted.hostonly');
    c.removexattr(d.nodeid, 'trusted.overlay.opaque');
    expect(hostXattrs(join(h.dir, 'upper'))).not.toContain('overlay.opaque');
  } finally {
    h.cleanup();
  }
});

// A v2 vfs_cap_data granting cap_net_raw (effective): what `setcap cap_net_raw+ep` writes.
const CAP_NET_RAW = '0x0100000200200000000000000000000000000000';

function hostSetCapability(path: string, name = 'security.capability'): void {
  execFileSync('setfattr', ['-n', name, '-v', CAP_NET_RAW, path]);
}

const hasXattr = (path: string, name: string): boolean =>
  new RegExp(`^${name.replaceAll('.', '\\.')}=`, 'm').test(hostXattrs(path));

describe('security.capability', () => {
  const capability = Buffer.from(CAP_NET_RAW.slice(2), 'hex');

  attr.it('unmapped, the guest may read it but not set or remove it (EPERM)', () => {
    const h = startHarness();
    try {
      const c = h.client;
      c.init();
      const path = join(h.dir, 'f');
      writeFileSync(path, '');
      const f = c.lookup(1, 'f');
      expect(errnoOf(() => c.setxattr(f.nodeid, 'security.capability', capability))).toBe(EPERM);
      expect(hasXattr(path, 'security.capability')).toBe(false);
      hostSetCapability(path);
      expect(c.getxattr(f.nodeid, 'security.capability', 64)).toEqual(capability);
      expect(c.listxattr(f.nodeid, 4096)).toContain('security.capability');
      expect(errnoOf(() => c.setxattr(f.nodeid, 'security.capability', capability))).toBe(EPERM);
      expect(errnoOf(() => c.removexattr(f.nodeid, 'security.capability'))).toBe(EPERM);
      expect(hasXattr(path, 'security.capability')).toBe(true);
    } finally {
      h.cleanup();
    }
  });

  attr.it('a map that sends another guest name to it is refused too', () => {
    const h = startHarness({ xattrmap: ':prefix:client:capability:security.::ok:all:::' });
    try {
      const c = h.client;
      c.init();
      writeFileSync(join(h.dir, 'f'), '');
      const f = c.lookup(1, 'f');
      expect(errnoOf(() => c.setxattr(f.nodeid, 'capability', capability))).toBe(EPERM);
      expect(hasXattr(join(h.dir, 'f'), 'security.capability')).toBe(false);
    } finally {
      h.cleanup();
    }
  });

  attr.it('the host kernel clears it on a guest WRITE, truncate and chown', () => {
    const h = startHarness();
    try {
      const c = h.client;
      c.init();
      const path = join(h.dir, 'f');
      writeFileSync(path, 'x');
      const f = c.lookup(1, 'f');
      const { fh } = c.open(f.nodeid, constants.O_RDWR);
      hostSetCapability(path);
      c.write(f.nodeid, fh, 0, Buffer.from('y'));
      expect(hasXattr(path, 'security.capability')).toBe(false);
      hostSetCapability(path);
      c.setattr(f.nodeid, { size: 0 });
      expect(hasXattr(path, 'security.capability')).toBe(false);
      hostSetCapability(path);
      c.setattr(f.nodeid, { uid: 1000, gid: 1000 });
      expect(statSync(path).uid).toBe(1000);
      expect(hasXattr(path, 'security.capability')).toBe(false);
    } finally {
      h.cleanup();
    }
  });

  attr.it(
    'mapped, it lands under the mapped name, which WRITE, truncate, O_TRUNC (OPEN, CREATE) and chown clear',
    () => {
      const h = startHarness({ xattrmap: ':map:security.capability:user.virtiofs.:' });
      try {
        const c = h.client;
        c.init();
        const path = join(h.dir, 'f');
        writeFileSync(path, 'x');
        const f = c.lookup(1, 'f');
        const mapped = 'user.virtiofs.security.capability';
        const set = (): void => {
          c.setxattr(f.nodeid, 'security.capability', capability);
          expect(hasXattr(path, mapped)).toBe(true);
        };
        set();
        expect(hasXattr(path, 'security.capability')).toBe(false);
        expect(c.getxattr(f.nodeid, 'security.capability', 64)).toEqual(capability);
        const { fh } = c.open(f.nodeid, constants.O_RDWR);
        c.write(f.nodeid, fh, 0, Buffer.from('y'));
        expect(hasXattr(path, mapped)).toBe(false);
        set();
        c.setattr(f.nodeid, { size: 0 });
        expect(hasXattr(path, mapped)).toBe(false);
        set();
        c.open(f.nodeid, constants.O_WRONLY | constants.O_TRUNC);
        expect(hasXattr(path, mapped)).toBe(false);
        set();
        c.setattr(f.nodeid, { uid: 1000, gid: 1000 });
        expect(hasXattr(path, mapped)).toBe(false);
        set();
        c.create(1, 'f', constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
        expect(hasXattr(path, mapped)).toBe(false);
      } finally {
        h.cleanup();
      }
    },
  );
});

describe('XattrMap', () => {
  test('explicit rules with any separator, first match wins', () => {
    const m = XattrMap.parse(
      '/prefix/all/trusted./user.virtiofs./ /bad/server//trusted./ /bad/client/user.virtiofs.// /ok/all///',
    );
    expect(m.toHost('trusted.x')).toBe('user.virtiofs.trusted.x');
    expect(m.toHost('user.virtiofs.y')).toBe(-EPERM);
    expect(m.toHost('security.selinux')).toBe('security.selinux');
    expect(m.toGuest('user.virtiofs.trusted.x')).toBe('trusted.x');
    expect(m.toGuest('trusted.host')).toBeNull();
    expect(m.toGuest('user.a')).toBe('user.a');
  });

  test('map with an empty key prefixes everything and hides the rest', () => {
    const m = XattrMap.parse(':map::user.virtiofs.:');
    expect(m.toHost('security.capability')).toBe('user.virtiofs.security.capability');
    expect(m.toGuest('user.virtiofs.a')).toBe('a');
    expect(m.toGuest('user.other')).toBeNull();
  });

  test('unsupported, unmatched names and syntax errors', () => {
    const m = XattrMap.parse(':unsupported:all:security.selinux:security.selinux::ok:client:user.::');
    expect(m.toHost('security.selinux')).toBeLessThan(0);
    expect(m.toHost('trusted.a')).toBe(-EPERM);
    expect(m.toGuest('user.a')).toBeNull();
    for (const bad of ['', ':frob:all:::', ':ok:everyone:::', ':ok:all:', ':map:a:b::ok:all:::']) {
      expect(() => XattrMap.parse(bad)).toThrow(XattrMapError);
    }
  });
});
