/**
 * Every AgentService call (loaded on first use, see agent_server.ts). Each handler's failure
 * becomes a ttrpc status with the cause (call_errors.ts) and a log line naming the container;
 * the agent goes on serving.
 */
import type { RuntimeOptions } from '../container/container';
import { agentState } from './agent_state';
import { asTtrpcError } from './call_errors';
import { containerHandlers } from './container_handlers';
import type { LazyImplementation } from './handler_types';
import type { AgentLogger } from './logger';
import { processHandlers } from './process_handlers';
import { sandboxHandlers } from './sandbox_handlers';
import { stdioHandlers } from './stdio_handlers';
import { volumeHandlers } from './volume_handlers';

type ErasedHandler = (request: { containerId?: string; execId?: string }, ...rest: unknown[]) => Promise<unknown>;

function withErrorStatus(log: AgentLogger, handlers: LazyImplementation): LazyImplementation {
  const wrapped: Record<string, ErasedHandler> = {};
  for (const [name, handler] of Object.entries(handlers) as [string, ErasedHandler][]) {
    wrapped[name] = async (request, ...rest) => {
      try {
        return await handler(request, ...rest);
      } catch (err) {
        const status = asTtrpcError(err);
        log.warn(
          { call: name, container: request.containerId, exec: request.execId || undefined, err: status.toString() },
          'call failed',
        );
        throw status;
      }
    };
  }
  return wrapped as unknown as LazyImplementation;
}

export function agentHandlers(log: AgentLogger, options: RuntimeOptions): LazyImplementation {
  const state = agentState(log, options);
  return withErrorStatus(log, {
    ...sandboxHandlers(state),
    ...containerHandlers(state),
    ...processHandlers(state),
    ...stdioHandlers(state),
    ...volumeHandlers(state),
  });
}
