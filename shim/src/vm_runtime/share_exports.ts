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

import { closeSync, mkdirSync, openSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AddExport, ControlClient } from '@vfs/contracts';
import { bindFor, moveMount } from '../host_mounts';
import { detachOpenedCall, type MountAttr } from '../libc_mount';
import type { SandboxState } from '../sandbox_state';
import { SandboxError } from '../sandbox_error';
import type { SandboxShare } from './share_plan';
import { fdPath, openShareTarget } from './share_targets';

export interface ExportedShare {
  readonly tag: string;
  readonly socketPath: string;
  readonly readonly: boolean;
  /** Its DAX window in MiB, which QEMU's device must have too; absent: no DAX. */
  readonly daxWindowMib?: number;
}

/** A host directory or file to bind below the shared dir. */
export interface ShareBind {
  readonly source: string;
  /** Relative to the shared dir (and to the staging dir on the way). */
  readonly target: string;
  readonly wrapsFile: boolean;
  readonly recursive: boolean;
  readonly readonly: boolean;
}

/** Where a sandbox's binds are made: the daemon's shared dir, and a private staging dir beside it. */
export interface BindDirs {
  readonly sharesDir: string;
  readonly stagingDir: string;
}

/** An empty file or directory for the bind mount to cover, in the staging dir (the shim's alone). */
function prepareTarget(root: string, bind: ShareBind): string {
  const target = join(root, bind.target);
  if (bind.wrapsFile) {
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
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
  await bindFor(state, ownerId, {
    source: sharesDir,
    target: sharesDir,
    recursive: false,
    attrs: [],
    propagation: 'shared',
  });
}

/** The staging dir as a private mount point: a mount can be moved out of it (never out of a shared one). */
export async function makeStagingMountPoint(state: SandboxState, stagingDir: string, ownerId: string): Promise<void> {
  mkdirSync(stagingDir, { recursive: true, mode: 0o700 });
  await bindFor(state, ownerId, {
    source: stagingDir,
    target: stagingDir,
    recursive: false,
    attrs: [],
    propagation: 'private',
  });
}

/**
 * Binds with its flags (nosuid, nodev, ro) in the staging dir, then moves the mount into the
 * shared dir. A bind gets its flags after it is made, and setting them does not propagate: a
 * bind made in the shared dir itself would reach the running daemon's copy read-write. A moved
 * mount keeps its flags, and so do the copies its propagation makes. A recursive bind's flags
 * cover its submounts too, each keeping its own (a read-only one stays so). The bind is made
 * private before the move: a bind of a shared host directory would otherwise stay in its peer
 * group, and a mount made there later would reach the guest without these flags (runc binds
 * rprivate by default too).
 */
export async function bindShare(state: SandboxState, dirs: BindDirs, ownerId: string, bind: ShareBind): Promise<void> {
  const staged = prepareTarget(dirs.stagingDir, bind);
  const attrs: MountAttr[] = ['nosuid', 'nodev', ...(bind.readonly ? (['ro'] as const) : [])];
  await bindFor(state, ownerId, {
    source: bind.source,
    target: staged,
    recursive: bind.recursive,
    attrs,
    propagation: 'private',
  });
  // The shared dir holds what the guest wrote: the mount point is made and opened there without
  // following anything (share_targets.ts), and the mount goes onto what was opened.
  const to = join(dirs.sharesDir, bind.target);
  const target = openShareTarget(dirs.sharesDir, bind.target, bind.wrapsFile);
  try {
    await moveMount(state, ownerId, staged, to, fdPath(target));
    // The guest may have renamed the mount point between its open and the mount: the mount then
    // sits under a name, and directories, the guest controls. It is detached at once through the
    // descriptor, never by that path, and the container's create fails.
    const landed = readlinkSync(fdPath(target));
    if (landed !== join(realpathSync(dirs.sharesDir), bind.target)) {
      const detached = detachOpenedCall(target);
      state.forgetMount(to);
      const failed =
        detached === '' ? '' : ` (detaching it: ${detached}; the sandbox's teardown detaches it with the shares)`;
      throw new SandboxError(
        'host-failure',
        `share target ${bind.target}: renamed from the guest while being bound${failed}`,
      );
    }
  } finally {
    closeSync(target);
  }
}

/** The control-protocol `add` of a share, served on `socketPath`. */
export function addRequest(share: SandboxShare, socketPath: string): Omit<AddExport, 'id' | 'op'> {
  return {
    tag: share.tag,
    socket: socketPath,
    dir: share.tag,
    readonly: share.readonly,
    cache: share.cache,
    xattr: share.xattr,
    xattrmap: share.xattrmap,
    // Not announced: the guest's overlayfs refused (EINVAL) lower and upper dirs on virtio-fs
    // submounts. A container's layers share one host filesystem, so inode numbers stay unique.
    announceSubmounts: false,
    ...(share.daxWindowMib === undefined ? {} : { dax: true, daxWindowMiB: share.daxWindowMib }),
    ...(share.daxMinFileKiB === undefined ? {} : { daxMinFileKiB: share.daxMinFileKiB }),
  };
}

export async function exportShare(
  control: ControlClient,
  share: SandboxShare,
  socketPath: string,
): Promise<ExportedShare> {
  try {
    await control.add(addRequest(share, socketPath));
  } catch (err) {
    throw SandboxError.wrap(err, `export share ${share.tag}`);
  }
  const dax = share.daxWindowMib === undefined ? {} : { daxWindowMib: share.daxWindowMib };
  return { tag: share.tag, socketPath, readonly: share.readonly, ...dax };
}
