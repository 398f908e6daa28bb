/**
 * The container's root filesystem, assembled by the launcher inside the container's own mount
 * namespace (so it vanishes with the container and no guest-wide cleanup is needed):
 *  - overlay: read-only lower dirs (mounted virtio-fs shares, top-most first) under a read-write
 *    upper/work pair on a read-write share. `userxattr` because virtio-fs uppers keep overlay
 *    metadata in user.* xattrs (trusted.* needs CAP_SYS_ADMIN in the daemon's namespace);
 *  - bind: one read-write directory used as is.
 * The stage is a tmpfs over STAGE_DIR, private to the new namespace; see launcher fs_ops.c for
 * why pivot_root needs it on an initramfs guest.
 */
import { ContainerError } from './errors';
import { step, type PlanStep } from './launch_plan';
import { MS_BIND, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT } from './mount_options';

export const STAGE_DIR = '/run/vfs/stage';
const STAGE_ROOT = 'root';
/** Mount data is limited to one page. */
const MOUNT_DATA_MAX = 4095;

export type RootfsSpec =
  | {
      readonly kind: 'overlay';
      readonly lowerDirs: readonly string[];
      /** Both or neither: without them the overlay is read-only (two lower dirs at least). */
      readonly upperDir?: string;
      readonly workDir?: string;
      /** Extra overlay options (the snapshotter's `index=off`…). */
      readonly options?: readonly string[];
    }
  | { readonly kind: 'bind'; readonly source: string };

type OverlayRootfs = Extract<RootfsSpec, { kind: 'overlay' }>;

function checkPath(path: string, what: string): void {
  if (!path.startsWith('/') || /[,:\0]/.test(path)) {
    throw new ContainerError('INVALID_SPEC', `rootfs ${what} "${path}" must be absolute and free of ',' ':' NUL`);
  }
}

function checkOption(option: string): void {
  if (option === '' || /[,\0]/.test(option) || /^(lowerdir|upperdir|workdir)=/.test(option)) {
    throw new ContainerError('INVALID_SPEC', `overlay option "${option}" is not allowed`);
  }
}

function upperOptions(rootfs: OverlayRootfs): string[] {
  const { upperDir, workDir } = rootfs;
  if (upperDir === undefined && workDir === undefined) {
    if (rootfs.lowerDirs.length < 2)
      throw new ContainerError('INVALID_SPEC', 'a read-only overlay rootfs needs two lower dirs at least');
    return [];
  }
  if (upperDir === undefined || workDir === undefined)
    throw new ContainerError('INVALID_SPEC', 'overlay rootfs needs both upperDir and workDir, or neither');
  checkPath(upperDir, 'upperDir');
  checkPath(workDir, 'workDir');
  return [`upperdir=${upperDir}`, `workdir=${workDir}`];
}

function overlayData(rootfs: OverlayRootfs): string {
  if (rootfs.lowerDirs.length === 0)
    throw new ContainerError('INVALID_SPEC', 'overlay rootfs needs at least one lower dir');
  for (const [i, dir] of rootfs.lowerDirs.entries()) checkPath(dir, `lowerDirs[${i}]`);
  const extra = rootfs.options ?? [];
  extra.forEach(checkOption);
  const data = ['userxattr', ...extra, `lowerdir=${rootfs.lowerDirs.join(':')}`, ...upperOptions(rootfs)].join(',');
  if (data.length > MOUNT_DATA_MAX) {
    throw new ContainerError(
      'INVALID_SPEC',
      `overlay options are ${data.length} bytes, over the ${MOUNT_DATA_MAX}-byte limit`,
    );
  }
  return data;
}

/** Steps from a private mount tree to the rootfs mounted on the stage, before the bind opens. */
export function rootfsSteps(rootfs: RootfsSpec): PlanStep[] {
  const root = `${STAGE_DIR}/${STAGE_ROOT}`;
  return [
    step('mount', '', '/', '', MS_REC | MS_PRIVATE, ''),
    step('mount', 'tmpfs', STAGE_DIR, 'tmpfs', 0, 'mode=0700'),
    step('mkdirp', root, '700'),
    rootMountStep(rootfs, root),
  ];
}

function rootMountStep(rootfs: RootfsSpec, root: string): PlanStep {
  if (rootfs.kind === 'overlay') return step('mount', 'overlay', root, 'overlay', 0, overlayData(rootfs));
  checkPath(rootfs.source, 'source');
  return step('mount', rootfs.source, root, '', MS_BIND | MS_REC, '');
}

export function pivotStep(): PlanStep {
  return step('pivot', STAGE_DIR, STAGE_ROOT);
}

/** spec.root.readonly: the root mount goes read-only after everything is mounted on it. */
export function readonlyRootStep(): PlanStep {
  return step('mount', '', '/', '', MS_BIND | MS_REMOUNT | MS_RDONLY, '');
}
