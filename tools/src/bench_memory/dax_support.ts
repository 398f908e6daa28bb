// Whether the DAX cells can run: the "QEMU DAX" line of `vfs-runtime check` (cli/src/check/
// qemu_dax_check.ts, over @vfs/contracts qemu_dax) against the configuration the DAX cells use,
// which asks for a window: "ok" when the configured QEMU can map one; otherwise the line says why.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '@vfs/harness/repo';

export const VFS_RUNTIME_CLI = join(REPO_ROOT, 'build', 'bin', 'vfs-runtime');

/** The QEMU DAX line of a `vfs-runtime check` output: null when it is "ok", else why not. */
export function daxUnavailableReason(checkOutput: string): string | null {
  const line = /^(\S+)\s+QEMU DAX\s+(.*)$/m.exec(checkOutput);
  if (line === null) return `vfs-runtime check printed no QEMU DAX line:\n${checkOutput}`;
  return line[1] === 'ok' ? null : (line[2] as string);
}

/** Runs `vfs-runtime check` with `configPath` as VFS_CONFIG (it exits 1 when a check FAILs). */
export function checkDax(configPath: string): Promise<string | null> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [VFS_RUNTIME_CLI, 'check'],
      { env: { ...process.env, VFS_CONFIG: configPath }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err !== null && stdout === '') reject(new Error(`vfs-runtime check failed: ${err.message}\n${stderr}`));
        else resolve(daxUnavailableReason(stdout));
      },
    );
  });
}
