/**
 * Removing a container (RemoveContainer, DestroySandbox): SIGKILL to every process of it, wait
 * for the exits (at most `timeoutMs`, 0 = no limit), stop its OOM watch, delete it (which waits
 * for the cgroup to empty, removes it and closes the agent's ends of the stdio).
 */
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import type { AgentState } from './agent_state';

async function within<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  if (timeoutMs === 0) return work;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TtrpcError(Code.DeadlineExceeded, `${what} within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export async function removeContainer(state: AgentState, containerId: string, timeoutMs: number): Promise<void> {
  const container = state.registry.get(containerId);
  container.killAll();
  await within(container.kill(), timeoutMs, `container ${containerId}: processes did not exit after SIGKILL`);
  state.oom.unwatch(containerId);
  await state.registry.delete(containerId);
  state.log.info({ container: containerId }, 'container removed');
}
