// mount(2), mount_setattr(2), umount2(2), pivot_root(2) and chroot(2): what the sandbox builds its
// private root with.
import { AT_FDCWD } from './fs';
import { check, libc } from './libc';

const SYS_pivot_root = 155;
const SYS_mount_setattr = 442;

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MNT_DETACH = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
/** mount_setattr(2): the whole tree of mounts below the path, not only the one on it. */
export const AT_RECURSIVE = 0x8000;
/** struct mount_attr: attr_set, attr_clr, propagation, userns_fd (u64 each). */
const MOUNT_ATTR_SIZE = 32;

const mountFn = libc.func(
  'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
);
const umount2Fn = libc.func('int umount2(const char *target, int flags)');
const chrootFn = libc.func('int chroot(const char *path)');
const pivotRootFn = libc.func('long syscall(long nr, const char *new_root, const char *put_old)');
const mountSetattrFn = libc.func(
  'long syscall(long nr, int dfd, const char *path, unsigned int flags, void *attr, size_t size)',
);

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  check(
    mountFn(source, target, fstype, flags, data),
    `mount(${source ?? 'none'}, "${target}", ${fstype ?? 'none'}, 0x${flags.toString(16)})`,
  );
}

/**
 * Adds the MOUNT_ATTR_* flags in `set` to the mount on `target` (and with AT_RECURSIVE to every
 * mount below it), leaving its other flags and its propagation as they are: unlike a remount,
 * which replaces the per-mount flags as a whole.
 */
export function mountSetattr(target: string, flags: number, set: number): void {
  const attr = Buffer.alloc(MOUNT_ATTR_SIZE);
  attr.writeBigUInt64LE(BigInt(set), 0);
  check(
    Number(mountSetattrFn(SYS_mount_setattr, AT_FDCWD, target, flags, attr, MOUNT_ATTR_SIZE)),
    `mount_setattr("${target}", 0x${flags.toString(16)}, set 0x${set.toString(16)})`,
  );
}

export function umount2(target: string, flags: number): void {
  check(umount2Fn(target, flags), `umount2("${target}", ${flags})`);
}

export function pivotRoot(newRoot: string, putOld: string): void {
  check(Number(pivotRootFn(SYS_pivot_root, newRoot, putOld)), `pivot_root("${newRoot}", "${putOld}")`);
}

export function chroot(path: string): void {
  check(chrootFn(path), `chroot("${path}")`);
}
