// --template: the VM template every vfs sandbox resumes, saved by `vfs-runtime template create`
// with the DAX-off cell's configuration into a directory of its own on /dev/shm (tmpfs, and root's
// alone: mkdtemp makes it 0700, as a template's directory must be), removed at the end. Its RAM
// file is memory too, shared by every sandbox and mapped by none: templateRamMib reports it.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchScope } from '../bench_common/bench_main';
import { VFS_RUNTIME_CLI } from './dax_support';

/** Booting and saving a VM under TCG takes seconds; SIGTERM makes create undo what it saved. */
const CREATE_TIMEOUT_MS = 300_000;

export function templateDir(scope: BenchScope): string {
  const dir = mkdtempSync('/dev/shm/vfs-bench-memory-template-');
  scope.defer('remove the VM template', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('close', () => resolve());
  });
}

/**
 * Saves the template `configPath` names; resolves with what `template create` printed. Should the
 * bench be stopped meanwhile, create is told to stop (and undo) before the directory goes.
 */
export function createTemplate(scope: BenchScope, configPath: string, runDir: string): Promise<string> {
  const child = spawn(process.execPath, [VFS_RUNTIME_CLI, 'template', 'create'], {
    env: { ...process.env, VFS_CONFIG: configPath, VFS_RUN_DIR: runDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  scope.defer('stop vfs-runtime template create', async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited(child);
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGTERM'), CREATE_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', (spawnErr) => {
      clearTimeout(timer);
      reject(new Error(`vfs-runtime template create: ${spawnErr.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`vfs-runtime template create exited ${code ?? signal}: ${err.trim().slice(-2000)}`));
    });
  });
}

/** The saved template's RAM file, allocated MiB (template.json names its generation's directory). */
export function templateRamMib(dir: string): number {
  const { generation } = JSON.parse(readFileSync(join(dir, 'template.json'), 'utf8')) as { generation: string };
  return (statSync(join(dir, generation, 'memory')).blocks * 512) / (1024 * 1024);
}
