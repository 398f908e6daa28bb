// What a container needs from the host, as virtio-fs shares, and how the guest agent uses them.
// Pure planning (plus a stat of bind sources): nothing is mounted or exported here.
// - overlay snapshot (`lowerdir=a:b:c,upperdir=…/fs,workdir=…/work`): one read-only share per
//   lower layer (immutable: cache=always), and one read-write share of the directory holding
//   upperdir and workdir, so both are on one guest mount as overlayfs requires; xattrs on, since
//   the guest's overlay keeps its metadata in user.* xattrs (`userxattr`, DESIGN §3), and on
//   read-write shares only those (USER_XATTRS_ONLY);
// - a bind mount (native snapshotter, or a View) or no mount at all (the bundle's own rootfs):
//   one share used as the root directory;
// - OCI bind mounts of the spec (volumes): one share each; a file is shared through a directory
//   of its own holding only it, so no sibling of the file is exposed.
// Tags are `c<container index>-<role>`: unique in the sandbox and far below virtio-fs's 36 bytes.

import { statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import type { ContainerMount, Rootfs } from '@vfs/proto/gen/agent/agent';
import type { CacheMode } from '@vfs/contracts';
import type { MountSpec } from '../host_mounts';
import type { OciMount, OciSpec } from '../oci_spec';
import { Code, ShimError } from '../shim_error';

/** Where the guest agent mounts the share of a tag. */
export const GUEST_SHARES_DIR = '/run/vfs/shares';
/** A shared file's name inside its wrapping directory. */
const WRAPPED_FILE = 'file';
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

export interface PlannedShare {
  readonly tag: string;
  /** Host path bind-mounted into the daemon's shared dir. */
  readonly source: string;
  /** The bind mount's target, relative to the shared dir: `<tag>`, or `<tag>/file` for a file. */
  readonly target: string;
  readonly wrapsFile: boolean;
  readonly recursive: boolean;
  readonly readonly: boolean;
  readonly cache: CacheMode;
  readonly xattr: boolean;
  /** Absent: every xattr name passes (read-only shares: the guest cannot set any). */
  readonly xattrmap?: string;
}

export interface ContainerSharePlan {
  readonly shares: readonly PlannedShare[];
  readonly rootfs: Rootfs;
  readonly mounts: readonly ContainerMount[];
  /** config.json without the host bind mounts, which travel as `mounts`. */
  readonly specJson: string;
}

export interface PlanInput {
  readonly containerIndex: number;
  readonly bundle: string;
  readonly rootfs: readonly MountSpec[];
  readonly spec: OciSpec;
  /** The configured cache mode for read-write shares. */
  readonly cache: CacheMode;
}

const OVERLAY_PATH_KEYS = ['lowerdir', 'upperdir', 'workdir'];

export function planContainerShares(input: PlanInput): ContainerSharePlan {
  const prefix = `c${input.containerIndex}`;
  const mounts = input.spec.mounts ?? [];
  const root = rootfsShares(prefix, input);
  const volumes = volumeShares(prefix, mounts, input.cache);
  return {
    shares: [...root.shares, ...volumes.map((v) => v.share)],
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

function xattrPolicy(readonly: boolean): { xattr: true; xattrmap?: string } {
  return readonly ? { xattr: true } : { xattr: true, xattrmap: USER_XATTRS_ONLY };
}

function directoryShare(tag: string, source: string, readonly: boolean, cache: CacheMode, recursive: boolean): PlannedShare {
  return { tag, source, target: tag, wrapsFile: false, recursive, readonly, cache, ...xattrPolicy(readonly) };
}

function rootfsShares(prefix: string, input: PlanInput): { shares: PlannedShare[]; rootfs: Rootfs } {
  const mounts = input.rootfs;
  if (mounts.length === 0) {
    const share = directoryShare(`${prefix}-root`, bundleRoot(input), false, input.cache, true);
    return { shares: [share], rootfs: directoryRootfs(share) };
  }
  if (mounts.length > 1) {
    throw new ShimError(Code.InvalidArgument, `rootfs: ${mounts.length} mounts given; vfs takes one overlay or bind mount`);
  }
  const mount = mounts[0] as MountSpec;
  if (mount.type === 'overlay') return overlayShares(prefix, mount, input.cache);
  if (isBind(mount)) {
    const share = directoryShare(`${prefix}-root`, mount.source, mount.options.includes('ro'), input.cache, mount.options.includes('rbind'));
    return { shares: [share], rootfs: directoryRootfs(share) };
  }
  throw new ShimError(Code.InvalidArgument, `rootfs: mount type "${mount.type}" is not supported (overlay or bind)`);
}

function bundleRoot(input: PlanInput): string {
  const path = input.spec.root?.path ?? 'rootfs';
  return isAbsolute(path) ? path : join(input.bundle, path);
}

function directoryRootfs(share: PlannedShare): Rootfs {
  return { kind: { $case: 'directory', directory: { dir: { tag: share.tag, path: '' }, readonly: share.readonly } } };
}

function overlayShares(prefix: string, mount: MountSpec, cache: CacheMode): { shares: PlannedShare[]; rootfs: Rootfs } {
  const lowerdir = optionValue(mount.options, 'lowerdir');
  if (lowerdir === undefined || lowerdir === '') throw new ShimError(Code.InvalidArgument, 'rootfs: overlay mount without lowerdir');
  const lowers = lowerdir.split(':').map((dir, i) => directoryShare(`${prefix}-l${i}`, dir, true, 'always', false));
  const extra = mount.options.filter((o) => !OVERLAY_PATH_KEYS.some((k) => o.startsWith(`${k}=`)));
  const upperdir = optionValue(mount.options, 'upperdir');
  const workdir = optionValue(mount.options, 'workdir');
  const lower = lowers.map((s) => ({ tag: s.tag, path: '' }));
  if (upperdir === undefined && workdir === undefined) {
    return { shares: lowers, rootfs: { kind: { $case: 'overlay', overlay: { lower, options: extra } } } };
  }
  if (upperdir === undefined || workdir === undefined || dirname(upperdir) !== dirname(workdir)) {
    throw new ShimError(Code.InvalidArgument, `rootfs: overlay upperdir ${upperdir} and workdir ${workdir} must be siblings (one snapshot directory)`);
  }
  const upper = directoryShare(`${prefix}-up`, dirname(upperdir), false, cache, false);
  return {
    shares: [...lowers, upper],
    rootfs: {
      kind: {
        $case: 'overlay',
        overlay: { lower, upper: { tag: upper.tag, path: basename(upperdir) }, work: { tag: upper.tag, path: basename(workdir) }, options: extra },
      },
    },
  };
}

function volumeShares(prefix: string, mounts: readonly OciMount[], cache: CacheMode): { share: PlannedShare; mount: ContainerMount }[] {
  return mounts.filter(isBind).map((m, i) => {
    if (m.source === undefined || !isAbsolute(m.source)) {
      throw new ShimError(Code.InvalidArgument, `mount ${m.destination}: a bind mount needs an absolute source, got ${JSON.stringify(m.source)}`);
    }
    const options = m.options ?? [];
    const readonly = options.includes('ro');
    const tag = `${prefix}-v${i}`;
    const wrapsFile = !isDirectory(m.source, m.destination);
    const share: PlannedShare = {
      tag,
      source: m.source,
      target: wrapsFile ? join(tag, WRAPPED_FILE) : tag,
      wrapsFile,
      recursive: options.includes('rbind'),
      readonly,
      cache,
      ...xattrPolicy(readonly),
    };
    const passOn = options.filter((o) => !['bind', 'rbind', 'ro', 'rw'].includes(o));
    return { share, mount: { source: { tag, path: wrapsFile ? WRAPPED_FILE : '' }, destination: m.destination, readonly, options: passOn } };
  });
}

function isDirectory(source: string, destination: string): boolean {
  try {
    return statSync(source).isDirectory();
  } catch (err) {
    throw ShimError.wrap(err, `mount ${destination}: bind source ${source}`, Code.InvalidArgument);
  }
}
