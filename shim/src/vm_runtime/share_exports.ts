// Turns planned shares into live ones: a bind mount of the host path into the daemon's shared
// dir (journalled in the sandbox state, so `delete` can undo it after a crash; read-only binds
// are read-only on the host too), then an export over the daemon's control socket with its own
// vhost-user socket. Mounts belong to a container id ('' for the sandbox's own, e.g. the runtime
// share), so a container's removal releases exactly its mounts.
//
// What a guest can do to host files through a read-write share is narrowed here: the binds are
// nosuid,nodev (a setuid file or a device node the guest makes takes no effect through them) and
// rw shares carry USER_XATTRS_ONLY (no file capabilities). What stays: the daemon passes the
// guest's uids, gids and mode bits through (it keeps CAP_CHOWN/CAP_FSETID), so guest root can
// leave a root-owned setuid file in the host directory, setuid for anyone who runs it by its own
// host path: containerd's snapshot dirs are root-only, a volume's is as open as its host modes.

import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlClient } from '@vfs/contracts';
import { mountFor, remountSubmounts } from '../host_mounts';
import type { SandboxState } from '../sandbox_state';
import { ShimError } from '../shim_error';
import type { PlannedShare } from './share_plan';

export interface ExportedShare {
  readonly tag: string;
  readonly socketPath: string;
  readonly readonly: boolean;
}

/** An empty file or directory for the bind mount to cover. */
function prepareTarget(sharesDir: string, share: PlannedShare): string {
  const target = join(sharesDir, share.target);
  if (share.wrapsFile) {
    mkdirSync(join(sharesDir, share.tag), { recursive: true, mode: 0o700 });
    closeSync(openSync(target, 'a', 0o600));
  } else {
    mkdirSync(target, { recursive: true, mode: 0o700 });
  }
  return target;
}

/**
 * Makes the shared dir a shared mount point (a bind onto itself), journalled like every share:
 * the sandboxed daemon holds a slave copy of it in its own mount namespace, so only a shared
 * mount point lets a share bound after the daemon started (a pod's next container) reach it.
 */
export async function makeSharesMountPoint(state: SandboxState, sharesDir: string, ownerId: string): Promise<void> {
  await mountFor(state, ownerId, { type: 'none', source: sharesDir, target: sharesDir, options: ['bind', 'shared'] });
}

/**
 * mount(8) binds, then remounts with the flags. A remount does not propagate, so the flags reach
 * the sandboxed daemon's copy of the shared dir only for binds made before it starts (all, today).
 */
export async function bindShare(state: SandboxState, sharesDir: string, ownerId: string, share: PlannedShare): Promise<void> {
  const target = prepareTarget(sharesDir, share);
  const flags = ['nosuid', 'nodev', ...(share.readonly ? ['ro'] : [])];
  await mountFor(state, ownerId, { type: 'none', source: share.source, target, options: [share.recursive ? 'rbind' : 'bind', ...flags] });
  if (share.recursive) await remountSubmounts(target, flags);
}

export async function exportShare(control: ControlClient, share: PlannedShare, socketPath: string): Promise<ExportedShare> {
  try {
    await control.add({
      tag: share.tag,
      socket: socketPath,
      dir: share.tag,
      readonly: share.readonly,
      cache: share.cache,
      xattr: share.xattr,
      xattrmap: share.xattrmap,
      announceSubmounts: false,
    });
  } catch (err) {
    throw ShimError.wrap(err, `export share ${share.tag} (${share.source})`);
  }
  return { tag: share.tag, socketPath, readonly: share.readonly };
}
