// One timed `ctr run --rm <image> <id> true` against the private containerd. The wall-clock start
// (Date.now-comparable, sub-millisecond from performance.timeOrigin) anchors the shim's phase
// timestamps of the same run.

import type { PrivateContainerd } from '@vfs/harness/containerd';

export const RUNC_RUNTIME = 'io.containerd.runc.v2';
export const VFS_RUNTIME = 'io.containerd.vfs.v2';

export interface TimedRun {
  /** Wall clock (ms since the epoch) just before ctr was spawned, and when it had exited. */
  readonly startWallMs: number;
  readonly endWallMs: number;
  readonly ms: number;
}

const RUN_TIMEOUT_MS = 120_000;

function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export async function timeCtrRun(
  containerd: PrivateContainerd,
  namespace: string,
  runtime: string,
  image: string,
  id: string,
  /** A configuration.toml for this run's shim (ctr's --runtime-config-path). */
  configPath?: string,
  command: readonly string[] = ['true'],
): Promise<TimedRun> {
  const config = configPath === undefined ? [] : ['--runtime-config-path', configPath];
  const startWallMs = wallNow();
  const result = await containerd.ctr(['run', '--rm', '--runtime', runtime, ...config, image, id, ...command], {
    namespace,
    timeoutMs: RUN_TIMEOUT_MS,
  });
  const endWallMs = wallNow();
  if (result.code !== 0) {
    throw new Error(
      `ctr run --runtime ${runtime} ${id} failed (exit ${result.code}): ${`${result.stderr}${result.stdout}`.trim()}`,
    );
  }
  return { startWallMs, endWallMs, ms: endWallMs - startWallMs };
}
