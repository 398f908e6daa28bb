// Where a sandbox's shim keeps its sockets and state: the run-dir layout of @vfs/contracts (shared
// with vfs-runtime), with a socket path too long for sun_path refused as the shim's error.
import { sandboxPaths as layout, type SandboxPaths, socketPathProblem } from '@vfs/contracts';
import { Code, ShimError } from './shim_error';

export { runDir, type SandboxPaths } from '@vfs/contracts';

export function sandboxPaths(root: string, namespace: string, sandboxId: string): SandboxPaths {
  const paths = layout(root, namespace, sandboxId);
  const problem = socketPathProblem(paths.managementSocket);
  if (problem !== null) throw new ShimError(Code.InvalidArgument, problem);
  return paths;
}
