// Mount points in the shared dir against what a guest can leave there (a read-write share is the
// guest's to write): the real bind and removal calls on the host (needs root).
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unmountAll } from '../host_mounts';
import { SandboxState } from '../sandbox_state';
import { type BindDirs, bindShare, makeSharesMountPoint, makeStagingMountPoint } from './share_exports';
import { removeShareTarget } from './share_targets';

function mountedAt(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === path);
}

describe('mount points in the shared dir', () => {
  let dir: string;
  let state: SandboxState;
  let dirs: BindDirs;
  /** A host directory the guest would like a container's snapshot mounted over. */
  let victim: string;
  let snapshot: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-share-targets-'));
    state = new SandboxState(join(dir, 'state'));
    state.create();
    dirs = { sharesDir: join(dir, 'shares'), stagingDir: join(dir, 'staging') };
    mkdirSync(join(dirs.sharesDir, 'vfsdata'), { recursive: true });
    victim = join(dir, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'secret'), 'host');
    snapshot = join(dir, 'snapshot');
    mkdirSync(snapshot);
    writeFileSync(join(snapshot, 'file'), 'tenant');
    await makeSharesMountPoint(state, dirs.sharesDir, '');
    await makeStagingMountPoint(state, dirs.stagingDir, '');
  });

  afterEach(async () => {
    await unmountAll(state);
    rmSync(dir, { recursive: true, force: true });
  });

  const bind = (target: string, source = snapshot, wrapsFile = false) =>
    bindShare(state, dirs, 'c0', { source, target, wrapsFile, recursive: false, readonly: false });

  it('refuses a symlink the guest planted at a mount point, leaving the host directory it names unmounted', async () => {
    symlinkSync(victim, join(dirs.sharesDir, 'vfsdata', 'c0-up'));
    await expect(bind('vfsdata/c0-up')).rejects.toThrow(/c0-up is not a directory .*refusing/);
    expect(mountedAt(victim)).toBe(false);
    expect(readdirSync(victim)).toEqual(['secret']);
  });

  it('binds a directory and a file straight in the share, and over what the guest made there of the right kind', async () => {
    mkdirSync(join(dirs.sharesDir, 'vfsdata', 'c0-up'));
    writeFileSync(join(dirs.sharesDir, 'vfsdata', 'c0-up', 'planted'), 'guest');
    await bind('vfsdata/c0-up');
    expect(readdirSync(join(dirs.sharesDir, 'vfsdata', 'c0-up'))).toEqual(['file']);
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, '127.0.0.1 localhost\n');
    await bind('vfsdata/c0-v0', hosts, true);
    expect(lstatSync(join(dirs.sharesDir, 'vfsdata', 'c0-v0')).isFile()).toBe(true);
    expect(readFileSync(join(dirs.sharesDir, 'vfsdata', 'c0-v0'), 'utf8')).toBe('127.0.0.1 localhost\n');
  });

  it("refuses a symlink planted where a file's bind goes", async () => {
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, 'x');
    symlinkSync(join(victim, 'secret'), join(dirs.sharesDir, 'vfsdata', 'c0-v0'));
    await expect(bind('vfsdata/c0-v0', hosts, true)).rejects.toThrow(/c0-v0 is not a file/);
    expect(mountedAt(join(victim, 'secret'))).toBe(false);
    expect(readFileSync(join(victim, 'secret'), 'utf8')).toBe('host');
  });

  it('removes an empty mount point, and leaves one the guest replaced or wrote in, following nothing', () => {
    const share = join(dirs.sharesDir, 'vfsdata');
    mkdirSync(join(share, 'c0-up'));
    writeFileSync(join(share, 'c0-v0'), '');
    symlinkSync(victim, join(share, 'c1-up'));
    mkdirSync(join(share, 'c2-up'));
    symlinkSync(victim, join(share, 'c2-up', 'link'));
    expect(removeShareTarget(dirs.sharesDir, 'vfsdata/c0-up', false)).toBe(true);
    expect(removeShareTarget(dirs.sharesDir, 'vfsdata/c0-v0', true)).toBe(true);
    expect(removeShareTarget(dirs.sharesDir, 'vfsdata/c1-up', false)).toBe(false);
    expect(removeShareTarget(dirs.sharesDir, 'vfsdata/c2-up', false)).toBe(false);
    expect(removeShareTarget(dirs.sharesDir, 'vfsdata/c3-up', false)).toBe(false);
    expect(readdirSync(share).sort()).toEqual(['c1-up', 'c2-up']);
    expect(readdirSync(join(share, 'c2-up'))).toEqual(['link']);
    expect(readdirSync(victim)).toEqual(['secret']);
    expect(existsSync(join(victim, 'secret'))).toBe(true);
  });
});
