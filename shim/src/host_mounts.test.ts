// Bind mounts, moves and unmounts as the shim makes them, on the real host (needs root).
import {
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindFor, moveMount, tmpfsFor, unmount, unmountAll } from './host_mounts';
import { detachOpenedCall, mountTmpfs } from './libc_mount';
import { SandboxState } from './sandbox_state';
import { O_PATH } from './vm_runtime/share_targets';

/** Per-mount options (field 6) and optional fields (7…, up to "-") of `target` in mountinfo. */
function mountOf(target: string): { options: string[]; optional: string[] } | undefined {
  const line = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === target);
  if (line === undefined) return undefined;
  const fields = line.split(' ');
  return { options: (fields[5] as string).split(','), optional: fields.slice(6, fields.indexOf('-')) };
}

describe('host mounts', () => {
  let dir: string;
  let state: SandboxState;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-host-mounts-'));
    state = new SandboxState(join(dir, 'state'));
    state.create();
    for (const d of ['src', 'src/sub', 'stage', 'shared']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'src', 'file'), 'x');
  });

  /** The staging dir as the shim makes it: a private mount point, which a mount can move out of. */
  async function privateStage(): Promise<string> {
    const stage = join(dir, 'stage');
    await bindFor(state, 'c1', { source: stage, target: stage, recursive: false, attrs: [], propagation: 'private' });
    mkdirSync(join(stage, 'c1'));
    return join(stage, 'c1');
  }
  afterEach(async () => {
    await unmountAll(state);
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds with its flags and propagation, and moves the mount with its flags', async () => {
    await bindFor(state, 'c1', {
      source: join(dir, 'shared'),
      target: join(dir, 'shared'),
      recursive: false,
      attrs: [],
      propagation: 'shared',
    });
    expect(mountOf(join(dir, 'shared'))?.optional.some((f) => f.startsWith('shared:'))).toBe(true);
    const staged = await privateStage();
    await bindFor(state, 'c1', {
      source: join(dir, 'src'),
      target: staged,
      recursive: true,
      attrs: ['nosuid', 'nodev', 'ro'],
    });
    expect(mountOf(staged)?.options).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev']));
    mkdirSync(join(dir, 'shared', 'c1'));
    await moveMount(state, 'c1', staged, join(dir, 'shared', 'c1'));
    expect(mountOf(staged)).toBeUndefined();
    expect(mountOf(join(dir, 'shared', 'c1'))?.options).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev']));
    expect(readFileSync(join(dir, 'shared', 'c1', 'file'), 'utf8')).toBe('x');
    expect(state.mounts().map((m) => m.target)).toEqual([
      join(dir, 'shared'),
      join(dir, 'stage'),
      join(dir, 'shared', 'c1'),
    ]);
  });

  it('names the call, the paths and the errno of a bind that fails, and journals nothing of it', async () => {
    const missing = join(dir, 'missing');
    await expect(
      bindFor(state, 'c1', { source: missing, target: join(dir, 'stage'), recursive: false, attrs: ['ro'] }),
    ).rejects.toThrow(`mount(MS_BIND, ${missing} → ${join(dir, 'stage')}): ENOENT`);
    expect(state.mounts()).toEqual([]);
  });

  it('detaches a busy mount, and takes one already gone (or never made) as unmounted', async () => {
    const target = join(dir, 'stage');
    await bindFor(state, 'c1', { source: join(dir, 'src'), target, recursive: false, attrs: [] });
    const fd = openSync(join(target, 'file'), 'r');
    try {
      await unmount(state, target);
      expect(mountOf(target)).toBeUndefined();
    } finally {
      closeSync(fd);
    }
    state.journalMount({ target: join(dir, 'src'), containerId: 'c1' });
    state.journalMount({ target: join(dir, 'gone'), containerId: 'c1' });
    await unmountAll(state);
    expect(state.mounts()).toEqual([]);
  });

  it('does not unmount a host mount through a symlink left where a mount point was', async () => {
    const hostMount = join(dir, 'host-mount');
    mkdirSync(hostMount);
    await bindFor(state, 'host', { source: join(dir, 'src'), target: hostMount, recursive: false, attrs: [] });
    // A container's mount point in a share, gone and replaced from the guest by a link to it.
    const target = join(dir, 'shared', 'c1-up');
    symlinkSync(hostMount, target);
    state.journalMount({ target, containerId: 'c1' });
    await unmount(state, target);
    expect(mountOf(hostMount)).toBeDefined();
    expect(state.mounts().map((m) => m.target)).toEqual([hostMount]);
  });

  it('caps a tmpfs: a write past its size fails with ENOSPC, and the journal unmounts it', async () => {
    const target = join(dir, 'console');
    mkdirSync(target);
    tmpfsFor(state, '', target, 1 << 20);
    expect(mountOf(target)?.options).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
    writeFileSync(join(target, 'log'), Buffer.alloc(512 << 10));
    expect(() => writeFileSync(join(target, 'log'), Buffer.alloc(2 << 20))).toThrow(/ENOSPC/);
    await unmountAll(state);
    expect(mountOf(target)).toBeUndefined();
  });

  it('detaches the mount on an opened inode by its descriptor, wherever its name went', () => {
    const made = join(dir, 'made');
    mkdirSync(made);
    const fd = openSync(made, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      // Renamed (by the guest, say) between the open and the mount: the mount follows the inode.
      renameSync(made, join(dir, 'renamed'));
      mountTmpfs('vfs-test', `/proc/self/fd/${fd}`, 1 << 20);
      expect(mountOf(join(dir, 'renamed'))).toBeDefined();
      expect(detachOpenedCall(fd)).toBe('');
      expect(mountOf(join(dir, 'renamed'))).toBeUndefined();
    } finally {
      closeSync(fd);
    }
  });
});
