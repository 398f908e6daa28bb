// What a container needs from the host, and how the guest agent reaches it. Kata's model: a
// sandbox has two virtio-fs shares, exported once at boot, and each container's directories are
// bind mounts inside them, added and removed while the VM runs (a mount below the daemon's
// shared dir propagates into its sandbox, share_exports.ts):
// - `vfslayers`, read-only with cache=always: the overlay snapshot's lower layers (immutable);
// - `vfsdata`, read-write with the configured cache mode: the directory holding upperdir and
//   workdir (overlayfs needs both on one mount; xattrs on, since the guest's overlay keeps its
//   metadata in user.* xattrs, `userxattr`), the bundle's rootfs or a bind snapshot, and the
//   spec's bind mounts (volumes; a read-only one is read-only on the host and in the guest; a
//   file is shared through a directory of its own holding only it, so no sibling is exposed).
// A device per directory would cost a vhost-user export (a daemon thread, ≈11 MiB PSS) and a
// hotplug (≈0.3 s under TCG) each; two shares cost nothing per container. With [daemon]
// dax_window_mib > 0 both get a DAX window of that size and the guest mounts them dax=always:
// file pages are mapped from the host page cache, which every sandbox shares, instead of copied
// into each guest's (ARCHITECTURE.md, 'DAX'). With dax_min_file_kib > 0 as well, dax=inode: the
// daemon marks only regular files of at least that size for the window, the rest take the guest
// page cache (a small file would cost a whole 2 MiB mapping). Directory names are
// `c<container index>-<role>`: unique in the sandbox. Pure planning (plus a stat of bind
// sources): nothing is mounted or exported here.

import { statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import type { ContainerMount, Rootfs, Share, ShareRef } from '@vfs/proto/gen/agent/agent';
import { guestDaxMode, type CacheMode, type OciMount } from '@vfs/contracts';
import type { VfsConfig } from '@vfs/runtime-config';
import type { MountSpec } from '../host_mounts';
import type { ShimSpec } from '../oci_spec';
import { SandboxError } from '../sandbox_error';

/** Where the guest agent mounts the share of a tag. */
export const GUEST_SHARES_DIR = '/run/vfs/shares';
/**
 * The xattrs a guest may use on a read-write share (virtiofsd's rule language,
 * daemon/src/passthrough/xattr_map.ts): user.* only, which is all its overlay needs. The
 * guest cannot plant file capabilities (security.capability), trusted.* or ACLs (system.*) on
 * host files, and does not see the host's: the client rule matches the guest's names, the
 * server rule the host's (listing), the last one refuses the rest with EOPNOTSUPP ("not on
 * this filesystem"), which the guest kernel takes as "none" where it must: overlayfs removing
 * ACLs from its workdir (EPERM would make it read-only), exec looking up file capabilities.
 * The price: overlayfs cannot copy up a lower file that carries security.* xattrs.
 */
export const USER_XATTRS_ONLY = ':ok:client:user.:: :ok:server::user.: :unsupported:all:::';
/** USER_XATTRS_ONLY and POSIX ACLs ([daemon] posix_acl): system.posix_acl_access and _default. */
export const USER_XATTRS_AND_ACLS = `:ok:all:system.posix_acl_:system.posix_acl_: ${USER_XATTRS_ONLY}`;

/** The xattr map of a read-write share: the ACLs too with [daemon] posix_acl (the daemon's ACLs need them). */
export const writableShareXattrs = (posixAcl: boolean | undefined): string =>
  posixAcl === true ? USER_XATTRS_AND_ACLS : USER_XATTRS_ONLY;

/** A virtio-fs share of the sandbox: a directory of the daemon's shared dir, exported with its options. */
export interface SandboxShare {
  readonly tag: string;
  readonly readonly: boolean;
  readonly cache: CacheMode;
  readonly xattr: boolean;
  /** Absent: every xattr name passes (read-only shares: the guest cannot set any). */
  readonly xattrmap?: string;
  /** The DAX window in MiB (QEMU cache-size, the daemon's daxWindowMiB); absent: no DAX. */
  readonly daxWindowMib?: number;
  /** Per-inode DAX (the daemon's daxMinFileKiB, guest dax=inode); only with a window, absent: every file. */
  readonly daxMinFileKiB?: number;
}

/** What of [daemon] shapes the container shares (dax_min_file_kib absent: 0; posix_acl: false). */
export type ShareSettings = Pick<VfsConfig['daemon'], 'cache' | 'dax_window_mib'> &
  Partial<Pick<VfsConfig['daemon'], 'dax_min_file_kib' | 'posix_acl'>>;

export const LAYERS_TAG = 'vfslayers';
export const DATA_TAG = 'vfsdata';

/** The two shares every container's directories go into, exported at boot. */
export function containerShares(settings: ShareSettings): readonly SandboxShare[] {
  const dax = settings.dax_window_mib > 0 ? { daxWindowMib: settings.dax_window_mib, ...daxMinFile(settings) } : {};
  return [
    { tag: LAYERS_TAG, readonly: true, cache: 'always', xattr: true, ...dax },
    {
      tag: DATA_TAG,
      readonly: false,
      cache: settings.cache,
      xattr: true,
      xattrmap: writableShareXattrs(settings.posix_acl),
      ...dax,
    },
  ];
}

function daxMinFile(settings: ShareSettings): { daxMinFileKiB?: number } {
  const kib = settings.dax_min_file_kib ?? 0;
  return kib > 0 ? { daxMinFileKiB: kib } : {};
}

/**
 * `dax=always`: every file through the window; `dax=inode`: the files the daemon marks (the mount
 * fails when the device has no window).
 */
function guestMountOptions(share: SandboxShare): string[] {
  return share.daxWindowMib === undefined ? [] : [`dax=${guestDaxMode(share.daxMinFileKiB ?? 0)}`];
}

/** How the guest mounts the container shares (CreateSandbox; a pooled VM's at its boot). */
export function guestShareMounts(settings: ShareSettings): Share[] {
  return containerShares(settings).map((share) => ({
    tag: share.tag,
    mountPoint: `${GUEST_SHARES_DIR}/${share.tag}`,
    readonly: share.readonly,
    options: guestMountOptions(share),
  }));
}

/** A host directory (or file) bound into a sandbox share for one container. */
export interface ContainerDir {
  /** The share it goes into: LAYERS_TAG or DATA_TAG. */
  readonly share: string;
  /** Its directory (or file) in the share, `c<index>-<role>`. */
  readonly name: string;
  readonly source: string;
  /**
   * The bind mount's target, relative to the shared dir: `<share>/<name>`, a file for a file's bind.
   * Straight in the share, under no directory the guest could rename or swap for a symlink.
   */
  readonly target: string;
  readonly wrapsFile: boolean;
  readonly recursive: boolean;
  readonly readonly: boolean;
}

export interface ContainerSharePlan {
  readonly dirs: readonly ContainerDir[];
  readonly rootfs: Rootfs;
  readonly mounts: readonly ContainerMount[];
  /** config.json without the host bind mounts, which travel as `mounts`. */
  readonly specJson: string;
}

export interface PlanInput {
  readonly containerIndex: number;
  readonly bundle: string;
  readonly rootfs: readonly MountSpec[];
  readonly spec: ShimSpec;
}

const OVERLAY_PATH_KEYS = ['lowerdir', 'upperdir', 'workdir'];

export function planContainerShares(input: PlanInput): ContainerSharePlan {
  const prefix = `c${input.containerIndex}`;
  const mounts = input.spec.mounts ?? [];
  const root = rootfsDirs(prefix, input);
  const volumes = volumeDirs(prefix, mounts);
  return {
    dirs: [...root.dirs, ...volumes.map((v) => v.dir)],
    rootfs: root.rootfs,
    mounts: volumes.map((v) => v.mount),
    specJson: JSON.stringify({ ...input.spec, mounts: mounts.filter((m) => !isBind(m)) }),
  };
}

function isBind(mount: { readonly type?: string; readonly options?: readonly string[] }): boolean {
  const options = mount.options ?? [];
  return mount.type === 'bind' || options.includes('bind') || options.includes('rbind');
}

function optionValue(options: readonly string[], key: string): string | undefined {
  const found = options.find((o) => o.startsWith(`${key}=`));
  return found?.slice(key.length + 1);
}

function directory(share: string, name: string, source: string, readonly: boolean, recursive: boolean): ContainerDir {
  return { share, name, source, target: `${share}/${name}`, wrapsFile: false, recursive, readonly };
}

/** A directory of a share, as the agent names it. */
function refTo(dir: ContainerDir, path = ''): ShareRef {
  return { tag: dir.share, path: path === '' ? dir.name : `${dir.name}/${path}` };
}

function rootfsDirs(prefix: string, input: PlanInput): { dirs: ContainerDir[]; rootfs: Rootfs } {
  const mounts = input.rootfs;
  if (mounts.length === 0) {
    const dir = directory(DATA_TAG, `${prefix}-root`, bundleRoot(input), false, true);
    return { dirs: [dir], rootfs: directoryRootfs(dir) };
  }
  if (mounts.length > 1) {
    throw new SandboxError('bad-request', `rootfs: ${mounts.length} mounts given; vfs takes one overlay or bind mount`);
  }
  const mount = mounts[0] as MountSpec;
  if (mount.type === 'overlay') return overlayDirs(prefix, mount);
  if (isBind(mount)) {
    const dir = directory(
      DATA_TAG,
      `${prefix}-root`,
      mount.source,
      mount.options.includes('ro'),
      mount.options.includes('rbind'),
    );
    return { dirs: [dir], rootfs: directoryRootfs(dir) };
  }
  throw new SandboxError('bad-request', `rootfs: mount type "${mount.type}" is not supported (overlay or bind)`);
}

function bundleRoot(input: PlanInput): string {
  const path = input.spec.root?.path ?? 'rootfs';
  return isAbsolute(path) ? path : join(input.bundle, path);
}

function directoryRootfs(dir: ContainerDir): Rootfs {
  return { kind: { $case: 'directory', directory: { dir: refTo(dir), readonly: dir.readonly } } };
}

function overlayDirs(prefix: string, mount: MountSpec): { dirs: ContainerDir[]; rootfs: Rootfs } {
  const lowerdir = optionValue(mount.options, 'lowerdir');
  if (lowerdir === undefined || lowerdir === '')
    throw new SandboxError('bad-request', 'rootfs: overlay mount without lowerdir');
  const lowers = lowerdir.split(':').map((path, i) => directory(LAYERS_TAG, `${prefix}-l${i}`, path, true, false));
  const extra = mount.options.filter((o) => !OVERLAY_PATH_KEYS.some((k) => o.startsWith(`${k}=`)));
  const upperdir = optionValue(mount.options, 'upperdir');
  const workdir = optionValue(mount.options, 'workdir');
  const lower = lowers.map((dir) => refTo(dir));
  if (upperdir === undefined && workdir === undefined) {
    return { dirs: lowers, rootfs: { kind: { $case: 'overlay', overlay: { lower, options: extra } } } };
  }
  if (upperdir === undefined || workdir === undefined || dirname(upperdir) !== dirname(workdir)) {
    throw new SandboxError(
      'bad-request',
      `rootfs: overlay upperdir ${upperdir} and workdir ${workdir} must be siblings (one snapshot directory)`,
    );
  }
  const upper = directory(DATA_TAG, `${prefix}-up`, dirname(upperdir), false, false);
  return {
    dirs: [...lowers, upper],
    rootfs: {
      kind: {
        $case: 'overlay',
        overlay: {
          lower,
          upper: refTo(upper, basename(upperdir)),
          work: refTo(upper, basename(workdir)),
          options: extra,
        },
      },
    },
  };
}

function volumeDirs(prefix: string, mounts: readonly OciMount[]): { dir: ContainerDir; mount: ContainerMount }[] {
  return mounts.filter(isBind).map((m, i) => {
    if (m.source === undefined || !isAbsolute(m.source)) {
      throw new SandboxError(
        'bad-request',
        `mount ${m.destination}: a bind mount needs an absolute source, got ${JSON.stringify(m.source)}`,
      );
    }
    const options = m.options ?? [];
    const readonly = options.includes('ro');
    const wrapsFile = !isDirectory(m.source, m.destination);
    const plain = directory(DATA_TAG, `${prefix}-v${i}`, m.source, readonly, options.includes('rbind'));
    const dir: ContainerDir = { ...plain, wrapsFile };
    const passOn = options.filter((o) => !['bind', 'rbind', 'ro', 'rw'].includes(o));
    return {
      dir,
      mount: {
        source: refTo(dir),
        destination: m.destination,
        readonly,
        options: passOn,
      },
    };
  });
}

function isDirectory(source: string, destination: string): boolean {
  try {
    return statSync(source).isDirectory();
  } catch (err) {
    throw SandboxError.wrap(err, `mount ${destination}: bind source ${source}`, 'bad-request');
  }
}
