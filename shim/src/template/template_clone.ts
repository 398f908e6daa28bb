// One sandbox's copy of the VM template: its guest RAM in a memfd of its own (sparse_copy.ts),
// which QEMU inherits, and its device state copied into a fresh directory under clones/ (so that a
// template replaced meanwhile cannot mix into this VM). Both go once QEMU has loaded the state:
// QEMU keeps the RAM, shared with the VM's daemon.

import { closeSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@vfs/contracts';
import type { LoadedConfig } from '@vfs/runtime-config';
import { SandboxError } from '../sandbox_error';
import type { Accel } from '../vm/qemu_command';
import { copyIntoMemfd } from './sparse_copy';
import { templateFingerprint } from './template_fingerprint';
import { generationVm, readTemplateMeta, type TemplateFiles, type TemplateMeta, templateFiles } from './template_store';

type Config = LoadedConfig['config'];

export interface TemplateCopy {
  /** The guest RAM's memfd, for QEMU to inherit. */
  readonly memoryFd: number;
  readonly memoryDataBytes: number;
  /** The device state QEMU loads. */
  readonly state: string;
  /** Closes the memfd and removes the state's copy; idempotent. */
  release(): void;
}

export type CloneChoice =
  | { readonly copy: TemplateCopy; readonly reason?: undefined }
  | { readonly copy?: undefined; readonly reason: string };

function usableMeta(config: Config, runtimeDir: string, accel: Accel, files: TemplateFiles): TemplateMeta | string {
  let meta: TemplateMeta | undefined;
  try {
    meta = readTemplateMeta(files);
  } catch (err) {
    return `the template in ${files.dir} is unusable: ${errorMessage(err)}`;
  }
  if (meta === undefined) return `no template in ${files.dir} (create one with vfs-runtime template create)`;
  if (meta.fingerprint !== templateFingerprint(config, runtimeDir, accel)) {
    return `the template in ${files.dir} was saved under another configuration, build, QEMU or accelerator (vfs-runtime template create replaces it)`;
  }
  return meta;
}

/** The copied state, then the RAM; a failure undoes both. */
function copyOf(files: TemplateFiles, meta: TemplateMeta, name: string): TemplateCopy {
  const source = generationVm(files, meta);
  // Not recursive: a template_path removed meanwhile must not come back as an empty directory.
  try {
    mkdirSync(files.clones, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const dir = mkdtempSync(join(files.clones, `${name.slice(0, 64)}-`));
  const state = join(dir, 'state');
  let memoryFd: number | undefined;
  const release = (): void => {
    if (memoryFd !== undefined) closeSync(memoryFd);
    memoryFd = undefined;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    copyFileSync(source.state, state);
    const ram = copyIntoMemfd(source.memory, `vfs-ram-${name.slice(0, 32)}`);
    memoryFd = ram.fd;
    return { memoryFd: ram.fd, memoryDataBytes: ram.dataBytes, state, release };
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * A copy of the template for one VM, or why there is none: templates off, none saved, another
 * configuration's, or one replaced while it was being copied (the VM then boots).
 */
export function cloneTemplate(config: Config, runtimeDir: string, accel: Accel, name: string): CloneChoice {
  if (!config.factory.enable_template) return { reason: '[factory] enable_template is false' };
  const files = templateFiles(config.factory.template_path);
  const meta = usableMeta(config, runtimeDir, accel, files);
  if (typeof meta === 'string') return { reason: meta };
  try {
    return { copy: copyOf(files, meta, name) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { reason: `the template in ${files.dir} was replaced or removed meanwhile` };
    throw SandboxError.wrap(err, `copy the VM template in ${files.dir}`, 'host-failure');
  }
}
