/** Process calls: exec, signal, wait, list, and the OOM event stream of the sandbox. */
import { ExitReason } from '@vfs/proto/gen/containerd/types/task/task';
import type { AgentState } from './agent_state';
import { execProcess } from './container_request';
import type { Handlers } from './handler_types';
import { listProcesses } from './process_list';
import { checkSignal, signalAll } from './signals';

/** 128 + SIGKILL: how a process the OOM killer took exits. */
const KILLED_STATUS = 137;

export function processHandlers(
  state: AgentState,
): Handlers<'execProcess' | 'signalProcess' | 'waitProcess' | 'listProcesses' | 'getOOMEvent'> {
  const { registry, log } = state;
  return {
    execProcess: async (request) => {
      const container = registry.get(request.containerId);
      const proc = await container.exec(request.execId, execProcess(request.processJson, request.terminal));
      if (!request.stdin && !request.terminal) proc.closeStdin();
      log.info({ container: container.id, exec: request.execId, pid: proc.pid }, 'exec started');
      return { pid: proc.pid };
    },
    signalProcess: async (request) => {
      const container = registry.get(request.containerId);
      const signal = checkSignal(request.signal);
      if (request.all) signalAll(container, signal);
      else container.signal(signal, request.execId);
      return {};
    },
    waitProcess: async (request) => {
      const exit = await registry.get(request.containerId).wait(request.execId);
      const oom = exit.status === KILLED_STATUS && state.oom.wasKilled(request.containerId);
      return {
        exitStatus: exit.status,
        exitedAt: exit.exitedAt,
        exitReason: oom ? ExitReason.OOMKILLED : ExitReason.NONE,
      };
    },
    listProcesses: async (request) => ({ processes: listProcesses(registry.get(request.containerId)) }),
    getOOMEvent: async (_request, ctx) => ({ containerId: await state.oom.next(ctx.signal) }),
  };
}
