// Turns planned shares into live ones: a bind mount of the host path into the daemon's shared
// dir (journalled in the sandbox state, so `delete` can undo it after a crash; read-only binds
// are read-only on the host too), then an export over the daemon's control socket with its own
// vhost-user socket. Mounts belong to a container id ('' for the sandbox's own, e.g. the runtime
// share), so a container's removal releases exactly its mounts.

import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlClient } from '../../../daemon/src/control/client';
import { mountFor } from '../host_mounts';
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

export async function bindShare(state: SandboxState, sharesDir: string, ownerId: string, share: PlannedShare): Promise<void> {
  const target = prepareTarget(sharesDir, share);
  const options = [share.recursive ? 'rbind' : 'bind', ...(share.readonly ? ['ro'] : [])];
  await mountFor(state, ownerId, { type: 'none', source: share.source, target, options });
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
      announceSubmounts: false,
    });
  } catch (err) {
    throw ShimError.wrap(err, `export share ${share.tag} (${share.source})`);
  }
  return { tag: share.tag, socketPath, readonly: share.readonly };
}
