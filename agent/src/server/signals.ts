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

/** Every process in the container's cgroup (guest pids: the agent's pid namespace is the guest's). */
export function signalAll(container: Container, signal: number): void {
  for (const pid of container.pids()) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      // Exited since the cgroup was listed: nothing left to signal.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}
