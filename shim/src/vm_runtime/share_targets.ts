// Mount points in the daemon's shared dir, made and removed without following anything the guest
// may have put there. A read-write share's directory is the guest's to write (through the daemon),
// and the names the shim binds into it are predictable (c<index>-<role>). A symlink the guest
// planted at such a name would send a container's snapshot, bound by the shim as root, onto any
// host directory (mkdir -p and mount(2) both follow it), and a recursive delete after the unmount
// could be led out of the share the same way. So below the shared dir each component is made with
// mkdir or O_CREAT|O_EXCL (neither follows a symlink), opened with O_PATH|O_NOFOLLOW and checked
// to be of the kind expected, and used through /proc/self/fd/<fd>: the very directory or file
// opened, wherever the guest moves its name meanwhile (runc mounts into a rootfs the same way).
// A mount point is removed with rmdir(2) or unlink(2), which never follow the last component,
// below its checked parent; one the guest left anything in stays for the sandbox's teardown,
// which removes the whole shared dir once QEMU and the daemon are gone.

import { closeSync, constants, fstatSync, mkdirSync, openSync, rmdirSync, unlinkSync } from 'node:fs';
import { SandboxError } from '../sandbox_error';

/** Linux's O_PATH (not in Node's fs.constants): a handle for path operations only. */
export const O_PATH = 0o10000000;
/** libuv adds O_CLOEXEC to every open. */
const HANDLE = O_PATH | constants.O_NOFOLLOW;

type Kind = 'directory' | 'file';

/** The path of the open file `fd`, or of `name` in the open directory `fd`. */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'unknown';
}

/** A target's components below the shared dir: plain names only (the shim makes them). */
function components(target: string): string[] {
  const parts = target.split('/');
  if (parts.some((name) => name === '' || name === '.' || name === '..'))
    throw new SandboxError('host-failure', `share target ${JSON.stringify(target)} is not a plain relative path`);
  return parts;
}

/** Creates `name` in the directory `dirFd` unless something is there already (never through a symlink). */
function make(dirFd: number, name: string, kind: Kind, target: string): void {
  try {
    if (kind === 'directory') mkdirSync(fdPath(dirFd, name), { mode: 0o700 });
    else
      closeSync(
        openSync(
          fdPath(dirFd, name),
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        ),
      );
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST')
      throw SandboxError.wrap(err, `share target ${target}: make ${name}`, 'host-failure');
  }
}

/** Opens `name` in the directory `dirFd` without following it, and checks that it is a `kind`. */
function openChild(dirFd: number, name: string, kind: Kind, target: string): number {
  const refused = (): SandboxError =>
    new SandboxError(
      'host-failure',
      `share target ${target}: ${name} is not a ${kind} (a symlink or another file made from the guest?): refusing to use it`,
    );
  let fd: number;
  try {
    fd = openSync(fdPath(dirFd, name), HANDLE | (kind === 'directory' ? constants.O_DIRECTORY : 0));
  } catch (err) {
    if (errnoCode(err) === 'ENOTDIR') throw refused();
    throw err;
  }
  const stat = fstatSync(fd);
  if (kind === 'directory' ? stat.isDirectory() : stat.isFile()) return fd;
  closeSync(fd);
  throw refused();
}

/** Opens the shared dir and walks `names` below it, each a directory; the caller closes the fd. */
function openDirs(sharesDir: string, names: readonly string[], target: string, create: boolean): number {
  let fd = openSync(sharesDir, HANDLE | constants.O_DIRECTORY);
  try {
    for (const name of names) {
      if (create) make(fd, name, 'directory', target);
      const next = openChild(fd, name, 'directory', target);
      closeSync(fd);
      fd = next;
    }
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * Makes the mount point `target` (relative to `sharesDir`: directories, and a file last when the
 * bind wraps one) and opens it. Mount onto `fdPath(fd)`, then close the fd.
 */
export function openShareTarget(sharesDir: string, target: string, wrapsFile: boolean): number {
  try {
    const parts = components(target);
    const last = parts.pop() as string;
    const kind: Kind = wrapsFile ? 'file' : 'directory';
    const dirFd = openDirs(sharesDir, parts, target, true);
    try {
      make(dirFd, last, kind, target);
      return openChild(dirFd, last, kind, target);
    } finally {
      closeSync(dirFd);
    }
  } catch (err) {
    throw err instanceof SandboxError ? err : SandboxError.wrap(err, `share target ${target}`, 'host-failure');
  }
}

/** What leaves a mount point in place without harm: gone, replaced, or holding what the guest put there. */
const LEFT_FOR_TEARDOWN = new Set(['ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR', 'EISDIR', 'EBUSY', 'ELOOP']);

/**
 * Removes the mount point `target` once it is unmounted: rmdir(2) or unlink(2) of its last
 * component below its checked parent. Returns false when it stays (see LEFT_FOR_TEARDOWN).
 */
export function removeShareTarget(sharesDir: string, target: string, wrapsFile: boolean): boolean {
  const parts = components(target);
  const last = parts.pop() as string;
  let dirFd: number;
  try {
    dirFd = openDirs(sharesDir, parts, target, false);
  } catch (err) {
    if (err instanceof SandboxError || LEFT_FOR_TEARDOWN.has(errnoCode(err))) return false;
    throw SandboxError.wrap(err, `share target ${target}`, 'host-failure');
  }
  try {
    (wrapsFile ? unlinkSync : rmdirSync)(fdPath(dirFd, last));
    return true;
  } catch (err) {
    if (LEFT_FOR_TEARDOWN.has(errnoCode(err))) return false;
    throw SandboxError.wrap(err, `share target ${target}: remove`, 'host-failure');
  } finally {
    closeSync(dirFd);
  }
}
