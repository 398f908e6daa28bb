// Where a sandbox's shim keeps its socket and state. Unix socket paths are limited to 108 bytes
// (sun_path), and containerd's namespaces and ids can be long, so the socket is named by a hash of
// namespace + sandbox id under a short directory; the state directory can use the plain names.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Code, ShimError } from './shim_error';

const SUN_PATH_MAX = 107; // 108 bytes including the terminating NUL

/** VFS_RUN_DIR (tests use a private one) or /run/vfs. containerd's environment is the shim's. */
export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.VFS_RUN_DIR;
  return dir !== undefined && dir !== '' ? dir : '/run/vfs';
}

export interface SandboxPaths {
  readonly socket: string;
  /** Per-sandbox state: shim pid, pids of QEMU and the daemon, the mount journal, bootstrap answer. */
  readonly stateDir: string;
  /** The VM's unix sockets (agent, QMP, daemon control, vhost-user): short, next to the shim's socket. */
  readonly vmSocketDir: string;
}

export function sandboxPaths(root: string, namespace: string, sandboxId: string): SandboxPaths {
  const digest = createHash('sha256').update(`${namespace}/${sandboxId}`).digest('hex').slice(0, 32);
  const socket = join(root, 's', digest);
  if (Buffer.byteLength(socket) > SUN_PATH_MAX) {
    throw new ShimError(
      Code.InvalidArgument,
      `socket path ${socket} is longer than ${SUN_PATH_MAX} bytes: use a shorter VFS_RUN_DIR`,
    );
  }
  return { socket, stateDir: join(root, 'sandboxes', namespace, sandboxId), vmSocketDir: `${socket}.vm` };
}
