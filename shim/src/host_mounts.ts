// Host mounts made on behalf of a sandbox: bind mounts, moves and unmounts as system calls
// (libc_mount.ts), typed mounts (e.g. a container's rootfs on bundle/rootfs) through util-linux
// mount(8), which turns an option list into flags and data. Every mount is journalled in the
// sandbox state first, so `delete` can undo it after a crash.

import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import {
  addMountAttrs,
  bindMount,
  MountCallError,
  type MountAttr,
  moveMountCall,
  mountTmpfs,
  setPropagation,
  unmountCall,
} from './libc_mount';
import type { SandboxState } from './sandbox_state';
import { SandboxError } from './sandbox_error';

const run = promisify(execFile);

export interface MountSpec {
  readonly type: string;
  readonly source: string;
  readonly target: string;
  readonly options: readonly string[];
}

function isMountPoint(target: string, mountinfo: string): boolean {
  // Field 5 of /proc/self/mountinfo is the mount point, with spaces etc. octal-escaped.
  const escaped = target.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === escaped);
}

function mountinfo(): Promise<string> {
  return readFile('/proc/self/mountinfo', 'utf8');
}

/** mount(8)'s own message says what failed. */
function mountFailure(what: string, err: unknown): SandboxError {
  const stderr = (err as { stderr?: string }).stderr?.trim();
  return new SandboxError('host-failure', `${what}: ${stderr || String(err)}`, { cause: err });
}

export interface BindSpec {
  readonly source: string;
  readonly target: string;
  /** With the mounts below `source` (rbind); `attrs` then cover them too. */
  readonly recursive: boolean;
  /** Per-mount flags added to the bind (and to each submount, keeping their own). */
  readonly attrs: readonly MountAttr[];
  /** Set after the flags, on the submounts too when `recursive`. */
  readonly propagation?: 'shared' | 'private';
}

function callFailure(err: unknown): SandboxError {
  if (err instanceof MountCallError) return new SandboxError('host-failure', err.message, { cause: err });
  return SandboxError.wrap(err, 'mount');
}

/** A bind mount with its flags and propagation; one that fails half-way is undone. */
export async function bindFor(state: SandboxState, ownerId: string, spec: BindSpec): Promise<void> {
  state.journalMount({ target: spec.target, containerId: ownerId });
  let bound = false;
  try {
    bindMount(spec.source, spec.target, spec.recursive);
    bound = true;
    if (spec.attrs.length > 0) addMountAttrs(spec.target, spec.attrs, spec.recursive);
    if (spec.propagation !== undefined) setPropagation(spec.target, spec.propagation, spec.recursive);
  } catch (err) {
    const undone = bound ? unmountCall(spec.target, true) : '';
    // A bind that could not be undone stays journalled, for the teardown (or `delete`) to retry.
    if (undone === '') state.forgetMount(spec.target);
    const failure = callFailure(err);
    if (undone !== '')
      throw new SandboxError('host-failure', `${failure.message}; umount2(${spec.target}, MNT_DETACH): ${undone}`, {
        cause: err,
      });
    throw failure;
  }
}

/** A tmpfs of at most `sizeBytes` on `target`, journalled as a bind is. */
export function tmpfsFor(state: SandboxState, ownerId: string, target: string, sizeBytes: number): void {
  state.journalMount({ target, containerId: ownerId });
  try {
    mountTmpfs('vfs', target, sizeBytes);
  } catch (err) {
    state.forgetMount(target);
    throw callFailure(err);
  }
}

export async function mountFor(state: SandboxState, containerId: string, spec: MountSpec): Promise<void> {
  state.journalMount({ target: spec.target, containerId });
  const args = ['-t', spec.type];
  if (spec.options.length > 0) args.push('-o', spec.options.join(','));
  args.push(spec.source, spec.target);
  try {
    await run('mount', args);
  } catch (err) {
    state.forgetMount(spec.target);
    throw mountFailure(`mount ${spec.type} on ${spec.target}`, err);
  }
}

/**
 * Moves a mount to `to` (mount --move), keeping the journal true: `to` is recorded first, `from`
 * forgotten after. A mount keeps its flags when it moves, and the copies a shared destination
 * propagates carry them too — unlike a bind's flags, which a later remount sets only here. `at`
 * is where the call mounts, when `to` is reached through an open descriptor (/proc/self/fd/N).
 */
export async function moveMount(
  state: SandboxState,
  containerId: string,
  from: string,
  to: string,
  at: string = to,
): Promise<void> {
  state.journalMount({ target: to, containerId });
  try {
    moveMountCall(from, at);
  } catch (err) {
    state.forgetMount(to);
    throw callFailure(err);
  }
  state.forgetMount(from);
}

/**
 * Unmounts (lazily if busy), then drops the journal entry. Two teardowns may race for one mount
 * (a lost VM's and a container's removal): a mount that is already gone (EINVAL: not a mount
 * point; ENOENT: no such path) is success.
 */
export async function unmount(state: SandboxState, target: string): Promise<void> {
  let code = unmountCall(target, false);
  // Busy (a process still has it open): detach it now, the kernel frees it when released.
  if (code === 'EBUSY') code = unmountCall(target, true);
  // EINVAL also means a mount umount2 may not touch (locked in another user namespace): forget
  // the entry only when the target is no mount point indeed.
  const gone = code === 'ENOENT' || (code === 'EINVAL' && !isMountPoint(target, await mountinfo()));
  if (code !== '' && !gone) throw new SandboxError('host-failure', `umount2(${target}): ${code}`);
  state.forgetMount(target);
}

/** Unmounts `targets` in the order given. */
async function unmountMany(state: SandboxState, targets: readonly string[]): Promise<void> {
  for (const target of targets) await unmount(state, target);
}

export async function unmountContainer(state: SandboxState, containerId: string): Promise<void> {
  const targets = state
    .mounts()
    .reverse()
    .filter((record) => record.containerId === containerId)
    .map((record) => record.target);
  await unmountMany(state, targets);
}

export async function unmountAll(state: SandboxState): Promise<void> {
  await unmountMany(
    state,
    state
      .mounts()
      .reverse()
      .map((record) => record.target),
  );
}

/** A mount point as mountinfo writes it: space, tab, newline and backslash octal-escaped. */
function unescapeMountPoint(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Mount points at or below `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  return (await mountinfo())
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((field): field is string => field !== undefined)
    .map(unescapeMountPoint)
    .filter((target) => target === dir || target.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes a directory tree that held bind mounts, refusing while anything is still mounted in
 * it: a recursive delete would otherwise descend into the mount and delete the host's files
 * (a container's snapshot, a volume).
 */
export async function removeUnmountedTree(dir: string): Promise<void> {
  const left = await mountsUnder(dir);
  if (left.length > 0)
    throw new SandboxError('host-failure', `not removing ${dir}: still mounted there: ${left.join(', ')}`);
  await rm(dir, { recursive: true, force: true });
}
