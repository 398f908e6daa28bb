// A container's directories in the sandbox's shares (share_plan.ts): bound when the container is
// created, released when it is removed. Each is a mount journalled under the container's id, so
// `delete` after a crashed shim, and a failed create, release exactly these.
import { join } from 'node:path';
import { removeUnmountedTree, unmountContainer } from '../host_mounts';
import { SandboxError } from '../sandbox_error';
import type { SandboxState } from '../sandbox_state';
import { type BindDirs, bindShare } from './share_exports';
import type { ContainerDir } from './share_plan';
import { removeShareTarget } from './share_targets';

/**
 * Binds every directory, or none: a failure releases what was bound, once every bind settled. The
 * directories are bound at once: each bind is two mount(8) runs (40–70 ms a directory under TCG
 * load), and they touch distinct mount points (the journal's writes are synchronous).
 */
export async function bindContainerDirs(
  state: SandboxState,
  dirs: BindDirs,
  containerId: string,
  planned: readonly ContainerDir[],
): Promise<void> {
  const results = await Promise.allSettled(planned.map((dir) => bindShare(state, dirs, containerId, dir)));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed === undefined) return;
  try {
    await releaseContainerDirs(state, dirs, containerId, planned);
  } catch (err) {
    throw SandboxError.alsoFailed(failed.reason, 'releasing what was bound', err);
  }
  throw failed.reason;
}

/**
 * Unmounts the container's binds (lazily where the guest or daemon still holds one: the kernel
 * frees it when released) and removes their now empty mount points: in the shared dir, where the
 * guest may write, one by one without following anything (share_targets.ts); one the guest put
 * something in stays for the sandbox's teardown.
 */
export async function releaseContainerDirs(
  state: SandboxState,
  dirs: BindDirs,
  containerId: string,
  planned: readonly ContainerDir[],
): Promise<void> {
  await unmountContainer(state, containerId);
  // Every dir is tried; the first failure is reported once all were.
  const failures: unknown[] = [];
  for (const dir of planned) {
    try {
      removeShareTarget(dirs.sharesDir, dir.target, dir.wrapsFile);
      await removeUnmountedTree(join(dirs.stagingDir, dir.target));
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length > 0) throw failures[0];
}
