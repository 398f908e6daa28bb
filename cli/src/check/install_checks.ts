// The checks of what vfs installs or is configured to use: the configuration itself, the guest
// kernel and initramfs, the daemon, the guest runtime share.
import { join } from 'node:path';
import { errorMessage } from '@vfs/contracts';
import type { LoadedConfig } from '@vfs/runtime-config';
import type { Access } from '../host/host_probe';
import { type CheckResult, fail, ok } from './check_result';

export function checkConfig(loaded: LoadedConfig): CheckResult {
  return ok('configuration', `from ${loaded.source}`);
}

/** The loader's ConfigError names the file, the line and the key. */
export function configFailure(err: unknown): CheckResult {
  return fail('configuration', errorMessage(err));
}

/** `fix` says how to get the file: `make guest`, or the key that names it. */
export function checkInstalledFile(what: string, path: string, access: Access, fix: string): CheckResult {
  switch (access.state) {
    case 'ok':
      return ok(what, path);
    case 'missing':
      return fail(what, `${path} is missing (${fix})`);
    case 'denied':
      return fail(what, `${path} cannot be used (${access.code}; ${fix})`);
  }
}

/** The share's files the guest cannot boot its agent without, as the shim checks them at Create. */
export const RUNTIME_SHARE_FILES = ['agent.js', 'node'] as const;

export function checkRuntimeShare(dir: string, access: (path: string) => Access): CheckResult {
  const what = 'runtime share';
  const missing = RUNTIME_SHARE_FILES.filter((name) => access(join(dir, name)).state !== 'ok');
  return missing.length === 0
    ? ok(what, dir)
    : fail(what, `${dir} lacks ${missing.join(', ')} or cannot read it (make runtime)`);
}
