// Where one VM sandbox keeps its files. Two places, because unix socket paths are limited to 108
// bytes and containerd ids can be long:
// - the state dir (<run>/sandboxes/<ns>/<id>, SandboxState): shares/ (the daemon's --shared-dir,
//   one bind mount per share), the guest console log, QEMU's and the daemon's stderr, the pids;
// - the socket dir (<run>/s/<hash>.vm, next to the shim's socket): agent, QMP, the daemon's
//   control socket and one vhost-user socket per share.
// `delete` after a crashed shim derives both from the namespace and sandbox id alone.

import { join } from 'node:path';
import { sandboxPaths } from '../shim_paths';
import { SandboxError } from '../sandbox_error';

const SUN_PATH_MAX = 107;

export interface SandboxLayout {
  readonly stateDir: string;
  /** The daemon's --shared-dir: every share is a subdirectory (a bind mount) of it. */
  readonly sharesDir: string;
  /** A private mount point where binds get their flags before they move into sharesDir. */
  readonly stagingDir: string;
  readonly socketDir: string;
  readonly agentSocket: string;
  readonly qmpSocket: string;
  readonly controlSocket: string;
  readonly consoleLog: string;
  readonly qemuStderr: string;
  readonly daemonStderr: string;
}

export function sandboxLayout(runDir: string, namespace: string, sandboxId: string): SandboxLayout {
  const paths = sandboxPaths(runDir, namespace, sandboxId);
  const socketDir = paths.vmSocketDir;
  const layout: SandboxLayout = {
    stateDir: paths.stateDir,
    sharesDir: join(paths.stateDir, 'shares'),
    stagingDir: join(paths.stateDir, 'staging'),
    socketDir,
    agentSocket: join(socketDir, 'agent.sock'),
    qmpSocket: join(socketDir, 'qmp.sock'),
    controlSocket: join(socketDir, 'ctl.sock'),
    consoleLog: join(paths.stateDir, 'console.log'),
    qemuStderr: join(paths.stateDir, 'qemu.stderr'),
    daemonStderr: join(paths.stateDir, 'virtiofsd.log'),
  };
  checkSocketPath(vhostUserSocket(layout, 999));
  return layout;
}

/** The vhost-user socket of the share with this index (tags may be long; indexes are not). */
export function vhostUserSocket(layout: SandboxLayout, index: number): string {
  return join(layout.socketDir, `fs${index}.sock`);
}

function checkSocketPath(path: string): void {
  if (Buffer.byteLength(path) > SUN_PATH_MAX) {
    throw new SandboxError(
      'bad-config',
      `VM socket path ${path} is longer than ${SUN_PATH_MAX} bytes: use a shorter VFS_RUN_DIR`,
    );
  }
}
