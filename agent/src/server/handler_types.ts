/** The AgentService handler types the handler files implement a part of. */
import type { AgentServiceDefinition } from '@vfs/proto/gen/agent/agent';
import type { ServiceImplementation } from '@vfs/proto/ttrpc';

export type AgentImplementation = ServiceImplementation<typeof AgentServiceDefinition>;
export type Handlers<K extends keyof AgentImplementation> = Pick<AgentImplementation, K>;
/** What handlers.ts provides: all but the calls agent_server.ts answers without loading it. */
export type LazyImplementation = Omit<AgentImplementation, 'check' | 'getGuestDetails'>;
