// Which VM a template may be loaded into: one QEMU starts exactly as it started the template's.
// A saved state loads only into a VM with the same devices (one more on the loading side is
// silently left in its reset state), made by a QEMU of the same build, with the same accelerator.
// So the fingerprint is the warm pool's (the configuration, the version, the guest files), plus
// the accelerator `auto` resolved to, the QEMU binary and the runtime image, each by device,
// inode, size and mtime.

import { createHash } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { LoadedConfig } from '@vfs/runtime-config';
import { poolFingerprint } from '../pool/pool_fingerprint';
import type { Accel } from '../vm/qemu_command';
import { runtimeFile } from '../vm_runtime/vm_launch';

type Config = LoadedConfig['config'];

/** The file itself, however it is reached (symlinks, /bin vs /usr/bin on a merged /usr). */
function fileIdentity(path: string): [number, number, number, number] | null {
  try {
    const stat = statSync(realpathSync(path));
    return [stat.dev, stat.ino, stat.size, stat.mtimeMs];
  } catch {
    return null;
  }
}

/** hypervisor.path as the shim runs it: a bare name is looked up on PATH. */
function binaryIdentity(path: string, env: NodeJS.ProcessEnv): ReturnType<typeof fileIdentity> {
  if (path.includes('/')) return fileIdentity(path);
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const found = dir === '' ? null : fileIdentity(join(dir, path));
    if (found !== null) return found;
  }
  return null;
}

export function templateFingerprint(
  config: Config,
  runtimeDir: string,
  accel: Accel,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const image = runtimeFile(config);
  const facts = {
    vm: poolFingerprint(config, runtimeDir),
    accel,
    qemu: binaryIdentity(config.hypervisor.path, env),
    runtimeImage: image === undefined ? null : fileIdentity(image.path),
  };
  return createHash('sha256').update(JSON.stringify(facts)).digest('hex').slice(0, 16);
}
