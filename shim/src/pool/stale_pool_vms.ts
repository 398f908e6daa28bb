// A pool VM left by a pool service that did not stop cleanly (killed, host crash): no shim adopted
// it (an adopter writes ADOPTED_MARKER into its dir first), so nobody else will stop it. Its
// recorded processes are killed by pid and start time, its mounts undone, its dirs removed.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isSameProcess } from '@vfs/contracts';
import { removeUnmountedTree, unmountAll } from '../host_mounts';
import type { ShimLogger } from '../logger';
import { SandboxState } from '../sandbox_state';
import { ADOPTED_MARKER } from '../vm_runtime/adopt_vm';
import { poolVmLayout } from '../vm_runtime/sandbox_layout';
import { killAndWait } from '../cleanup';

export async function removeStalePoolVm(runDir: string, id: string, log: ShimLogger): Promise<void> {
  const layout = poolVmLayout(runDir, id);
  if (existsSync(join(layout.stateDir, ADOPTED_MARKER))) return;
  const state = new SandboxState(layout.stateDir);
  log.warn(
    {
      poolVm: id,
      alive: state
        .pids()
        .filter(isSameProcess)
        .map((r) => r.pid),
    },
    'stopping a VM an earlier pool left',
  );
  await killAndWait(state.pids(), log);
  await unmountAll(state);
  await removeUnmountedTree(layout.socketDir);
  await removeUnmountedTree(layout.stateDir);
}
