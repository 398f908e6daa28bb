/** Container lifecycle calls: create (init held at its barrier), start, remove, pause, resume, update, stats. */
import { errorMessage, parseResources, SpecError } from '@vfs/contracts';
import type { AgentState } from './agent_state';
import { containerConfig } from './container_request';
import type { Handlers } from './handler_types';
import { toMetrics } from './metrics';
import { removeContainer } from './removal';

function resourcesOf(json: Buffer): ReturnType<typeof parseResources> {
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new SpecError('$', `resources are not JSON: ${errorMessage(err)}`);
  }
  return parseResources(value);
}

export function containerHandlers(
  state: AgentState,
): Handlers<
  | 'createContainer'
  | 'startContainer'
  | 'removeContainer'
  | 'pauseContainer'
  | 'resumeContainer'
  | 'updateContainer'
  | 'statsContainer'
> {
  const { registry, log } = state;
  return {
    createContainer: async (request) => {
      const config = containerConfig(request, state.shares);
      // Every create carries the sandbox's set-up until one that did succeeds: creates running at
      // once each run it (the steps may run twice), and one that failed leaves it to the next.
      const setup = state.pendingSetup;
      const container = await registry.create({ ...config, sandboxSetup: setup?.() });
      if (state.pendingSetup === setup) state.pendingSetup = undefined;
      // Without stdin the process reads EOF at once, as from /dev/null.
      if (!request.stdin && !request.terminal) container.init.closeStdin();
      state.oom.watch(container.id);
      log.info({ container: container.id, pid: container.init.pid }, 'container created');
      return { pid: container.init.pid };
    },
    startContainer: async (request) => {
      const container = registry.get(request.containerId);
      await container.start();
      log.info({ container: container.id, pid: container.init.pid }, 'container started');
      return { pid: container.init.pid };
    },
    removeContainer: async (request) => {
      await removeContainer(state, request.containerId, request.timeoutMs);
      return {};
    },
    pauseContainer: async (request) => {
      await registry.get(request.containerId).pause();
      return {};
    },
    resumeContainer: async (request) => {
      await registry.get(request.containerId).resume();
      return {};
    },
    updateContainer: async (request) => {
      registry.get(request.containerId).update(resourcesOf(request.resourcesJson));
      return {};
    },
    statsContainer: async (request) => ({ metrics: toMetrics(registry.get(request.containerId).stats()) }),
  };
}
