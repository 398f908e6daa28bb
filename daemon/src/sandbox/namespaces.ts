// namespace mode runs the daemon under util-linux unshare (@vfs/contracts daemon_launch.ts): a
// supervisor may start it so (the shim does), else the daemon execve()s `unshare UNSHARE_ARGS --
// node <bundle> <same arguments>` itself (same pid, so its supervisor's handle stays valid).
// slave propagation: host mounts made later below the shared directory still reach the daemon,
// and nothing the daemon mounts reaches the host. The daemon finds the namespaces it left in
// OUTER_NAMESPACES_ENV and checks it is outside them before it touches any mount: a pivot_root
// in the host's namespace would move the host's root.
// The re-executed daemon dies with unshare, its parent (so that SIGKILL of the pid a supervisor
// started ends the daemon) by a lifeline, a pipe whose write end only unshare keeps
// (watchLifeline). A daemon a supervisor started under unshare has only unshare's --kill-child
// signal, which the kernel forgets at each change of the main thread's ids and the daemon sets
// again (sys/parent_death.ts).
import { accessSync, constants } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { namespaceIds, OUTER_NAMESPACES_ENV, SANDBOX_NAMESPACES, UNSHARE_ARGS } from '@vfs/contracts';
import { execve, inheritablePipe, keepAcrossExec } from '../sys/exec';
import { close } from '../sys/fd';
import { SandboxError } from './errors';

const FALLBACK_PATH = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];
/** "READ WRITE": the lifeline's fds, from the daemon that re-executed itself to the one it became. */
const LIFELINE_ENV = 'VFS_VIRTIOFSD_LIFELINE';

function findUnshare(): string {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter((d) => d !== ''), ...FALLBACK_PATH];
  for (const dir of dirs) {
    const candidate = join(dir, 'unshare');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this PATH entry: try the next.
    }
  }
  throw new SandboxError(`--sandbox=namespace needs util-linux unshare: not found in ${dirs.join(':')}`);
}

/** True in the re-executed daemon (after checking the namespaces really are new). */
export function inNewNamespaces(): boolean {
  const outer = process.env[OUTER_NAMESPACES_ENV];
  if (outer === undefined) return false;
  const outerIds = outer.split(' ');
  const innerIds = namespaceIds().split(' ');
  const same = SANDBOX_NAMESPACES.filter((_, i) => outerIds[i] === innerIds[i]);
  if (same.length > 0 || outerIds.length !== SANDBOX_NAMESPACES.length) {
    throw new SandboxError(
      `${OUTER_NAMESPACES_ENV}="${outer}" but the daemon is still in the ${same.join(', ') || 'named'} namespace(s): refusing to build the sandbox`,
    );
  }
  delete process.env[OUTER_NAMESPACES_ENV];
  return true;
}

/**
 * Replaces this process with the daemon under unshare, passing on stdio and `inheritedFds` (an
 * inherited vhost-user socket); returns only by throwing.
 */
export function reexecInNewNamespaces(inheritedFds: readonly number[]): never {
  const unshare = findUnshare();
  for (const fd of [0, 1, 2, ...inheritedFds]) keepAcrossExec(fd);
  const node = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env[OUTER_NAMESPACES_ENV] = namespaceIds();
  env[LIFELINE_ENV] = inheritablePipe().join(' ');
  return execve(unshare, ['unshare', ...UNSHARE_ARGS, '--', ...node], env);
}

/**
 * In a daemon that re-executed itself: calls `onParentGone` once unshare, which holds the
 * lifeline's write end, has exited. A daemon started under unshare by its supervisor has none.
 */
export function watchLifeline(onParentGone: () => void): void {
  const fds = process.env[LIFELINE_ENV]?.split(' ').map(Number);
  delete process.env[LIFELINE_ENV];
  if (fds === undefined || fds.length !== 2 || !fds.every((fd) => Number.isInteger(fd) && fd > 2)) return;
  const [readEnd, writeEnd] = fds as [number, number];
  close(writeEnd);
  const lifeline = new Socket({ fd: readEnd, readable: true, writable: false });
  lifeline.on('data', () => undefined);
  lifeline.once('close', onParentGone);
  // It must not keep the daemon alive by itself.
  lifeline.unref();
}
