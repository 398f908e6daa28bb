// --translate-uid / --translate-gid: the lookup tables alone, then the real daemon through the
// front-end driver: what a guest's request acts as on the host, and what owners the guest is shown.
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InitFlag2 } from '../fuse/abi';
import { EINVAL, EPERM } from '../fuse/errno';
import { errnoOf, type FuseClient, type FuseDirentPlus } from '@vfs/harness/vhost_user_driver/fuse_client';
import {
  startHarness,
  type DaemonConfinement,
  type DaemonHarness,
  type ExportOptions,
} from '../../test_support/passthrough_harness';
import { IdTranslation } from './id_translation';

const O_WRONLY = 0o1;
const W_OK = 2;

describe('the tables', () => {
  test('no rules: every id passes unchanged', () => {
    const ids = new IdTranslation();
    for (const id of [0, 1000, 0xffff_fffe, 0xffff_ffff]) {
      expect([ids.hostUid(id), ids.hostGid(id), ids.guestUid(id), ids.guestGid(id)]).toEqual([id, id, id, id]);
    }
  });

  test('map translates both ways, 1:1, and nothing outside its ranges', () => {
    const ids = new IdTranslation(['map:0:100000:65536']);
    expect([ids.hostUid(0), ids.hostUid(1000), ids.hostUid(65535), ids.hostUid(65536)]).toEqual([
      100000, 101000, 165535, 65536,
    ]);
    expect([ids.guestUid(100000), ids.guestUid(165535), ids.guestUid(99999), ids.guestUid(0)]).toEqual([
      0, 65535, 99999, 0,
    ]);
    // gids have their own rules.
    expect(ids.hostGid(1000)).toBe(1000);
  });

  test('squash maps a range onto one id, forbid-guest answers -EPERM, one direction each', () => {
    const ids = new IdTranslation(
      ['squash-guest:0:2000:1000', 'forbid-guest:1000:10', 'squash-host:3000:77:100'],
      ['forbid-guest:0:1'],
    );
    expect([ids.hostUid(0), ids.hostUid(999), ids.hostUid(1000), ids.hostUid(1009), ids.hostUid(1010)]).toEqual([
      2000,
      2000,
      -EPERM,
      -EPERM,
      1010,
    ]);
    expect([ids.guestUid(2000), ids.guestUid(3000), ids.guestUid(3099), ids.guestUid(3100)]).toEqual([
      2000, 77, 77, 3100,
    ]);
    expect([ids.hostGid(0), ids.hostGid(1), ids.guestGid(0)]).toEqual([-EPERM, 1, 0]);
  });

  test('many rules are found by their ranges, in any order given', () => {
    const specs = Array.from({ length: 200 }, (_, i) => `guest:${(199 - i) * 10}:${1_000_000 + (199 - i) * 100}:5`);
    const ids = new IdTranslation(specs);
    for (let r = 0; r < 200; r++) {
      expect(ids.hostUid(r * 10)).toBe(1_000_000 + r * 100);
      expect(ids.hostUid(r * 10 + 4)).toBe(1_000_000 + r * 100 + 4);
      expect(ids.hostUid(r * 10 + 5)).toBe(r * 10 + 5);
    }
  });
});

describe('the daemon', () => {
  let h: DaemonHarness;
  let c: FuseClient;

  function start(options: ExportOptions, confinement: DaemonConfinement = {}, flags2 = 0): void {
    h = startHarness(options, confinement);
    c = h.client;
    c.init(undefined, undefined, flags2);
    chmodSync(h.dir, 0o777);
  }

  /** The FUSE_CREATE_SUPP_GROUP extension the kernel appends to a creation. */
  function suppGroupExt(gid: number): Buffer {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(16, 0);
    b.writeUInt32LE(2, 4);
    b.writeUInt32LE(1, 8);
    b.writeUInt32LE(gid, 12);
    return b;
  }

  afterEach(() => h.cleanup());

  function hostOwner(name: string): [number, number] {
    const st = lstatSync(join(h.dir, name));
    return [st.uid, st.gid];
  }

  test('map: what guest uid 1000 creates belongs to the mapped host id, and is shown to the guest as 1000', () => {
    start({ translateUid: ['map:1000:101000:10'], translateGid: ['map:1000:201000:10'] });
    c.uid = 1000;
    c.gid = 1001;
    const f = c.create(1, 'file', O_WRONLY, 0o644);
    expect([f.entry.attr.uid, f.entry.attr.gid]).toEqual([1000, 1001]);
    expect(hostOwner('file')).toEqual([101000, 201001]);
    c.release(f.entry.nodeid, f.fh);
    const d = c.mkdir(1, 'dir', 0o755);
    expect([d.attr.uid, d.attr.gid]).toEqual([1000, 1001]);
    expect(hostOwner('dir')).toEqual([101000, 201001]);
    c.symlink(1, 'link', 'file');
    expect(hostOwner('link')).toEqual([101000, 201001]);
    c.access(d.nodeid, W_OK);
  });

  test('map: host-owned files show the guest ids in LOOKUP, GETATTR and READDIRPLUS; unmapped ids pass', () => {
    start({ translateUid: ['map:1000:101000:10'], translateGid: ['map:1000:201000:10'] });
    writeFileSync(join(h.dir, 'mapped'), '');
    chownSync(join(h.dir, 'mapped'), 101005, 201007);
    writeFileSync(join(h.dir, 'root'), '');
    writeFileSync(join(h.dir, 'other'), '');
    chownSync(join(h.dir, 'other'), 1005, 1007);
    const owners = (e: { uid: number; gid: number }): [number, number] => [e.uid, e.gid];
    const mapped = c.lookup(1, 'mapped');
    expect(owners(mapped.attr)).toEqual([1005, 1007]);
    expect(owners(c.getattr(mapped.nodeid))).toEqual([1005, 1007]);
    expect(owners(c.lookup(1, 'root').attr)).toEqual([0, 0]);
    // Host 1005 is no mapped host id: shown as itself, though the guest's 1005 is someone else there.
    expect(owners(c.lookup(1, 'other').attr)).toEqual([1005, 1007]);
    const dir = c.opendir(1);
    const plus = c.readdirAll(1, dir.fh, true) as FuseDirentPlus[];
    c.releasedir(1, dir.fh);
    expect(owners(plus.find((e) => e.name === 'mapped')!.entry.attr)).toEqual([1005, 1007]);
  });

  test('map: SETATTR chown gives the host the mapped ids and the guest its own', () => {
    start({ translateUid: ['map:1000:101000:10'], translateGid: ['map:1000:201000:10'] });
    writeFileSync(join(h.dir, 'f'), '');
    const e = c.lookup(1, 'f');
    const a = c.setattr(e.nodeid, { uid: 1003, gid: 1004 });
    expect([a.uid, a.gid]).toEqual([1003, 1004]);
    expect(hostOwner('f')).toEqual([101003, 201004]);
    c.setattr(e.nodeid, { gid: 5 });
    expect(hostOwner('f')).toEqual([101003, 5]);
  });

  test('squash-guest puts every guest id on one host id; host/squash-host decide what the guest sees', () => {
    start({
      translateUid: ['squash-guest:0:2000:4294967295', 'host:2000:1000:1', 'squash-host:3000:77:100'],
      translateGid: ['squash-guest:0:2100:4294967295'],
    });
    for (const [uid, name] of [
      [0, 'by-root'],
      [1234, 'by-1234'],
    ] as const) {
      c.uid = uid;
      c.gid = uid;
      const d = c.mkdir(1, name, 0o755);
      expect(hostOwner(name)).toEqual([2000, 2100]);
      // Host 2000 is shown as 1000 (host:), host gid 2100 has no host→guest rule: itself.
      expect([d.attr.uid, d.attr.gid]).toEqual([1000, 2100]);
    }
    mkdirSync(join(h.dir, 'squashed'));
    chownSync(join(h.dir, 'squashed'), 3050, 0);
    expect(c.lookup(1, 'squashed').attr.uid).toBe(77);
  });

  test('(uid_t)-1, which no rule covers and setfsuid takes as "no change", is refused: nothing runs as the daemon', () => {
    start({
      translateUid: ['squash-guest:0:2000:4294967295'],
      translateGid: ['squash-guest:0:2100:4294967295'],
    });
    for (const [uid, gid] of [
      [0xffff_ffff, 0],
      [0, 0xffff_ffff],
      [0xffff_ffff, 0xffff_ffff],
    ] as const) {
      c.uid = uid;
      c.gid = gid;
      expect(errnoOf(() => c.mkdir(1, 'm', 0o755))).toBe(EINVAL);
      expect(errnoOf(() => c.create(1, 'f', O_WRONLY, 0o644))).toBe(EINVAL);
      expect(errnoOf(() => c.mknod(1, 'fifo', 0o10644))).toBe(EINVAL);
      expect(errnoOf(() => c.symlink(1, 's', 'm'))).toBe(EINVAL);
    }
    expect(readdirSync(h.dir)).toEqual([]);
  });

  test('forbid-guest: creations, chown and ACCESS with a forbidden id get EPERM; other ids work', () => {
    start({ translateUid: ['forbid-guest:0:1000'], translateGid: ['forbid-guest:5:1'] });
    writeFileSync(join(h.dir, 'f'), '');
    const e = c.lookup(1, 'f');
    c.uid = 0;
    expect(errnoOf(() => c.mkdir(1, 'd', 0o755))).toBe(EPERM);
    expect(errnoOf(() => c.create(1, 'new', O_WRONLY, 0o644))).toBe(EPERM);
    expect(errnoOf(() => c.mknod(1, 'fifo', 0o10644))).toBe(EPERM);
    expect(errnoOf(() => c.symlink(1, 's', 'f'))).toBe(EPERM);
    // Checked as the daemon (root) it would pass.
    expect(errnoOf(() => c.access(e.nodeid, W_OK))).toBe(EPERM);
    c.uid = 1000;
    expect(errnoOf(() => c.setattr(e.nodeid, { uid: 999 }))).toBe(EPERM);
    expect(errnoOf(() => c.setattr(e.nodeid, { gid: 5 }))).toBe(EPERM);
    expect(hostOwner('f')).toEqual([0, 0]);
    c.setattr(e.nodeid, { uid: 1000, gid: 6 });
    expect(hostOwner('f')).toEqual([1000, 6]);
    c.gid = 5;
    expect(errnoOf(() => c.mkdir(1, 'd', 0o755))).toBe(EPERM);
    c.gid = 6;
    expect(c.mkdir(1, 'd', 0o755).attr.uid).toBe(1000);
    expect(hostOwner('d')).toEqual([1000, 6]);
  });

  test('the group FUSE_CREATE_SUPP_GROUP sends is translated too: set-group-ID stays in the host group it maps to', () => {
    start({ translateGid: ['map:1000:201000:10', 'forbid-guest:5:1'] }, { groups: [0] }, InitFlag2.CREATE_SUPP_GROUP);
    chownSync(h.dir, 0, 201004);
    chmodSync(h.dir, 0o2777);
    c.uid = 1000;
    c.gid = 1000;
    c.extensions = suppGroupExt(1004);
    c.mknod(1, 'kept', 0o102755);
    expect(statSync(join(h.dir, 'kept')).mode & 0o7777).toBe(0o2755);
    expect(hostOwner('kept')).toEqual([1000, 201004]);
    c.extensions = suppGroupExt(5);
    expect(errnoOf(() => c.mknod(1, 'forbidden', 0o100644))).toBe(EPERM);
    c.extensions = null;
  });
});
