// A process named across time: its pid and kernel start time. A pid is recycled once its process
// is reaped, so whoever later signals, adopts or waits for a recorded process (the shim's
// `delete`, a shim adopting a pooled VM, the tests' clean-up) checks both, and never a stranger.

import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: identifies this process among all that ever had the pid. */
  readonly startTime: string;
}

/**
 * The fields of /proc/<pid>/stat after the command name, from the state (field 3) on; undefined
 * when no such process exists.
 */
export function procStatFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: count fields after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The start time of a live pid, or undefined when no such process exists. */
export function processStartTime(pid: number): string | undefined {
  return procStatFields(pid)?.[19];
}

/**
 * Whether the pid still names this process, not another that got the pid since. A zombie (exited,
 * not yet reaped) still does.
 */
export function isSameProcess(identity: ProcessIdentity): boolean {
  return processStartTime(identity.pid) === identity.startTime;
}
