// Where relative paths in the configuration point. The shim is installed as
// `<root>/build/bin/containerd-shim-vfs-v2` (in the repo or a copy of its build tree), so the install
// root is two directories above the running script; VFS_ROOT overrides it (e.g. a packaged layout).
// Relative `kernel`, `initramfs` and `daemon.path` values are resolved against that root, not the
// config file's directory, so one configuration works for every bundle and working directory.
// `hypervisor.path` is different: a bare name (no slash) is looked up on PATH by spawn, as usual.

import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { VfsConfig } from './schema';

export function installRoot(
  env: NodeJS.ProcessEnv = process.env,
  script: string | undefined = process.argv[1],
): string {
  const fromEnv = env.VFS_ROOT;
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  if (script === undefined) return process.cwd();
  return resolve(dirname(realpathSync(script)), '..', '..');
}

/** The guest runtime share (node, agent.js, the launcher) `make runtime` builds: under the install root, like the kernel. */
export function runtimeShareDir(root: string): string {
  return resolve(root, 'build', 'runtime');
}

/** The same files as one read-only erofs image (`make runtime`), attached when [agent] runtime = "image". */
export function runtimeImagePath(root: string): string {
  return resolve(root, 'build', 'runtime.erofs');
}

/** The image behind a pfn info block (`make runtime`), mapped with DAX when [agent] runtime = "pmem". */
export function runtimePmemPath(root: string): string {
  return resolve(root, 'build', 'runtime.pmem');
}

function againstRoot(root: string, path: string): string {
  return isAbsolute(path) ? path : resolve(root, path);
}

/** The same configuration with its file paths absolute. */
export function resolvePaths(config: VfsConfig, root: string): VfsConfig {
  const hypervisorPath = config.hypervisor.path.includes('/')
    ? againstRoot(root, config.hypervisor.path)
    : config.hypervisor.path;
  return {
    ...config,
    hypervisor: {
      ...config.hypervisor,
      path: hypervisorPath,
      kernel: againstRoot(root, config.hypervisor.kernel),
      initramfs: againstRoot(root, config.hypervisor.initramfs),
    },
    daemon: { ...config.daemon, path: againstRoot(root, config.daemon.path) },
    factory: { ...config.factory, template_path: againstRoot(root, config.factory.template_path) },
  };
}
