// Where a VM template lives ([factory] template_path, on tmpfs): `template.json`, its description,
// naming the generation directory that holds the saved VM (`<16 hex>/memory`, `/state`), and
// `clones/`, where each sandbox copies the state it loads. The directory is root's: a template is
// guest RAM and a migration stream QEMU parses as root, so a directory anyone else owns or may
// write is refused, never used. `template create` holds an flock on the directory while it boots and saves,
// writes a new generation, then replaces the description in one rename: a sandbox reads either
// the old template or the new one, whole. `remove` leaves a sandbox's state copy younger than a
// minute: that sandbox may be about to load it.

import {
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  rmdirSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { errnoName, libc } from '../libc';
import { SandboxError } from '../sandbox_error';

const TMPFS_MAGIC = 0x01021994;
const META = 'template.json';
const CLONES = 'clones';
const GENERATION = /^[0-9a-f]{16}$/;
const LOCK_EX = 2;
const LOCK_NB = 4;

export interface TemplateFiles {
  readonly dir: string;
  readonly meta: string;
  readonly clones: string;
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
  return { dir, meta: join(dir, META), clones: join(dir, CLONES) };
}

export function savedVm(dir: string): SavedVm {
  return { dir, memory: join(dir, 'memory'), state: join(dir, 'state') };
}

export function generationVm(files: TemplateFiles, meta: TemplateMeta): SavedVm {
  return savedVm(join(files.dir, meta.generation));
}

/**
 * A directory this process may trust: a real directory (not a symlink), owned by our user, that
 * no one else may write to. Returns false when it does not exist.
 */
export function checkOwnDir(dir: string): boolean {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const uid = process.geteuid?.() ?? 0;
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o022) !== 0) {
    throw new SandboxError(
      'bad-config',
      `[factory] template_path ${dir} is not a directory of user ${uid} that only it may write (owner ${stat.uid}, mode ${(stat.mode & 0o7777).toString(8)}${stat.isSymbolicLink() ? ', a symlink' : ''}): refused`,
    );
  }
  return true;
}

/** The template's RAM must be on tmpfs: on a disk filesystem it would be written back to disk. */
export function checkTmpfs(dir: string): void {
  if (statfsSync(dir).type !== TMPFS_MAGIC) {
    throw new SandboxError(
      'bad-config',
      `[factory] template_path ${dir} is not on tmpfs: guest RAM there would be written to disk (use e.g. /dev/shm/vfs-template)`,
    );
  }
}

/** template_path, made if missing (root's, 0700), checked either way. */
export function ownTemplateDir(files: TemplateFiles): void {
  if (!checkOwnDir(files.dir)) {
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    checkOwnDir(files.dir);
  }
  checkTmpfs(files.dir);
}

/** The template's description, or undefined when none is saved there. */
export function readTemplateMeta(files: TemplateFiles): TemplateMeta | undefined {
  if (!checkOwnDir(files.dir)) return undefined;
  let text: string;
  try {
    text = readFileSync(files.meta, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const meta = JSON.parse(text) as TemplateMeta;
  if (typeof meta.generation !== 'string' || !GENERATION.test(meta.generation))
    throw new Error(`${files.meta}: malformed generation`);
  return meta;
}

/** A copy younger than this may be a starting sandbox's, about to be loaded. */
const CLONE_IN_USE_MS = 60_000;

let flock: ((fd: number, operation: number) => number) | undefined;

function flockCall(): (fd: number, operation: number) => number {
  flock ??= libc().lib.func('int flock(int fd, int operation)');
  return flock;
}

/**
 * Holds template_path's lock (one `template create` or `remove` at a time), released by `release`
 * or by this process's end. On the directory itself: a lock file could be unlinked under a holder.
 */
export function lockTemplate(files: TemplateFiles): { release(): void } {
  const fd = openSync(files.dir, 'r');
  const result = flockCall()(fd, LOCK_EX | LOCK_NB);
  if (result !== 0) {
    const errno = -libc().orErrno(result);
    closeSync(fd);
    throw new SandboxError(
      'host-failure',
      `template ${files.dir}: ${errnoName(errno) === 'EWOULDBLOCK' || errnoName(errno) === 'EAGAIN' ? 'another template create or remove is running' : `flock: ${errnoName(errno)}`}`,
    );
  }
  return { release: () => closeSync(fd) };
}

/** Where a new template is saved before `publishTemplate` makes it the template. */
export function newGeneration(files: TemplateFiles): { generation: string; vm: SavedVm } {
  const generation = randomBytes(8).toString('hex');
  const vm = savedVm(join(files.dir, generation));
  mkdirSync(vm.dir, { mode: 0o700 });
  return { generation, vm };
}

/** Makes a saved generation the template (its description replaced in one rename), then drops the others. */
export function publishTemplate(files: TemplateFiles, meta: TemplateMeta): void {
  const staged = `${files.meta}.${meta.generation}`;
  writeFileSync(staged, `${JSON.stringify(meta, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
  renameSync(staged, files.meta);
  for (const entry of readdirSync(files.dir)) {
    if (GENERATION.test(entry) && entry !== meta.generation) rmSync(join(files.dir, entry), { recursive: true });
  }
}

/** The state copies of sandboxes that are gone (a crashed shim's), not of one starting now. */
function removeStaleClones(files: TemplateFiles): void {
  let entries: string[];
  try {
    entries = readdirSync(files.clones);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const entry of entries) {
    const path = join(files.clones, entry);
    if (Date.now() - lstatSync(path).mtimeMs > CLONE_IN_USE_MS) rmSync(path, { recursive: true, force: true });
  }
  try {
    rmdirSync(files.clones);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err;
  }
}

/**
 * Removes what a template is made of — its description, generations, the state copies no
 * starting sandbox may still load — then the directory if nothing else is in it; never anything
 * else there. Says whether there was a template.
 */
export function removeTemplate(files: TemplateFiles): boolean {
  if (!checkOwnDir(files.dir)) return false;
  const lock = lockTemplate(files);
  try {
    const existed = readdirSync(files.dir).includes(META);
    for (const entry of readdirSync(files.dir)) {
      if (entry === META || GENERATION.test(entry) || entry.startsWith(`${META}.`))
        rmSync(join(files.dir, entry), { recursive: true, force: true });
    }
    removeStaleClones(files);
    try {
      rmdirSync(files.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err;
    }
    return existed;
  } finally {
    lock.release();
  }
}
