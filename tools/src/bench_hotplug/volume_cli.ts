// The bundled vfs-runtime CLI (build/bin/vfs-runtime) and `ctr task exec` in the benchmark's
// container, as a user runs them: the benchmark times these calls.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CtrResult, PrivateContainerd } from '@vfs/harness/containerd';
import { REPO_ROOT } from '@vfs/harness/repo';

export const CLI_PATH = join(REPO_ROOT, 'build', 'bin', 'vfs-runtime');
const CALL_TIMEOUT_MS = 90_000;

export interface Container {
  readonly containerd: PrivateContainerd;
  readonly namespace: string;
  readonly id: string;
}

export function checkCli(): void {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: \`make build\` bundles it`);
}

/** `vfs-runtime ARGS` against the private containerd's shims (VFS_RUN_DIR). */
export function vfsRuntime(container: Container, args: readonly string[]): Promise<CtrResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_PATH, ...args],
      { env: { ...process.env, VFS_RUN_DIR: container.containerd.runDir }, timeout: CALL_TIMEOUT_MS },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `ctr task exec --exec-id EXEC_ID <container> ARGV…`. */
export function execIn(container: Container, execId: string, argv: readonly string[]): Promise<CtrResult> {
  return container.containerd.ctr(['task', 'exec', '--exec-id', execId, container.id, ...argv], {
    namespace: container.namespace,
    timeoutMs: CALL_TIMEOUT_MS,
  });
}

/** What a failed call said, for an error message. */
export function callOutput(call: CtrResult): string {
  return `exit ${call.code}: ${`${call.stderr}${call.stdout}`.trim() || '(no output)'}`;
}
