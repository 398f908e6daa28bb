/** ListProcesses: every process in the container's cgroups, with its exec id and command line. */
import { closeSync, openSync, readSync } from 'node:fs';
import type { ProcessEntry } from '@vfs/proto/gen/agent/agent';
import type { Container } from '../container/container';

/**
 * A process's argv and environment may take megabytes (and a container's many children share
 * theirs at no cost to it): a command line is cut here, as ps cuts what it shows.
 */
export const COMMAND_MAX_BYTES = 4096;

function readCmdline(pid: number): string {
  const fd = openSync(`/proc/${pid}/cmdline`, 'r');
  try {
    const buf = Buffer.allocUnsafe(COMMAND_MAX_BYTES);
    return buf.toString('utf8', 0, readSync(fd, buf, 0, COMMAND_MAX_BYTES, 0));
  } finally {
    closeSync(fd);
  }
}

/** argv joined by spaces, or undefined when the process is already gone. */
export function commandOf(pid: number): string | undefined {
  try {
    return readCmdline(pid).replace(/\0$/, '').replaceAll('\0', ' ');
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
