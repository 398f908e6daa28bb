// The CRI sandbox image, built offline like the test images: pause.c compiled statically into
// build/test-bin (again whenever the source is newer), alone at /pause in a one-layer image.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildImage } from './oci_image';
import { REPO_ROOT } from './repo';

/** The sandbox_image of a PrivateContainerd with CRI, which imports it into namespace k8s.io. */
export const PAUSE_IMAGE = 'vfs.local/pause:e2e';

// From the repository root, not __dirname: benchmarks bundled into build/bin build the image too.
const SOURCE = join(REPO_ROOT, 'harness', 'src', 'pause.c');
const BINARY = join(REPO_ROOT, 'build', 'test-bin', 'pause');

function compiledPause(): string {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  mkdirSync(dirname(BINARY), { recursive: true });
  // Through a private name: test files running at once may compile it together.
  const scratch = `${BINARY}.${process.pid}`;
  execFileSync('gcc', ['-static', '-Os', '-s', '-Wall', '-Wextra', '-Werror', '-o', scratch, SOURCE], {
    stdio: 'pipe',
  });
  renameSync(scratch, BINARY);
  return BINARY;
}

/** Writes `<outDir>/pause.oci.tar` (image PAUSE_IMAGE) and returns its path. */
export function buildPauseImage(outDir: string): string {
  const binary = compiledPause();
  const fill = (rootfs: string): void => copyFileSync(binary, join(rootfs, 'pause'));
  return buildImage(join(outDir, 'pause.oci.tar'), PAUSE_IMAGE, fill, {
    Entrypoint: ['/pause'],
    Env: [],
    WorkingDir: '/',
  });
}
