// Checks shared by the e2e tests that run containers in VMs through a PrivateContainerd: waiting,
// the shim's per-sandbox records (state dirs, recorded PIDs) and "nothing left behind".

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxState } from '@vfs/shim';
import { mountsUnder, type CtrResult, type PrivateContainerd } from './containerd';

export const VM_IMAGE = 'docker.io/library/busybox:vfs';
export const VM_RUNTIME = ['--runtime', 'io.containerd.vfs.v2'];

export { pidAlive, waitFor } from './process';

export function ok(result: CtrResult): CtrResult {
  if (result.code !== 0) throw new Error(`ctr failed (${result.code}): ${result.stderr}${result.stdout}`);
  return result;
}

export function sandboxDirs(containerd: PrivateContainerd, namespace: string): string[] {
  const dir = join(containerd.runDir, 'sandboxes', namespace);
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** A PID the sandbox's shim recorded: `qemu`, `virtiofsd`, … */
export function recordedPid(containerd: PrivateContainerd, namespace: string, sandbox: string, name: string): number {
  const record = new SandboxState(join(containerd.runDir, 'sandboxes', namespace, sandbox)).pid(name);
  if (record === undefined) throw new Error(`sandbox ${sandbox} recorded no ${name} process`);
  return record.pid;
}

export function expectNothingLeft(containerd: PrivateContainerd, namespace: string): void {
  expect(containerd.recordedStillRunning()).toEqual([]);
  expect(mountsUnder(containerd.dir)).toEqual([]);
  expect(sandboxDirs(containerd, namespace)).toEqual([]);
  const sockets = join(containerd.runDir, 's');
  expect(existsSync(sockets) ? readdirSync(sockets) : []).toEqual([]);
}

/** `ctr task ls` shows the task in this state (RUNNING, STOPPED, PAUSED). */
export async function taskIs(
  ctr: (args: readonly string[]) => Promise<CtrResult>,
  id: string,
  state: string,
): Promise<true | undefined> {
  return new RegExp(`^${id}\\s+\\d+\\s+${state}\\b`, 'm').test((await ctr(['task', 'ls'])).stdout) ? true : undefined;
}
