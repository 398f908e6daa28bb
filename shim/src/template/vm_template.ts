// Kata's VM template ([factory] enable_template): one VM booted to a serving, warmed-up agent with
// no share plugged, then paused and saved as two files in template_path — its guest RAM (`memory`,
// a sparse tmpfs file QEMU mapped shared) and its device state (`state`, ≈ 0.4 MB, vm_snapshot.ts).
// A sandbox then copies both (the RAM sparsely: only what the guest touched), starts QEMU with the
// copy as its RAM and `-incoming defer`, loads the state and runs: the guest resumes where the
// template paused, its agent already up. Its shares are plugged as on a booted VM (vm_bringup.ts).
// Every copy starts from the same guest memory, so the host sets each one's clock and reseeds its
// random number generator at CreateSandbox (sandbox_vm.ts). `template.json` holds the
// configuration's fingerprint: a template saved under another configuration is not used.

import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { errorMessage } from '@vfs/contracts';
import type { LoadedConfig } from '@vfs/runtime-config';
import { poolFingerprint } from '../pool/pool_fingerprint';
import { SandboxError } from '../sandbox_error';
import { copySparseFile } from './sparse_copy';

type Config = LoadedConfig['config'];

const TMPFS_MAGIC = 0x01021994;
const META = 'template.json';

/** template_path: the description, and one directory per saved template (its generation). */
export interface TemplateFiles {
  readonly dir: string;
  readonly meta: string;
}

export interface TemplateMeta {
  /** The directory under template_path that holds this template's `memory` and `state`. */
  readonly generation: string;
  readonly fingerprint: string;
  readonly createdAt: string;
  readonly memoryMiB: number;
  /** Bytes of guest RAM the template holds (the rest is holes): what each sandbox copies. */
  readonly memoryDataBytes: number;
  readonly stateBytes: number;
  readonly bootMs: number;
}

/** One saved VM: its guest RAM and its device state. */
export interface SavedVm {
  readonly dir: string;
  readonly memory: string;
  readonly state: string;
}

export function templateFiles(dir: string): TemplateFiles {
  return { dir, meta: join(dir, META) };
}

export function savedVm(dir: string): SavedVm {
  return { dir, memory: join(dir, 'memory'), state: join(dir, 'state') };
}

/** The template's description, or undefined when none is saved there. */
export function readTemplateMeta(files: TemplateFiles): TemplateMeta | undefined {
  let text: string;
  try {
    text = readFileSync(files.meta, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const meta = JSON.parse(text) as TemplateMeta;
  if (!/^[0-9a-f]{16}$/.test(meta.generation)) throw new Error(`${files.meta}: malformed generation`);
  return meta;
}

export function templateFingerprint(config: Config, runtimeDir: string): string {
  return poolFingerprint(config, runtimeDir);
}

/** The template's RAM must be on tmpfs: a copy on a disk filesystem would be written back to disk. */
export function checkTmpfs(dir: string): void {
  const { type } = statfsSync(dir);
  if (type !== TMPFS_MAGIC) {
    throw new SandboxError(
      'bad-config',
      `[factory] template_path ${dir} is not on tmpfs: guest RAM there would be written to disk (use e.g. /dev/shm/vfs-template)`,
    );
  }
}

/** One sandbox's own copy of the template, removed once QEMU has loaded it (QEMU keeps the RAM mapped). */
export interface TemplateCopy extends SavedVm {
  readonly memoryDataBytes: number;
  remove(): void;
}

export type CloneChoice =
  | { readonly copy: TemplateCopy; readonly reason?: undefined }
  | { readonly copy?: undefined; readonly reason: string };

function usableMeta(config: Config, runtimeDir: string, files: TemplateFiles): TemplateMeta | string {
  let meta: TemplateMeta | undefined;
  try {
    meta = readTemplateMeta(files);
  } catch (err) {
    return `the template in ${files.dir} is unreadable: ${errorMessage(err)}`;
  }
  if (meta === undefined) return `no template in ${files.dir} (create one with vfs-runtime template create)`;
  if (meta.fingerprint !== templateFingerprint(config, runtimeDir)) {
    return `the template in ${files.dir} was saved under another configuration or build (vfs-runtime template create replaces it)`;
  }
  return meta;
}

/**
 * A copy of the template for one VM, beside it (`clones/<name>`, on the same tmpfs), or why there
 * is none: no template, another configuration's, or one replaced while it was being copied. The
 * state is copied too, so that a replaced template cannot mix into a VM being started.
 */
export function cloneTemplate(config: Config, runtimeDir: string, name: string): CloneChoice {
  if (!config.factory.enable_template) return { reason: '[factory] enable_template is false' };
  const files = templateFiles(config.factory.template_path);
  const meta = usableMeta(config, runtimeDir, files);
  if (typeof meta === 'string') return { reason: meta };
  const source = savedVm(join(files.dir, meta.generation));
  const copy = savedVm(join(files.dir, 'clones', name));
  mkdirSync(copy.dir, { recursive: true, mode: 0o700 });
  const remove = (): void => rmSync(copy.dir, { recursive: true, force: true });
  try {
    copyFileSync(source.state, copy.state);
    const { dataBytes } = copySparseFile(source.memory, copy.memory);
    return { copy: { ...copy, memoryDataBytes: dataBytes, remove } };
  } catch (err) {
    remove();
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { reason: `the template in ${files.dir} was replaced meanwhile` };
    throw SandboxError.wrap(err, `copy the VM template in ${files.dir}`, 'host-failure');
  }
}

/** Where a new template is saved before `publishTemplate` makes it the template. */
export function newGeneration(files: TemplateFiles): { generation: string; vm: SavedVm } {
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const generation = randomBytes(8).toString('hex');
  const vm = savedVm(join(files.dir, generation));
  mkdirSync(vm.dir, { mode: 0o700 });
  return { generation, vm };
}

/** Makes a saved generation the template (its description is replaced in one rename), then drops the others. */
export function publishTemplate(files: TemplateFiles, meta: TemplateMeta): void {
  writeFileSync(`${files.meta}.tmp`, `${JSON.stringify(meta, null, 2)}\n`);
  renameSync(`${files.meta}.tmp`, files.meta);
  dropGenerationsBut(files, meta.generation);
}

/** Removes every generation but `keep` (a failed save's, an older template's). */
export function dropGenerationsBut(files: TemplateFiles, keep: string | undefined): void {
  for (const entry of readdirSync(files.dir)) {
    if (/^[0-9a-f]{16}$/.test(entry) && entry !== keep)
      rmSync(join(files.dir, entry), { recursive: true, force: true });
  }
}

/** Removes the template and any copies left by sandboxes that did not get to remove theirs. */
export function removeTemplate(files: TemplateFiles): boolean {
  const existed = readTemplateMeta(files) !== undefined;
  rmSync(files.dir, { recursive: true, force: true });
  return existed;
}
