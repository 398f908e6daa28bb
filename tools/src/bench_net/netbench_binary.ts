// netbench.c compiled statically (as harness/src/pause.c is): one binary for runc containers and
// vfs guests alike, which the pods see through a read-only host-path mount.

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@vfs/harness/repo';

const SOURCE = join(REPO_ROOT, 'tools', 'src', 'bench_net', 'netbench.c');

/** Compiles netbench into `dir` (made if missing); returns the binary's path. */
export function buildNetbench(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, 'netbench');
  execFileSync('gcc', ['-static', '-O2', '-s', '-Wall', '-Wextra', '-Werror', '-o', binary, SOURCE], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return binary;
}
