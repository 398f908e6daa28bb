// The daemon's private root: a small tmpfs holding only what the daemon needs once it has left
// the host's root, so a compromised daemon sees nothing else of the host:
//   /shared        the shared directory, bound recursively: host mounts made below it later
//                  (the shim binds container layers there, nodev) still propagate in; nodev on
//                  every mount below it, so a device node the guest makes opens no host device
//                  through the daemon's view even if the daemon tried
//   /proc/self/fd  only the daemon's fd directory of a procfs, read-only (it re-opens O_PATH
//                  inodes), as virtiofsd binds it: no /proc/sys, no other process, no sysctl
//   <host paths>   writable: the directory of the vhost-user sockets exports add at run time
// Nothing of the daemon's own code: it is loaded before, and no thread starts from a file after.
// Sources are opened before the tmpfs is mounted, and bound through /proc/self/fd, so the tmpfs
// may cover the directories they live in.
import { mkdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, sep } from 'node:path';
import { closeAll } from '../sys/fd';
import { AT_FDCWD, cPath, O_CLOEXEC, O_PATH, openat } from '../sys/fs';
import { SysError } from '../sys/libc';
import {
  AT_RECURSIVE,
  MNT_DETACH,
  MOUNT_ATTR_NODEV,
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  mount,
  mountSetattr,
  umount2,
} from '../sys/mount';
import { SandboxError } from './errors';

/** Where the shared directory appears inside the private root. */
export const SHARE_MOUNT = '/shared';
const PROC_MOUNT = '/proc';
const PROC_SELF_FD = '/proc/self/fd';
/** Where the whole procfs is mounted only long enough to bind its self/fd. */
const PROCFS_STAGING = '/.procfs';
const TMPFS_OPTIONS = 'mode=0755,size=1m,nr_inodes=4096';
const HARDENED = MS_NOSUID | MS_NODEV;

export interface RootContents {
  readonly sharedDir: string;
  readonly writable: readonly string[];
}

interface Source {
  readonly path: string;
  readonly fd: number;
  readonly isDir: boolean;
}

function overlaps(a: string, b: string): boolean {
  const inside = (p: string, dir: string): boolean => p === dir || p.startsWith(dir + sep);
  return inside(a, b) || inside(b, a);
}

/** A host path must not be `/` nor land on or around the share or /proc of the private root. */
function checkPlacement(path: string): void {
  if (!isAbsolute(path) || path === sep)
    throw new SandboxError(`cannot expose "${path}" in the sandbox root: not an absolute path below /`, path);
  for (const reserved of [SHARE_MOUNT, PROC_MOUNT, PROCFS_STAGING]) {
    if (overlaps(path, reserved))
      throw new SandboxError(`cannot expose "${path}" in the sandbox root: it collides with ${reserved} there`, path);
  }
}

function openSource(path: string): Source {
  const fd = openat(AT_FDCWD, cPath(path), O_PATH | O_CLOEXEC);
  if (fd < 0) throw new SysError(`openat("${path}", O_PATH)`, -fd);
  return { path, fd, isDir: statSync(path).isDirectory() };
}

function createTarget(target: string, isDir: boolean): void {
  if (isDir) {
    mkdirSync(target, { recursive: true });
  } else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, '');
  }
}

function bindSource(root: string, at: string, source: Source, extraFlags: number): void {
  const target = join(root, at);
  createTarget(target, source.isDir);
  mount(`/proc/self/fd/${source.fd}`, target, null, MS_BIND | extraFlags);
}

/** Per-mount flags of a bind are set by a remount of the bind itself. */
function restrictBind(root: string, at: string, flags: number): void {
  mount(null, join(root, at), null, MS_REMOUNT | MS_BIND | flags);
}

/**
 * /proc/self/fd of a procfs of our pid namespace, alone and read-only: the procfs itself is
 * detached again, so nothing else of it (/proc/sys/kernel/core_pattern…) is reachable.
 */
function mountProcSelfFd(root: string): void {
  const staging = join(root, PROCFS_STAGING);
  const target = join(root, PROC_SELF_FD);
  mkdirSync(staging);
  mkdirSync(target, { recursive: true });
  mount('proc', staging, 'proc', HARDENED | MS_NOEXEC);
  try {
    mount(join(staging, 'self/fd'), target, null, MS_BIND);
    restrictBind(root, PROC_SELF_FD, HARDENED | MS_NOEXEC | MS_RDONLY);
  } finally {
    umount2(staging, MNT_DETACH);
    rmdirSync(staging);
  }
}

/** Mounts the private root on `mountpoint` and fills it; the caller then enters it. */
export function buildPrivateRoot(mountpoint: string, contents: RootContents): void {
  for (const path of contents.writable) checkPlacement(path);
  const share = openSource(contents.sharedDir);
  const writable = contents.writable.map(openSource);
  try {
    mount('tmpfs', mountpoint, 'tmpfs', HARDENED | MS_NOEXEC, TMPFS_OPTIONS);
    for (const s of writable) {
      bindSource(mountpoint, s.path, s, 0);
      restrictBind(mountpoint, s.path, HARDENED | MS_NOEXEC);
    }
    // Not a remount, which would replace the host's flags (ro…): the share keeps them and its
    // propagation, as the guest expects, and only gains nodev.
    bindSource(mountpoint, SHARE_MOUNT, share, MS_REC);
    mountSetattr(join(mountpoint, SHARE_MOUNT), AT_RECURSIVE, MOUNT_ATTR_NODEV);
    mountProcSelfFd(mountpoint);
  } finally {
    closeAll([share, ...writable].map((s) => s.fd));
  }
}

/** Once inside: the tmpfs itself becomes read-only (the binds keep their own flags). */
export function sealRoot(): void {
  mount(null, '/', null, MS_REMOUNT | MS_BIND | MS_RDONLY | HARDENED | MS_NOEXEC);
}
