/**
 * The AgentService server: Check and GetGuestDetails answer from what is already loaded; every
 * other call loads `handlers` (the container core) on first use, or preload() loads it ahead.
 */
import { errorMessage } from '@vfs/contracts';
import { AgentServiceDefinition, CheckResponse_ServingStatus } from '@vfs/proto/gen/agent/agent';
import { Code, TtrpcError, TtrpcServer, type ServiceImplementation } from '@vfs/proto/ttrpc';
import type { RuntimeOptions } from '../container/container';
import { guestDetails } from './guest_details';
import { lazyImplementation } from './lazy_service';
import type { AgentLogger } from './logger';

type AgentImplementation = ServiceImplementation<typeof AgentServiceDefinition>;

const eager: Pick<AgentImplementation, 'check' | 'getGuestDetails'> = {
  // Health of the agent as a whole ('') or of its one service, as gRPC health checking names it.
  check: async (request) => {
    if (request.service !== '' && request.service !== AgentServiceDefinition.fullName) {
      throw new TtrpcError(Code.NotFound, `unknown service "${request.service}"`);
    }
    return { status: CheckResponse_ServingStatus.SERVING };
  },
  getGuestDetails: async () => guestDetails(),
};

export interface AgentServer {
  readonly server: TtrpcServer;
  /** Loads the container core in the background (see lazy_service.ts). */
  preload(): void;
}

export function agentServer(log: AgentLogger, options: RuntimeOptions): AgentServer {
  const lazy = lazyImplementation(AgentServiceDefinition, eager, async () => {
    const { agentHandlers } = await import('./handlers.js');
    return agentHandlers(log, options);
  });
  return {
    server: new TtrpcServer({ logger: log }).register(AgentServiceDefinition, lazy.implementation),
    preload: () => {
      lazy.preload();
      // The guest's one-time set-up too (guest_setup.ts), then the first spare launcher. The first
      // container retries a failed set-up and reports it.
      import('../container/guest_setup.js')
        .then(({ ensureGuestSetup }) => ensureGuestSetup())
        .then(() => options.spareLauncher?.fill())
        .catch((err: unknown) =>
          log.warn({ err: errorMessage(err) }, 'guest set-up ahead of the first container failed'),
        );
    },
  };
}
