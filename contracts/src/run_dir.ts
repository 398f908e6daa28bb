// Where every sandbox of a host keeps its sockets and state: shared by the shim, which makes
// them, and vfs-runtime, which finds a container's sandbox by them. Unix socket paths are limited
// to 108 bytes (sun_path) and containerd's namespaces and ids can be long, so sockets are named by
// a hash of namespace + sandbox id under a short directory; the state directory uses plain names.
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** sun_path holds 108 bytes including the terminating NUL. */
export const SUN_PATH_MAX = 107;

/** VFS_RUN_DIR (tests use a private one) or /run/vfs. containerd's environment is the shim's. */
export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.VFS_RUN_DIR;
  return dir !== undefined && dir !== '' ? dir : '/run/vfs';
}

export interface SandboxPaths {
  /** The shim's Task API socket. */
  readonly socket: string;
  /** Per-sandbox state: pids, the mount journal, the bootstrap answer, the containers it serves. */
  readonly stateDir: string;
  /** The sandbox's other unix sockets (agent, QMP, daemon control, vhost-user, management). */
  readonly vmSocketDir: string;
  /** The shim's management socket (vfs-runtime volume …), root only. */
  readonly managementSocket: string;
}

export function sandboxPaths(root: string, namespace: string, sandboxId: string): SandboxPaths {
  const digest = createHash('sha256').update(`${namespace}/${sandboxId}`).digest('hex').slice(0, 32);
  const socket = join(root, 's', digest);
  return {
    socket,
    stateDir: join(root, 'sandboxes', namespace, sandboxId),
    vmSocketDir: `${socket}.vm`,
    managementSocket: join(`${socket}.vm`, 'mgmt.sock'),
  };
}

/** The state dirs of all sandboxes of a namespace live here. */
export function namespaceDir(root: string, namespace: string): string {
  return join(root, 'sandboxes', namespace);
}

/** A file per container a sandbox serves, so vfs-runtime finds a container's sandbox. */
export function containerMarker(stateDir: string, containerId: string): string {
  return join(stateDir, 'containers', containerId);
}

/** Why a unix socket path cannot be used, or null. */
export function socketPathProblem(path: string): string | null {
  const bytes = Buffer.byteLength(path);
  return bytes > SUN_PATH_MAX
    ? `socket path ${path} is longer than ${SUN_PATH_MAX} bytes: use a shorter VFS_RUN_DIR`
    : null;
}
