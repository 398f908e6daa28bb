// Which sandbox serves a container, from the run dir the shims keep (contracts/src/run_dir.ts):
// every sandbox has a state dir <run>/sandboxes/<namespace>/<sandbox id>, where its shim leaves an
// empty marker containers/<container id> for each container it serves. The shim's management
// socket is found from the namespace and the sandbox id.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { containerMarker, errorMessage, namespaceDir, sandboxPaths } from '@vfs/contracts';
import { VolumeError } from './volume_error';

export interface SandboxRef {
  readonly namespace: string;
  readonly sandboxId: string;
  readonly managementSocket: string;
}

/** The subdirectories of `dir`; none when it does not exist (no sandbox ran yet). */
function subdirectories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new VolumeError(`cannot read the sandboxes in ${dir}: ${errorMessage(err)}`);
  }
}

/** The sandboxes of one namespace, or of every namespace when it is undefined. */
export function listSandboxes(runDir: string, namespace?: string): SandboxRef[] {
  const namespaces = namespace === undefined ? subdirectories(join(runDir, 'sandboxes')) : [namespace];
  return namespaces.flatMap((ns) =>
    subdirectories(namespaceDir(runDir, ns)).map((sandboxId) => ({
      namespace: ns,
      sandboxId,
      managementSocket: sandboxPaths(runDir, ns, sandboxId).managementSocket,
    })),
  );
}

function serves(runDir: string, sandbox: SandboxRef, containerId: string): boolean {
  const { stateDir } = sandboxPaths(runDir, sandbox.namespace, sandbox.sandboxId);
  return existsSync(containerMarker(stateDir, containerId));
}

/** Throws VolumeError when no sandbox serves the container, or several do (in different namespaces). */
export function findContainerSandbox(runDir: string, containerId: string, namespace?: string): SandboxRef {
  const found = listSandboxes(runDir, namespace).filter((sandbox) => serves(runDir, sandbox, containerId));
  if (found.length === 1) return found[0]!;
  if (found.length === 0) {
    const where =
      namespace === undefined ? `any namespace under ${join(runDir, 'sandboxes')}` : `namespace ${namespace}`;
    throw new VolumeError(`unknown container ${containerId} (no vfs sandbox serves it in ${where})`);
  }
  const names = found.map((s) => `${s.namespace}/${s.sandboxId}`).join(', ');
  throw new VolumeError(`container ${containerId} is in several namespaces (${names}): name one with --namespace`);
}
