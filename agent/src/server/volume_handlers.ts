/**
 * Volumes of a running container (AddContainerMount/RemoveContainerMount): the shim has hot-plugged
 * and mounted the share (MountShare); these put a directory of it into the container's mounts and
 * take it out again. A destination that is a mount point already is refused, and so is removing a
 * volume that a process still uses.
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { posix } from 'node:path';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import { ContainerError } from '../container/errors';
import { addMountPlan, removeMountPlan } from '../container/live_mounts';
import { Launch } from '../container/process_launcher';
import type { AgentState } from './agent_state';
import { invalid } from './call_errors';
import type { Handlers } from './handler_types';

function checkDestination(destination: string): void {
  if (
    !posix.isAbsolute(destination) ||
    posix.normalize(destination) !== destination ||
    destination === '/' ||
    destination.includes('\0')
  ) {
    throw invalid(`volume destination "${destination}" must be a normalized absolute path other than /`);
  }
}

/** Mount points of a process's mount namespace, as its root sees them (mountinfo's fifth field). */
function mountPoints(pid: number): Set<string> {
  const lines = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n');
  return new Set(lines.map((line) => line.split(' ')[4] ?? '').filter((point) => point !== ''));
}

function runningInit(state: AgentState, containerId: string): number {
  const container = state.registry.get(containerId);
  if (container.status === 'stopped') {
    throw new TtrpcError(
      Code.FailedPrecondition,
      `container ${containerId} is stopped: volumes go to running containers`,
    );
  }
  return container.init.pid;
}

async function run(state: AgentState, plan: ReturnType<typeof addMountPlan>, containerId: string): Promise<void> {
  await new Launch({ launcherPath: state.launcherPath, plan, context: { containerId } }).done;
}

export function volumeHandlers(state: AgentState): Handlers<'addContainerMount' | 'removeContainerMount'> {
  return {
    addContainerMount: async (request) => {
      const mount = request.mount;
      if (mount === undefined) throw invalid('AddContainerMount without a mount');
      checkDestination(mount.destination);
      const pid = runningInit(state, request.containerId);
      if (mountPoints(pid).has(mount.destination)) {
        throw new TtrpcError(
          Code.AlreadyExists,
          `container ${request.containerId}: ${mount.destination} is a mount point already`,
        );
      }
      const source = state.shares.resolve(mount.source, `volume ${mount.destination}`);
      await run(
        state,
        addMountPlan(pid, { source, destination: mount.destination, readonly: mount.readonly }),
        request.containerId,
      );
      state.log.info(
        { container: request.containerId, destination: mount.destination, readonly: mount.readonly },
        'volume added',
      );
      return {};
    },
    removeContainerMount: async (request) => {
      checkDestination(request.destination);
      const pid = runningInit(state, request.containerId);
      if (!mountPoints(pid).has(request.destination)) {
        throw new TtrpcError(Code.NotFound, `container ${request.containerId}: no volume at ${request.destination}`);
      }
      try {
        await run(state, removeMountPlan(pid, request.destination), request.containerId);
      } catch (err) {
        if (err instanceof ContainerError && err.errno === constants.errno.EBUSY) {
          throw new TtrpcError(
            Code.FailedPrecondition,
            `container ${request.containerId}: volume ${request.destination} is busy`,
            { cause: err },
          );
        }
        throw err;
      }
      state.log.info({ container: request.containerId, destination: request.destination }, 'volume removed');
      return {};
    },
  };
}
