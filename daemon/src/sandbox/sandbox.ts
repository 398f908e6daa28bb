// The daemon's sandbox, in the order that works for Node:
//   namespace: re-exec under unshare (enterNamespaces, first thing in main) → the caller loads
//   everything and opens what needs the host's root → confine(): every thread but the main one
//   loses its capabilities, private root, pivot_root, the main thread drops to the kept set →
//   seccomp with TSYNC → serve.
//   chroot: the same private root, entered with chroot, in the mount namespace the runtime made.
import { mkdtempSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SandboxMode, SeccompAction } from '../cli';
import { type CapabilityChanges, dropCapabilities } from './capabilities';
import { inNewNamespaces, reexecInNewNamespaces, watchLifeline } from './namespaces';
import { dropOtherThreadsCapabilities } from './other_threads';
import { chrootInto, pivotInto } from './pivot_root';
import { buildPrivateRoot, sealRoot, SHARE_MOUNT } from './private_root';
import { installSeccomp } from './seccomp';
import { SandboxError } from './errors';

/** In our own mount namespace the tmpfs may cover /tmp: its sources are held as fds. */
const NAMESPACE_ROOT_MOUNTPOINT = '/tmp';

export interface SandboxPlan {
  readonly mode: SandboxMode;
  readonly seccomp: SeccompAction;
  readonly sharedDir: string;
  /** Directories in which vhost-user sockets are created once confined. */
  readonly socketDirs: readonly string[];
  /** Inodes are held as file handles: CAP_DAC_READ_SEARCH stays. */
  readonly fileHandles: boolean;
  /** --modcaps: capabilities kept besides virtiofsd's set, or dropped from it. */
  readonly capabilityChanges: CapabilityChanges;
}

export interface Confinement {
  /** The shared directory as the confined daemon reaches it. */
  readonly sharedDir: string;
  /** How many system calls the seccomp filter allows (0: no filter). */
  readonly syscalls: number;
}

let inOwnNamespaces = false;

/**
 * namespace mode: re-executes the daemon in new namespaces (keeping `inheritedFds` open) unless
 * this already is that daemon. The re-executed daemon hears through `onParentGone` that unshare,
 * the pid its supervisor holds, has died.
 */
export function enterNamespaces(mode: SandboxMode, inheritedFds: readonly number[], onParentGone: () => void): void {
  if (mode !== 'namespace') return;
  if (!inNewNamespaces()) reexecInNewNamespaces(inheritedFds);
  watchLifeline(onParentGone);
  inOwnNamespaces = true;
}

/** The mount namespace of `pid`, or null when we may not look (pid 1 of a host that hides it). */
function mountNamespaceOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EACCES') return null;
    throw err;
  }
}

/**
 * chroot mode mounts its root in the current mount namespace: it must be one made for the daemon,
 * not the one of our parent or of pid 1 (the host's).
 */
function chrootMountpoint(): string {
  const ours = readlinkSync('/proc/self/ns/mnt');
  if ([process.ppid, 1].some((pid) => mountNamespaceOf(pid) === ours)) {
    throw new SandboxError(
      '--sandbox=chroot builds its root with mounts in the current mount namespace, which is shared with its parent or pid 1: run it in a mount namespace of its own (e.g. unshare --mount), or use --sandbox=namespace',
    );
  }
  // Left behind, empty: it is the mountpoint of our root in this namespace (rmdir is EBUSY while
  // we run) and the host's /tmp is out of reach once we are chrooted. The namespace's owner, the
  // runtime, removes it with the namespace.
  return mkdtempSync(join(tmpdir(), 'vfs-virtiofsd-root-'));
}

function enterPrivateRoot(plan: SandboxPlan): void {
  // While the host's /proc is there to check every thread.
  dropOtherThreadsCapabilities();
  const contents = {
    sharedDir: plan.sharedDir,
    writable: plan.socketDirs,
  };
  if (plan.mode === 'namespace') {
    // pivot_root in the host's mount namespace would move the host's root.
    if (!inOwnNamespaces)
      throw new SandboxError('--sandbox=namespace: not in namespaces of our own (enterNamespaces first)');
    buildPrivateRoot(NAMESPACE_ROOT_MOUNTPOINT, contents);
    pivotInto(NAMESPACE_ROOT_MOUNTPOINT);
  } else {
    const root = chrootMountpoint();
    buildPrivateRoot(root, contents);
    chrootInto(root);
  }
  sealRoot();
  dropCapabilities(plan.fileHandles, plan.capabilityChanges);
}

/** Confines the running daemon; everything it needs from the host's root is open or listed. */
export function confine(plan: SandboxPlan): Confinement {
  if (plan.mode !== 'none') enterPrivateRoot(plan);
  const syscalls = plan.seccomp === 'none' ? 0 : installSeccomp(plan.seccomp);
  return { sharedDir: plan.mode === 'none' ? plan.sharedDir : SHARE_MOUNT, syscalls };
}
