// A directory the host moves out of the export: its node id must stop reaching names, and a
// directory moved within the export must keep working. Under the default sandbox the export root
// is its own mount (/shared, a bind of the shared dir); a bind inside it is the shim's container
// dir, which the test mounts on the host and the daemon (unsandboxed) sees as a submount.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FUSE_ATTR_SUBMOUNT } from '../fuse/abi';
import { ENOENT, ESTALE } from '../fuse/errno';
import { O_CREAT, O_WRONLY, S_IFREG } from '../sys/fs';
import { errnoOf, type FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { startHarness, type Harness } from '../../test_support/passthrough_harness';

/** A directory beside the export on the same filesystem, so a rename can reach it. */
let outside: string;
beforeEach(() => {
  outside = mkdtempSync(join(tmpdir(), 'vfs-outside-'));
});
afterEach(() => rmSync(outside, { recursive: true, force: true }));

function mount(args: readonly string[]): void {
  const r = spawnSync('mount', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount ${args.join(' ')}: ${r.stderr}`);
}

/** Every request that would reach a name under `dir`, each answered ESTALE. */
function expectEveryNameRequestRefused(c: FuseClient, dir: number, file: number): void {
  expect(errnoOf(() => c.create(dir, 'created', O_CREAT | O_WRONLY, 0o644))).toBe(ESTALE);
  expect(errnoOf(() => c.mkdir(dir, 'made', 0o755))).toBe(ESTALE);
  expect(errnoOf(() => c.mknod(dir, 'node', S_IFREG | 0o644))).toBe(ESTALE);
  expect(errnoOf(() => c.symlink(dir, 'sym', 'target'))).toBe(ESTALE);
  expect(errnoOf(() => c.link(file, dir, 'linked'))).toBe(ESTALE);
  expect(errnoOf(() => c.rename(1, 'file', dir, 'moved'))).toBe(ESTALE);
  expect(errnoOf(() => c.rename(dir, 'f', 1, 'taken'))).toBe(ESTALE);
  expect(errnoOf(() => c.unlink(dir, 'f'))).toBe(ESTALE);
  expect(errnoOf(() => c.rmdir(dir, 'inner'))).toBe(ESTALE);
  expect(errnoOf(() => c.lookup(dir, 'f'))).toBe(ESTALE);
  expect(errnoOf(() => c.opendir(dir))).toBe(ESTALE);
}

// Inodes held as O_PATH fds, or as file handles opened on the export root's mount when needed.
describe.each([
  ['O_PATH fds', 'never'],
  ['file handles', 'mandatory'],
] as const)(
  'the export root is its own mount (the default sandbox binds it at /shared), inodes held as %s',
  (_held, inodeFileHandles) => {
    let h: Harness;
    let c: FuseClient;
    beforeEach(() => {
      h = startHarness({ inodeFileHandles });
      c = h.client;
      c.init();
    });
    afterEach(() => h.cleanup());

    test('a directory the host moves out of the export answers ESTALE under its node id and nothing lands outside', () => {
      mkdirSync(join(h.dir, 'd', 'inner'), { recursive: true });
      writeFileSync(join(h.dir, 'd', 'f'), 'kept');
      writeFileSync(join(h.dir, 'file'), '');
      mkdirSync(join(h.dir, 'keep'));
      const d = c.lookup(1, 'd').nodeid;
      const inner = c.lookup(d, 'inner').nodeid;
      const file = c.lookup(1, 'file').nodeid;
      const dirHandle = c.opendir(d).fh;

      renameSync(join(h.dir, 'd'), join(outside, 'd'));

      expectEveryNameRequestRefused(c, d, file);
      expect(errnoOf(() => c.create(inner, 'deeper', O_CREAT | O_WRONLY, 0o644))).toBe(ESTALE);
      expect(errnoOf(() => c.readdirplus(d, dirHandle))).toBe(ESTALE);
      expect(readdirSync(join(outside, 'd')).sort()).toEqual(['f', 'inner']);
      expect(readdirSync(join(outside, 'd', 'inner'))).toEqual([]);
      expect(readFileSync(join(outside, 'd', 'f'), 'utf8')).toBe('kept');
      // The rest of the export is untouched; the guest's fresh lookup of the old name fails plainly.
      expect(errnoOf(() => c.lookup(1, 'd'))).toBe(ENOENT);
      const keep = c.lookup(1, 'keep').nodeid;
      c.create(keep, 'ok', O_CREAT | O_WRONLY, 0o644);
      expect(existsSync(join(h.dir, 'keep', 'ok'))).toBe(true);
      c.releasedir(d, dirHandle);
    });

    test('a directory the host moves within the export keeps working under its node id', () => {
      mkdirSync(join(h.dir, 'e'));
      mkdirSync(join(h.dir, 'elsewhere'));
      const e = c.lookup(1, 'e').nodeid;

      renameSync(join(h.dir, 'e'), join(h.dir, 'elsewhere', 'e'));

      c.create(e, 'f', O_CREAT | O_WRONLY, 0o644);
      c.mkdir(e, 'sub', 0o755);
      expect(c.lookup(e, 'f').nodeid).toBeGreaterThan(1);
      c.releasedir(e, c.opendir(e).fh);
      expect(readdirSync(join(h.dir, 'elsewhere', 'e')).sort()).toEqual(['f', 'sub']);
    });
  },
);

describe('a container dir bound inside the export, announced as a submount', () => {
  let h: Harness;
  let c: FuseClient;
  let layer: string;
  let target: string;
  beforeEach(() => {
    // Unsandboxed, so the daemon sees a bind the host makes after it started, as the shim's do.
    h = startHarness({ announceSubmounts: true }, { sandbox: 'none' });
    c = h.client;
    c.init();
    layer = join(outside, 'layer');
    mkdirSync(join(layer, 'd'), { recursive: true });
    mkdirSync(join(layer, 'e'));
    mkdirSync(join(layer, 'sub'));
    target = join(h.dir, 'c');
    mkdirSync(target);
    mount(['--bind', layer, target]);
  });
  afterEach(() => {
    // Lazily: the daemon's O_PATH fds keep the bind busy until its session ends.
    spawnSync('umount', ['--lazy', target]);
    h.cleanup();
  });

  test('a directory moved out of the bind answers ESTALE; one moved within it keeps working', () => {
    writeFileSync(join(layer, 'd', 'f'), 'kept');
    mkdirSync(join(layer, 'd', 'inner'));
    writeFileSync(join(h.dir, 'file'), '');
    const container = c.lookup(1, 'c');
    expect(container.attr.flags & FUSE_ATTR_SUBMOUNT).toBe(FUSE_ATTR_SUBMOUNT);
    const d = c.lookup(container.nodeid, 'd').nodeid;
    const e = c.lookup(container.nodeid, 'e');
    expect(e.attr.flags & FUSE_ATTR_SUBMOUNT).toBe(0);
    const file = c.lookup(1, 'file').nodeid;

    renameSync(join(layer, 'd'), join(outside, 'd'));
    renameSync(join(layer, 'e'), join(layer, 'sub', 'e'));

    expectEveryNameRequestRefused(c, d, file);
    expect(readdirSync(join(outside, 'd')).sort()).toEqual(['f', 'inner']);
    c.create(e.nodeid, 'f', O_CREAT | O_WRONLY, 0o644);
    expect(existsSync(join(layer, 'sub', 'e', 'f'))).toBe(true);
    expect(c.lookup(container.nodeid, 'sub').nodeid).toBeGreaterThan(1);
  });
});
