// --template: the VM template every vfs sandbox resumes, saved by `vfs-runtime template create`
// with the DAX-off cell's configuration into a directory of its own on /dev/shm (tmpfs, and root's
// alone: mkdtemp makes it 0700, as a template's directory must be), removed at the end.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { BenchScope } from '../bench_common/bench_main';
import { VFS_RUNTIME_CLI } from './dax_support';

/** Booting and saving a VM under TCG takes seconds; SIGTERM makes create undo what it saved. */
const CREATE_TIMEOUT_MS = 300_000;

export function templateDir(scope: BenchScope): string {
  const dir = mkdtempSync('/dev/shm/vfs-bench-memory-template-');
  scope.defer('remove the VM template', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Saves the template `configPath` names; resolves with what `template create` printed. */
export function createTemplate(configPath: string, runDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [VFS_RUNTIME_CLI, 'template', 'create'],
      {
        env: { ...process.env, VFS_CONFIG: configPath, VFS_RUN_DIR: runDir },
        timeout: CREATE_TIMEOUT_MS,
        killSignal: 'SIGTERM',
      },
      (err, stdout, stderr) => {
        if (err !== null)
          reject(new Error(`vfs-runtime template create failed: ${err.message}\n${stderr.slice(-2000)}`));
        else resolve(stdout.trim());
      },
    );
  });
}
