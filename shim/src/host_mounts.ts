// Host mounts made on behalf of a sandbox (e.g. a container's rootfs on bundle/rootfs), through
// util-linux mount(8)/umount(8): Node has no mount(2), and a few ms per container is acceptable.
// Every mount is journalled in the sandbox state first, so `delete` can undo it after a crash.

import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
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
 * propagates carry them too — unlike a bind's flags, which a later remount sets only here.
 */
export async function moveMount(state: SandboxState, containerId: string, from: string, to: string): Promise<void> {
  state.journalMount({ target: to, containerId });
  try {
    await run('mount', ['--move', from, to]);
  } catch (err) {
    state.forgetMount(to);
    throw mountFailure(`move the mount ${from} to ${to}`, err);
  }
  state.forgetMount(from);
}

/**
 * Unmounts (lazily if busy) when still mounted, then drops the journal entry. Two teardowns may
 * race for one mount (a lost VM's and a container's removal): a umount that fails because the
 * mount is already gone is success.
 */
export async function unmount(state: SandboxState, target: string): Promise<void> {
  if (isMountPoint(target, await mountinfo())) {
    try {
      await run('umount', [target]);
    } catch {
      // Busy (a process still has it open): detach it now, the kernel frees it when released.
      await run('umount', ['--lazy', target]).catch(async (err: unknown) => {
        if (isMountPoint(target, await mountinfo())) throw mountFailure(`umount ${target}`, err);
      });
    }
  }
  state.forgetMount(target);
}

/**
 * Unmounts `targets` in the order given with one umount(8) run (a fork and exec per mount cost
 * ≈ 15 ms each on a teardown `ctr` waits for); when that run fails (one is busy or already gone),
 * each is unmounted on its own as unmount() does.
 */
async function unmountMany(state: SandboxState, targets: readonly string[]): Promise<void> {
  const info = await mountinfo();
  const mounted = targets.filter((target) => isMountPoint(target, info));
  if (mounted.length > 1) {
    const together = await run('umount', [...mounted]).then(
      () => true,
      () => false,
    );
    if (together) {
      for (const target of targets) state.forgetMount(target);
      return;
    }
  }
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
 * Sets per-mount flags (`nosuid`, `ro`, …) on each mount strictly below `target`: a recursive
 * bind copies the submounts with their own flags, and the bind's own flags cover only its top.
 * mount(8) merges the flags given into each submount's current ones (a read-only one stays so).
 */
export async function remountSubmounts(target: string, flags: readonly string[]): Promise<void> {
  const submounts = (await mountsUnder(target)).filter((m) => m !== target).reverse();
  for (const submount of submounts) {
    try {
      await run('mount', ['-o', ['remount', 'bind', ...flags].join(','), submount]);
    } catch (err) {
      throw mountFailure(`remount ${submount} (below ${target}) ${flags.join(',')}`, err);
    }
  }
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
