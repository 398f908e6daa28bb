// namespace mode starts the daemon again under util-linux unshare: Node is multi-threaded from
// its first line, and unshare(2) of a mount namespace moves only the calling thread. The daemon
// execve()s `unshare --mount --pid --net --fork --kill-child --propagation slave -- node <bundle>
// <same arguments>` (same pid, so its supervisor's handle stays valid; unshare stays as the
// parent and its death kills the daemon). slave propagation: host mounts made later below the
// shared directory still reach the daemon, and nothing the daemon mounts reaches the host.
// The re-executed daemon finds the namespaces it left in MARKER and checks it is outside them
// before it touches any mount: a pivot_root in the host's namespace would move the host's root.
import { accessSync, constants, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { execve, keepAcrossExec } from '../sys/exec';
import { SandboxError } from './errors';

const MARKER = 'VFS_VIRTIOFSD_OUTER_NAMESPACES';
const NAMESPACES = ['mnt', 'pid', 'net'] as const;
const UNSHARE_ARGS = ['--mount', '--pid', '--net', '--fork', '--kill-child', '--propagation', 'slave'];
const FALLBACK_PATH = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];

/** `mnt:[4026531841] pid:[…] net:[…]` of the calling process. */
function namespaceIds(): string {
  return NAMESPACES.map((ns) => readlinkSync(`/proc/self/ns/${ns}`)).join(' ');
}

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
  const outer = process.env[MARKER];
  if (outer === undefined) return false;
  const outerIds = outer.split(' ');
  const innerIds = namespaceIds().split(' ');
  const same = NAMESPACES.filter((_, i) => outerIds[i] === innerIds[i]);
  if (same.length > 0 || outerIds.length !== NAMESPACES.length) {
    throw new SandboxError(
      `${MARKER}="${outer}" but the daemon is still in the ${same.join(', ') || 'named'} namespace(s): refusing to build the sandbox`,
    );
  }
  delete process.env[MARKER];
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
  env[MARKER] = namespaceIds();
  return execve(unshare, ['unshare', ...UNSHARE_ARGS, '--', ...node], env);
}
