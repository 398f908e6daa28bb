// `delete`: containerd runs it (cwd = bundle, `-id ID -bundle DIR delete`) when it cannot reach
// the shim, typically after the shim died. It must leave nothing behind without the shim's help:
// the recorded helper processes (QEMU, the daemon, a test double's processes, the shim itself) are
// killed by pid — only if their kernel start time still matches — every journalled mount is
// unmounted, the netns made for a Docker container is deleted, and the VM's socket dir and the state dir (and a
// VM adopted from the warm pool, its own dirs) are removed (refusing while anything is
// still mounted in them, so a recursive delete never reaches a container's files). It answers with a protobuf DeleteResponse whose exit status is 128 + SIGKILL, as
// runc's shim does: the task is reported killed.

import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSameProcess } from '@vfs/contracts';
import { DeleteResponse } from '@vfs/proto/gen/containerd/runtime/task/v2/shim';
import type { ShimFlags } from './flags';
import { removeUnmountedTree, unmountAll, unmountContainer } from './host_mounts';
import type { ShimLogger } from './logger';
import { readBundleSpec, sandboxIdOf } from './oci_spec';
import { removeLeftoverDockerNetns } from './pod_network/docker_netns';
import { DAEMON_RECORD, type PidRecord, SandboxState } from './sandbox_state';
import { runDir, sandboxPaths } from './shim_paths';
import { adoptedLayout } from './vm_runtime/sandbox_layout';
import { removeSandboxCgroups } from './vm_runtime/sandbox_cgroup';

const KILLED_STATUS = 128 + 9;
const KILL_WAIT_MS = 5000;

function sandboxOfBundle(bundle: string, id: string, log: ShimLogger): string {
  try {
    return sandboxIdOf(readBundleSpec(bundle), id);
  } catch (err) {
    log.warn({ err: String(err) }, 'bundle spec unreadable: treating the container as its own sandbox');
    return id;
  }
}

/**
 * SIGKILL to a recorded process; for the daemon, to its process group (it runs in a session of
 * its own): its pid is unshare's, whose --kill-child signal the daemon sets again after each id
 * change, but would miss should unshare die while a request's ids are switched.
 */
function killRecorded(record: PidRecord): void {
  if (record.name === DAEMON_RECORD) {
    try {
      process.kill(-record.pid, 'SIGKILL');
      return;
    } catch (err) {
      // Not a group leader (--sandbox=chroot or none under another supervisor): the pid alone.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  process.kill(record.pid, 'SIGKILL');
}

export async function killAndWait(records: readonly PidRecord[], log: ShimLogger): Promise<void> {
  const alive = records.filter(isSameProcess);
  for (const record of alive) {
    log.info({ name: record.name, pid: record.pid }, 'killing leftover process');
    killRecorded(record);
  }
  const deadline = Date.now() + KILL_WAIT_MS;
  while (alive.some(isSameProcess)) {
    if (Date.now() > deadline)
      throw new Error(
        `processes still alive after SIGKILL: ${alive
          .filter(isSameProcess)
          .map((r) => r.pid)
          .join(', ')}`,
      );
    await sleep(20);
  }
}

/**
 * Everything of a sandbox its state records or its paths name. The serving shim runs it too, as
 * the last step of its Shutdown with its own pid forgotten (serve.ts), so that `delete` then has
 * nothing to do.
 */
export async function removeSandbox(namespace: string, sandboxId: string, log: ShimLogger): Promise<void> {
  const paths = sandboxPaths(runDir(), namespace, sandboxId);
  const state = new SandboxState(paths.stateDir);
  await killAndWait(state.pids(), log);
  await removeSandboxCgroups(state.cgroups(), log);
  await unmountAll(state);
  const adopted = adoptedLayout(paths.stateDir);
  if (adopted !== undefined) {
    await removeUnmountedTree(adopted.socketDir);
    await removeUnmountedTree(adopted.stateDir);
  }
  await removeLeftoverDockerNetns(sandboxId);
  await rm(paths.socket, { force: true });
  await removeUnmountedTree(paths.vmSocketDir);
  await removeUnmountedTree(paths.stateDir);
}

export async function deleteAfterShim(flags: ShimFlags, log: ShimLogger): Promise<Uint8Array> {
  const sandboxId = sandboxOfBundle(flags.bundle, flags.id, log);
  const paths = sandboxPaths(runDir(), flags.namespace, sandboxId);
  const state = new SandboxState(paths.stateDir);
  const shim = state.pid('shim');
  if (shim !== undefined && isSameProcess(shim) && sandboxId !== flags.id) {
    // The pod's shim still serves its other containers: release only this container's mounts.
    await unmountContainer(state, flags.id);
  } else {
    await removeSandbox(flags.namespace, sandboxId, log);
  }
  return DeleteResponse.encode({ pid: 0, exitStatus: KILLED_STATUS, exitedAt: new Date() }).finish();
}
