// Where one VM sandbox keeps its files. Two places, because unix socket paths are limited to 108
// bytes and containerd ids can be long:
// - the state dir (<run>/sandboxes/<ns>/<id>, SandboxState): shares/ (the daemon's --shared-dir,
//   one bind mount per share), the guest console log, QEMU's and the daemon's stderr, the pids;
// - the socket dir (<run>/s/<hash>.vm, next to the shim's socket): agent, QMP, the daemon's
//   control socket and one vhost-user socket per share.
// `delete` after a crashed shim derives both from the namespace and sandbox id alone. A VM taken
// from the warm pool keeps the pool's paths: the state dir then records them (adopted-vm.json).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VmPaths } from '@vfs/contracts';
import { sandboxPaths } from '../shim_paths';
import { SandboxError } from '../sandbox_error';

const SUN_PATH_MAX = 107;

/** The VM's paths, as the warm pool hands them over too (@vfs/contracts VmPaths). */
export type SandboxLayout = VmPaths;

export function sandboxLayout(runDir: string, namespace: string, sandboxId: string): SandboxLayout {
  const paths = sandboxPaths(runDir, namespace, sandboxId);
  return layoutIn(paths.stateDir, paths.vmSocketDir);
}

/** A warm-pool VM's files, before any sandbox has it: <run>/pool/<id> and a socket dir of its own. */
export function poolVmLayout(runDir: string, id: string): SandboxLayout {
  return layoutIn(join(runDir, 'pool', id), join(runDir, 's', `pool-${id}.vm`));
}

/** The VM `vfs-runtime template create` boots and saves: its files in `stateDir`, sockets of its own. */
export function templateVmLayout(runDir: string, stateDir: string, id: string): SandboxLayout {
  return layoutIn(stateDir, join(runDir, 's', `template-${id}.vm`));
}

function layoutIn(stateDir: string, socketDir: string): SandboxLayout {
  const layout: SandboxLayout = {
    stateDir,
    sharesDir: join(stateDir, 'shares'),
    stagingDir: join(stateDir, 'staging'),
    socketDir,
    agentSocket: join(socketDir, 'agent.sock'),
    qmpSocket: join(socketDir, 'qmp.sock'),
    controlSocket: join(socketDir, 'ctl.sock'),
    // In a directory of its own: a sandbox mounts a size-capped tmpfs there (vm_bringup.ts).
    consoleLog: join(stateDir, 'console', 'console.log'),
    qemuStderr: join(stateDir, 'qemu.stderr'),
    daemonStderr: join(stateDir, 'virtiofsd.log'),
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

const ADOPTED_LAYOUT = 'adopted-vm.json';

/** Records an adopted VM's paths in the sandbox's state dir, for `delete` after a crashed shim. */
export function saveAdoptedLayout(stateDir: string, layout: SandboxLayout): void {
  writeFileSync(join(stateDir, ADOPTED_LAYOUT), JSON.stringify(layout));
}

/** The adopted VM's paths, when the sandbox's VM came from the pool. */
export function adoptedLayout(stateDir: string): SandboxLayout | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, ADOPTED_LAYOUT), 'utf8')) as SandboxLayout;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
