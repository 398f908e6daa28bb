// N idle sandboxes (`ctr run -d … sleep`) of one runtime on the private containerd, each with the
// shared data dir bind-mounted read-only at /data; a command run in each (`ctr task exec`); and
// their removal.

import { setTimeout as sleep } from 'node:timers/promises';
import type { PrivateContainerd } from '@vfs/harness/containerd';
import { shimPidsServing } from '@vfs/harness/host_leftovers';

export const NAMESPACE = 'vfs-bench-memory';
export const DATA_MOUNT = '/data';

const RUN_TIMEOUT_MS = 180_000;
const RUNNING_TIMEOUT_MS = 120_000;

export interface SandboxSet {
  readonly runtime: string;
  /** A configuration.toml for the shims (ctr's --runtime-config-path), vfs only. */
  readonly configPath?: string;
  /** The vfs sandboxes must resume a VM template ([factory] in configPath), not boot. */
  readonly template?: boolean;
  readonly image: string;
  readonly dataDir: string;
}

async function ctrOrThrow(containerd: PrivateContainerd, args: readonly string[], timeoutMs: number): Promise<string> {
  const result = await containerd.ctr([...args], { namespace: NAMESPACE, timeoutMs });
  if (result.code !== 0)
    throw new Error(
      `ctr ${args.slice(0, 3).join(' ')} failed (exit ${result.code}): ${`${result.stderr}${result.stdout}`.trim()}`,
    );
  return result.stdout;
}

/** Ids of the tasks `ctr task ls` shows RUNNING. */
async function runningTasks(containerd: PrivateContainerd): Promise<Set<string>> {
  const listed = await ctrOrThrow(containerd, ['task', 'ls'], 30_000);
  const running = listed.split('\n').filter((line) => /\sRUNNING\s*$/.test(line));
  return new Set(running.map((line) => line.split(/\s+/)[0] as string));
}

async function untilRunning(containerd: PrivateContainerd, ids: readonly string[]): Promise<void> {
  const deadline = performance.now() + RUNNING_TIMEOUT_MS;
  for (;;) {
    const running = await runningTasks(containerd);
    if (ids.every((id) => running.has(id))) return;
    if (performance.now() > deadline) throw new Error(`not every sandbox was RUNNING within ${RUNNING_TIMEOUT_MS} ms`);
    await sleep(500);
  }
}

/** Starts `count` sandboxes one after the other and waits until every task is RUNNING; their ids. */
export async function startSandboxes(
  containerd: PrivateContainerd,
  set: SandboxSet,
  count: number,
  prefix: string,
): Promise<string[]> {
  const config = set.configPath === undefined ? [] : ['--runtime-config-path', set.configPath];
  const mount = `type=bind,src=${set.dataDir},dst=${DATA_MOUNT},options=rbind:ro`;
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`;
    await ctrOrThrow(
      containerd,
      ['run', '-d', '--runtime', set.runtime, ...config, '--mount', mount, set.image, id, 'sleep', '1000000'],
      RUN_TIMEOUT_MS,
    );
    ids.push(id);
  }
  await untilRunning(containerd, ids);
  return ids;
}

/** Runs `sh -c script` in sandbox `id` to completion. */
export async function execIn(containerd: PrivateContainerd, id: string, execId: string, script: string): Promise<void> {
  await ctrOrThrow(containerd, ['task', 'exec', '--exec-id', execId, id, 'sh', '-c', script], RUN_TIMEOUT_MS);
}

const SHIM_EXIT_TIMEOUT_MS = 60_000;

/** Kills and removes every container of the namespace, then waits until their shims have exited. */
export async function removeSandboxes(containerd: PrivateContainerd): Promise<void> {
  const listed = await ctrOrThrow(containerd, ['containers', 'ls', '-q'], 30_000);
  for (const id of listed.split('\n').filter((line) => line !== '')) {
    await containerd.ctr(['task', 'rm', '-f', id], { namespace: NAMESPACE, timeoutMs: 60_000 });
    await ctrOrThrow(containerd, ['containers', 'rm', id], 30_000);
  }
  const deadline = performance.now() + SHIM_EXIT_TIMEOUT_MS;
  while (shimPidsServing(containerd.grpcAddress).length > 0) {
    if (performance.now() > deadline) throw new Error(`the shims did not exit within ${SHIM_EXIT_TIMEOUT_MS} ms`);
    await sleep(200);
  }
}
