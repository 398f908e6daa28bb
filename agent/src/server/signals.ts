/** Signal numbers from the wire, and signalling every process of a container. */
import type { Container } from '../container/container';
import { invalid } from './call_errors';

/** Linux has signals 1..64 (SIGRTMAX). */
const SIGNAL_MAX = 64;

export function checkSignal(signal: number): number {
  if (!Number.isInteger(signal) || signal < 1 || signal > SIGNAL_MAX)
    throw invalid(`signal ${signal} is not in 1..${SIGNAL_MAX}`);
  return signal;
}

const SIGKILL = 9;

/**
 * Every process in the container's cgroups (guest pids: the agent's pid namespace is the
 * guest's). SIGKILL goes through cgroup.kill, which no fork escapes; another signal goes to each
 * process listed, as runc sends it.
 */
export function signalAll(container: Container, signal: number): void {
  if (signal === SIGKILL) {
    container.killAll();
    return;
  }
  for (const pid of container.pids()) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      // Exited since the cgroup was listed: nothing left to signal.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}
