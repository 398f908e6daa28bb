// The pool's warm-up dirs, bound into a VM's shares as a shim binds a container's and released
// after, with the real bind calls on the host (needs root; no VM: e2e/agent_container runs the
// container itself, e2e/warm_pool the pool's whole warm-up).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unmountAll } from '../host_mounts';
import { SandboxState } from '../sandbox_state';
import { poolVmLayout } from '../vm_runtime/sandbox_layout';
import { makeSharesMountPoint, makeStagingMountPoint } from '../vm_runtime/share_exports';
import { DATA_TAG, LAYERS_TAG } from '../vm_runtime/share_plan';
import { boundWarmUpPlace } from './warm_up';

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((target) => target.startsWith(`${dir}/`));
}

describe("the pool's warm-up dirs", () => {
  let runDir: string;

  beforeEach(() => {
    runDir = mkdtempSync(join(tmpdir(), 'vfs-warm-up-'));
  });

  afterEach(() => {
    rmSync(runDir, { recursive: true, force: true });
  });

  it('are bound into the layer and data shares under the container id, and only the binds go at release', async () => {
    const layout = poolVmLayout(runDir, 'vm1');
    const state = new SandboxState(layout.stateDir);
    state.create();
    for (const tag of [LAYERS_TAG, DATA_TAG]) mkdirSync(join(layout.sharesDir, tag), { recursive: true });
    try {
      await makeSharesMountPoint(state, layout.sharesDir, '');
      await makeStagingMountPoint(state, layout.stagingDir, '');
      const place = boundWarmUpPlace(state, layout);
      const rootfs = await place.prepare('vfs-warm-up-1');
      expect(rootfs).toEqual({
        lower: { tag: LAYERS_TAG, path: 'vfs-warm-up-1' },
        upper: { tag: DATA_TAG, path: 'vfs-warm-up-1/upper' },
        work: { tag: DATA_TAG, path: 'vfs-warm-up-1/work' },
      });
      // What the guest sees: an empty lower dir, and the upper and work dirs, which it writes.
      const data = join(layout.sharesDir, DATA_TAG, 'vfs-warm-up-1');
      expect(readdirSync(join(layout.sharesDir, LAYERS_TAG, 'vfs-warm-up-1'))).toEqual([]);
      expect(readdirSync(data).sort()).toEqual(['upper', 'work']);
      writeFileSync(join(data, 'upper', 'made-in-the-guest'), '');
      expect(mountsUnder(layout.sharesDir).sort()).toEqual([
        join(layout.sharesDir, DATA_TAG, 'vfs-warm-up-1'),
        join(layout.sharesDir, LAYERS_TAG, 'vfs-warm-up-1'),
      ]);

      await place.release('vfs-warm-up-1');
      expect(mountsUnder(layout.sharesDir)).toEqual([]);
      expect(readdirSync(join(layout.sharesDir, LAYERS_TAG))).toEqual([]);
      expect(readdirSync(join(layout.sharesDir, DATA_TAG))).toEqual([]);
      // The host dirs stay for the VM's teardown (the daemon may hold the guest's handles to them).
      expect(existsSync(join(layout.stateDir, 'warm-up', 'vfs-warm-up-1', 'data', 'upper', 'made-in-the-guest'))).toBe(
        true,
      );
      expect(state.mounts().map((m) => m.containerId)).toEqual(['', '']);
      // Released once: a second call finds nothing of it.
      await place.release('vfs-warm-up-1');
    } finally {
      await unmountAll(state);
    }
  });
});
