// OOM kills in the guest: GetOOMEvent blocks until the OOM killer hits a container of the
// sandbox, so one call is kept outstanding for the sandbox's life and each answer becomes a
// /tasks/oom event. It ends when the connection does (VM stopped or lost). The guest's answers are
// not trusted: `onOom` is oom_filter.ts's, which checks, throttles and logs them.

import { errorMessage } from '@vfs/contracts';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import type { ShimLogger } from '../logger';
import type { AgentClient } from './agent_dial';

export async function watchOom(
  agent: AgentClient,
  onOom: (containerId: string) => void,
  log: ShimLogger,
): Promise<void> {
  for (;;) {
    let event: { containerId: string };
    try {
      event = await agent.getOOMEvent({});
    } catch (err) {
      const unavailable = err instanceof TtrpcError && err.code === Code.Unavailable;
      if (!unavailable) log.warn({ err: errorMessage(err) }, 'OOM events from the guest stopped');
      return;
    }
    onOom(event.containerId);
  }
}
