/** ListProcesses: every process in the container's cgroup, with its exec id and command line. */
import { readFileSync } from 'node:fs';
import type { ProcessEntry } from '@vfs/proto/gen/agent/agent';
import type { Container } from '../container/container';

/** argv joined by spaces, or undefined when the process is already gone. */
function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').replaceAll('\0', ' ');
  } catch (err) {
    // Exited between the cgroup listing and this read: it is no longer running, so not listed.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH')
      return undefined;
    throw err;
  }
}

export function listProcesses(container: Container): ProcessEntry[] {
  const execIds = container.execIdsByPid();
  const entries: ProcessEntry[] = [];
  for (const pid of container.pids()) {
    const command = commandOf(pid);
    if (command !== undefined) entries.push({ pid, execId: execIds.get(pid) ?? '', command });
  }
  return entries;
}
