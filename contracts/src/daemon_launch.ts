// How vfs-virtiofsd --sandbox=namespace gets its namespaces, shared by the daemon and the shim that
// starts it. Node is multi-threaded from its first line, so the daemon cannot unshare(2) a mount
// namespace itself: it runs under util-linux `unshare UNSHARE_ARGS -- <daemon>`, with
// OUTER_NAMESPACES_ENV naming the namespaces it must have left (it checks, before it touches any
// mount). A supervisor that starts it that way saves a Node start; a daemon started plainly
// re-executes itself the same way.
import { readlinkSync } from 'node:fs';

export const OUTER_NAMESPACES_ENV = 'VFS_VIRTIOFSD_OUTER_NAMESPACES';
export const SANDBOX_NAMESPACES = ['mnt', 'pid', 'net'] as const;
/** unshare stays as the daemon's parent (same pid as the one started), and its death kills it. */
export const UNSHARE_ARGS: readonly string[] = [
  '--mount',
  '--pid',
  '--net',
  '--fork',
  '--kill-child',
  '--propagation',
  'slave',
];

/** `mnt:[4026531841] pid:[…] net:[…]` of the calling process. */
export function namespaceIds(): string {
  return SANDBOX_NAMESPACES.map((ns) => readlinkSync(`/proc/self/ns/${ns}`)).join(' ');
}
