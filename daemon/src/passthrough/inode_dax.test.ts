// Per-inode DAX: FUSE_HAS_INODE_DAX in INIT and FUSE_ATTR_DAX on large regular files only.
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FUSE_ATTR_DAX, InitFlag, InitFlag2 } from '../fuse/abi';
import { S_IFDIR, S_IFREG, STATX_SIZE, STX } from '../sys/fs';
import { DEFAULT_INIT_FLAGS } from '@vfs/harness/vhost_user_driver/fuse_client';
import { startLoopbackHarness, type ExportOptions, type LoopbackHarness } from '../../test_support/passthrough_harness';
import { inodeDaxFlag } from './inode_dax';

const KIB = 1024;
const MIN_KIB = 64;
const INODE_DAX_INIT = DEFAULT_INIT_FLAGS | InitFlag.MAP_ALIGNMENT;

function statx(mode: number, size: number): DataView {
  const v = new DataView(new ArrayBuffer(STATX_SIZE));
  v.setUint16(STX.mode, mode, true);
  v.setUint32(STX.size, size % 0x1_0000_0000, true);
  v.setUint32(STX.size + 4, Math.floor(size / 0x1_0000_0000), true);
  return v;
}

describe('inodeDaxFlag', () => {
  test('marks a regular file at or above the threshold, also beyond 4 GiB', () => {
    expect(inodeDaxFlag(statx(S_IFREG | 0o644, MIN_KIB * KIB), MIN_KIB * KIB)).toBe(FUSE_ATTR_DAX);
    expect(inodeDaxFlag(statx(S_IFREG | 0o644, 5 * 2 ** 32), MIN_KIB * KIB)).toBe(FUSE_ATTR_DAX);
  });

  test('leaves a smaller file, a directory, and everything when per-inode DAX is off', () => {
    expect(inodeDaxFlag(statx(S_IFREG | 0o644, MIN_KIB * KIB - 1), MIN_KIB * KIB)).toBe(0);
    expect(inodeDaxFlag(statx(S_IFDIR | 0o755, 1 << 30), MIN_KIB * KIB)).toBe(0);
    expect(inodeDaxFlag(statx(S_IFREG | 0o644, 1 << 30), 0)).toBe(0);
  });
});

describe('a daemon with a per-inode DAX threshold', () => {
  let h: LoopbackHarness;
  const start = (options: ExportOptions): void => {
    h = startLoopbackHarness(options);
    writeFileSync(join(h.dir, 'big'), Buffer.alloc(MIN_KIB * KIB));
    writeFileSync(join(h.dir, 'small'), 'small');
    mkdirSync(join(h.dir, 'dir'));
  };
  afterEach(() => h.cleanup());

  test('INIT takes FUSE_HAS_INODE_DAX when the guest offers it (mounted dax=inode)', () => {
    start({ dax: true, daxMinFileBytes: MIN_KIB * KIB });
    expect(h.client.init(INODE_DAX_INIT, undefined, InitFlag2.HAS_INODE_DAX).flags2 & InitFlag2.HAS_INODE_DAX).toBe(
      InitFlag2.HAS_INODE_DAX,
    );
  });

  test('LOOKUP, GETATTR and READDIRPLUS mark the big regular file only', () => {
    start({ dax: true, daxMinFileBytes: MIN_KIB * KIB });
    const c = h.client;
    c.init(INODE_DAX_INIT, undefined, InitFlag2.HAS_INODE_DAX);
    const big = c.lookup(1, 'big');
    expect(big.attr.flags & FUSE_ATTR_DAX).toBe(FUSE_ATTR_DAX);
    expect(c.getattr(big.nodeid).flags & FUSE_ATTR_DAX).toBe(FUSE_ATTR_DAX);
    expect(c.lookup(1, 'small').attr.flags & FUSE_ATTR_DAX).toBe(0);
    expect(c.lookup(1, 'dir').attr.flags & FUSE_ATTR_DAX).toBe(0);
    const d = c.opendir(1);
    const flags = Object.fromEntries(c.readdirplus(1, d.fh).map((e) => [e.name, e.entry.attr.flags & FUSE_ATTR_DAX]));
    c.releasedir(1, d.fh);
    expect(flags).toMatchObject({ big: FUSE_ATTR_DAX, small: 0, dir: 0 });
  });

  test('CREATE leaves a new file unmarked; SETATTR that grows it past the threshold marks it', () => {
    start({ dax: true, daxMinFileBytes: MIN_KIB * KIB });
    const c = h.client;
    c.init(INODE_DAX_INIT, undefined, InitFlag2.HAS_INODE_DAX);
    const f = c.create(1, 'new', 0o2, 0o644);
    expect(f.entry.attr.flags & FUSE_ATTR_DAX).toBe(0);
    expect(c.setattr(f.entry.nodeid, { size: MIN_KIB * KIB }).flags & FUSE_ATTR_DAX).toBe(FUSE_ATTR_DAX);
    c.release(f.entry.nodeid, f.fh);
    truncateSync(join(h.dir, 'new'), 1);
    expect(c.getattr(f.entry.nodeid).flags & FUSE_ATTR_DAX).toBe(0);
  });

  test('a guest that does not take FUSE_HAS_INODE_DAX (dax=always) gets no FUSE_ATTR_DAX', () => {
    start({ dax: true, daxMinFileBytes: MIN_KIB * KIB });
    expect(h.client.init(INODE_DAX_INIT).flags2 & InitFlag2.HAS_INODE_DAX).toBe(0);
    expect(h.client.lookup(1, 'big').attr.flags & FUSE_ATTR_DAX).toBe(0);
  });

  test('without a threshold, or without DAX, INIT does not advertise FUSE_HAS_INODE_DAX', () => {
    for (const options of [{ dax: true }, { daxMinFileBytes: MIN_KIB * KIB }]) {
      start(options);
      const init = h.client.init(INODE_DAX_INIT, undefined, InitFlag2.HAS_INODE_DAX);
      expect(init.flags2 & InitFlag2.HAS_INODE_DAX).toBe(0);
      expect(h.client.lookup(1, 'big').attr.flags & FUSE_ATTR_DAX).toBe(0);
      h.cleanup();
    }
    h = startLoopbackHarness();
  });
});
