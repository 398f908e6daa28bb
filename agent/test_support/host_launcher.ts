// vfs-launcher compiled as `make runtime` compiles it, into a scratch directory, for tests that
// run the real launcher on this host.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUNTIME_SRC = join(__dirname, '..', 'runtime');

export interface HostLauncher {
  readonly path: string;
  /** Removes the scratch directory with the binary. */
  remove(): void;
}

export function buildHostLauncher(prefix: string): HostLauncher {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, 'vfs-launcher');
  execFileSync('bash', [join(RUNTIME_SRC, 'build-launcher.sh'), join(RUNTIME_SRC, 'launcher'), path], {
    stdio: 'ignore',
  });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
