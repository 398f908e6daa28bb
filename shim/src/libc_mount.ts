// The mount calls the shim makes for a sandbox, as system calls through koffi (bound on first use,
// libc.ts): each mount(8) or umount(8) run is a fork and exec, ≈ 15–25 ms here, and a container's
// set-up and teardown made several of them on the path `ctr` waits for.
import { errnoName, libc as loadLibc } from './libc';

const MS_BIND = 0x1000;
const MS_MOVE = 0x2000;
const MS_REC = 0x4000;
const MS_PRIVATE = 0x40000;
const MS_SHARED = 0x100000;
const MNT_DETACH = 0x2;
const UMOUNT_NOFOLLOW = 0x8;
const AT_FDCWD = -100;
const AT_RECURSIVE = 0x8000;
// Linux 5.12; syscalls added since 5.1 have one number on every architecture.
const SYS_mount_setattr = 442;
/** struct mount_attr, version 0: attr_set, attr_clr, propagation, userns_fd (u64 each). */
const MOUNT_ATTR_SIZE_VER0 = 32;

export const MOUNT_ATTR = { ro: 0x1, nosuid: 0x2, nodev: 0x4 } as const;
export type MountAttr = keyof typeof MOUNT_ATTR;

/** A failed mount call: `what` names the call and its paths, `code` the errno's name. */
export class MountCallError extends Error {
  constructor(
    readonly what: string,
    readonly code: string,
  ) {
    super(`${what}: ${code}`);
    this.name = 'MountCallError';
  }
}

interface Calls {
  mount(source: string | null, target: string, flags: number): number;
  mountFs(source: string, target: string, type: string, flags: number, data: string): number;
  umount2(target: string, flags: number): number;
  mountSetattr(target: string, flags: number, attr: Buffer): number;
}

let bound: Calls | undefined;

function calls(): Calls {
  bound ??= bind();
  return bound;
}

function bind(): Calls {
  const { lib: libc, orErrno } = loadLibc();
  const mount = libc.func(
    'int mount(const char *source, const char *target, const char *type, unsigned long flags, const void *data)',
  );
  // The same call, with file-system data as a string (mount options).
  const mountWithData = libc.func('mount', 'int', [
    'const char *',
    'const char *',
    'const char *',
    'unsigned long',
    'const char *',
  ]);
  const umount2 = libc.func('int umount2(const char *target, int flags)');
  // syscall(2) is a register shuffle in glibc, so a fixed prototype per call is safe on 64-bit ABIs.
  const setattr = libc.func('syscall', 'long', ['long', 'int', 'const char *', 'uint', 'void *', 'size_t']);
  return {
    mount: (source, target, flags) => orErrno(mount(source, target, null, flags, null)),
    mountFs: (source, target, type, flags, data) => orErrno(mountWithData(source, target, type, flags, data)),
    umount2: (target, flags) => orErrno(umount2(target, flags)),
    mountSetattr: (target, flags, attr) =>
      orErrno(setattr(SYS_mount_setattr, AT_FDCWD, target, flags, attr, MOUNT_ATTR_SIZE_VER0)),
  };
}

function check(result: number, what: string): void {
  if (result < 0) throw new MountCallError(what, errnoName(-result));
}

/** A bind mount of `source` on `target` (with its submounts when `recursive`). */
export function bindMount(source: string, target: string, recursive: boolean): void {
  const flags = MS_BIND | (recursive ? MS_REC : 0);
  check(
    calls().mount(source, target, flags),
    `mount(${recursive ? 'MS_BIND|MS_REC' : 'MS_BIND'}, ${source} → ${target})`,
  );
}

/**
 * Adds per-mount flags to `target` (and every mount below it when `recursive`), keeping the ones
 * each mount has: mount_setattr(2) sets only what it is given (a read-only submount stays so).
 */
export function addMountAttrs(target: string, attrs: readonly MountAttr[], recursive: boolean): void {
  const attr = Buffer.alloc(MOUNT_ATTR_SIZE_VER0);
  attr.writeUInt32LE(
    attrs.reduce((set, name) => set | MOUNT_ATTR[name], 0),
    0,
  );
  check(
    calls().mountSetattr(target, recursive ? AT_RECURSIVE : 0, attr),
    `mount_setattr(${target}${recursive ? ', AT_RECURSIVE' : ''}, ${attrs.join(',')})`,
  );
}

const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MS_NOEXEC = 0x8;

/** A tmpfs of at most `sizeBytes` on `target`, nosuid,nodev,noexec, mode 0700. */
export function mountTmpfs(source: string, target: string, sizeBytes: number): void {
  check(
    calls().mountFs(source, target, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, `size=${sizeBytes},mode=0700`),
    `mount(tmpfs size=${sizeBytes}, ${target})`,
  );
}

/** mount --move. */
export function moveMountCall(from: string, to: string): void {
  check(calls().mount(from, to, MS_MOVE), `mount(MS_MOVE, ${from} → ${to})`);
}

/** Makes `target` (and every mount below it when `recursive`) a shared or a private mount point. */
export function setPropagation(target: string, propagation: 'shared' | 'private', recursive: boolean): void {
  const flag = (propagation === 'shared' ? MS_SHARED : MS_PRIVATE) | (recursive ? MS_REC : 0);
  const name = `MS_${propagation.toUpperCase()}${recursive ? '|MS_REC' : ''}`;
  check(calls().mount(null, target, flag), `mount(${name}, ${target})`);
}

/**
 * umount2(2); `lazy` detaches a busy mount (MNT_DETACH). Resolves the errno's name, or '' on
 * success. A symlink at `target` is not followed (UMOUNT_NOFOLLOW): a mount point in a share that
 * is gone may have been replaced by a link the guest made to a host mount.
 */
export function unmountCall(target: string, lazy: boolean): string {
  const result = calls().umount2(target, UMOUNT_NOFOLLOW | (lazy ? MNT_DETACH : 0));
  return result < 0 ? errnoName(-result) : '';
}

/**
 * Detaches the mount on the inode the descriptor `fd` names (opened before the mount), through the
 * magic link /proc/self/fd/<fd>: wherever that inode's name is now. Resolves the errno's name, or ''.
 */
export function detachOpenedCall(fd: number): string {
  const result = calls().umount2(`/proc/self/fd/${fd}`, MNT_DETACH);
  return result < 0 ? errnoName(-result) : '';
}
