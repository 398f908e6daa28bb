// Bundles the host-process TEST DOUBLE (host_process_runtime.ts) into one CommonJS file for
// VFS_TEST_RUNTIME_MODULE, and the shim itself (scripts/bundle.mjs), so e2e tests run what they test.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { REPO_ROOT } from './containerd';

export const SHIM_BINARY = join(REPO_ROOT, 'build', 'bin', 'containerd-shim-vfs-v2');

export function bundleShim(): void {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'bundle.mjs')], { cwd: REPO_ROOT, stdio: 'pipe' });
}

/** Returns the path of the bundled test double. */
export function bundleHostProcessRuntime(outDir: string): string {
  const outfile = join(outDir, 'host_process_runtime.cjs');
  buildSync({
    entryPoints: [join(__dirname, 'host_process_runtime.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
  });
  return outfile;
}
