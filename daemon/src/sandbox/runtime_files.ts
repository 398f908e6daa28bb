// What the daemon must still be able to read after it has left the host's root: the bundle
// (every device Worker is started from it, also for exports added later) and the packages the
// bundle leaves external (koffi and its native binary). Node loads modules anew in each Worker,
// so these are exactly the files the main thread has loaded from outside the bundle.
import { realpathSync } from 'node:fs';
import { isAbsolute, sep } from 'node:path';
import { SandboxError } from './errors';

const NODE_MODULES = `${sep}node_modules${sep}`;

/** The package directory holding `file` (`…/node_modules/name` or `…/node_modules/@scope/name`). */
export function packageRoot(file: string): string | null {
  const at = file.lastIndexOf(NODE_MODULES);
  if (at < 0) return null;
  const parts = file.slice(at + NODE_MODULES.length).split(sep);
  const depth = parts[0]?.startsWith('@') ? 2 : 1;
  if (parts.length <= depth) return null;
  return file.slice(0, at + NODE_MODULES.length) + parts.slice(0, depth).join(sep);
}

function isInside(path: string, dir: string): boolean {
  return path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** Drops paths that lie inside another one: binding the outer one exposes them already. */
export function outermost(paths: readonly string[]): string[] {
  const sorted = [...new Set(paths)].sort();
  return sorted.filter((p) => !sorted.some((other) => other !== p && isInside(p, other)));
}

/**
 * Absolute host paths to expose read-only at the same place in the private root: the worker
 * script (as Node will be given it), and the package directory of every module loaded so far
 * (a module outside any package is exposed as a file).
 */
export function runtimeFiles(workerScript: string, loadedModules: readonly string[]): string[] {
  if (!isAbsolute(workerScript))
    throw new SandboxError(`worker script "${workerScript}" is not an absolute path`, workerScript);
  const paths = [workerScript];
  for (const file of loadedModules) {
    const real = realpathSync(file);
    paths.push(packageRoot(real) ?? real);
  }
  return outermost(paths);
}
