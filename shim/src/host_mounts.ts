// Host mounts made on behalf of a sandbox (e.g. a container's rootfs on bundle/rootfs), through
// util-linux mount(8)/umount(8): Node has no mount(2), and a few ms per container is acceptable.
// Every mount is journalled in the sandbox state first, so `delete` can undo it after a crash.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { SandboxState } from './sandbox_state';
import { Code, ShimError } from './shim_error';

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

export async function mountFor(state: SandboxState, containerId: string, spec: MountSpec): Promise<void> {
  state.journalMount({ target: spec.target, containerId });
  const args = ['-t', spec.type];
  if (spec.options.length > 0) args.push('-o', spec.options.join(','));
  args.push(spec.source, spec.target);
  try {
    await run('mount', args);
  } catch (err) {
    state.forgetMount(spec.target);
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new ShimError(Code.Internal, `mount ${spec.type} on ${spec.target}: ${stderr || String(err)}`, { cause: err });
  }
}

/** Unmounts (lazily if busy) when still mounted, then drops the journal entry. */
export async function unmount(state: SandboxState, target: string): Promise<void> {
  if (isMountPoint(target, await mountinfo())) {
    try {
      await run('umount', [target]);
    } catch {
      // Busy (a process still has it open): detach it now, the kernel frees it when released.
      await run('umount', ['--lazy', target]);
    }
  }
  state.forgetMount(target);
}

export async function unmountContainer(state: SandboxState, containerId: string): Promise<void> {
  for (const record of state.mounts().reverse()) {
    if (record.containerId === containerId) await unmount(state, record.target);
  }
}

export async function unmountAll(state: SandboxState): Promise<void> {
  for (const record of state.mounts().reverse()) await unmount(state, record.target);
}
