// Waiting in e2e tests: on processes (by pid) and on conditions polled until they hold.

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSameProcess, procStatFields, type ProcessIdentity } from '@vfs/contracts';

const POLL_MS = 100;

/** A zombie has exited: it waits only for its parent (init, for a daemon) to reap it. */
function isZombie(pid: number): boolean {
  return procStatFields(pid)?.[0] === 'Z';
}

/** Whether a process with this pid runs (exists and has not exited); signal 0 checks without signalling. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    // It exists, but belongs to a user we may not signal.
    if (code === 'EPERM') return true;
    throw err;
  }
}

/** Whether a recorded process still runs: by pid and start time, so never a stranger that got its pid. */
export function stillRunning(identity: ProcessIdentity): boolean {
  return isSameProcess(identity) && pidAlive(identity.pid);
}

/** Polls `probe` until it returns a value, which it returns; undefined or false mean "not yet". */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

/** A process's cgroup path in each hierarchy (/proc/PID/cgroup: `id:controllers:path`). */
export function cgroupPathsOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(':').slice(2).join(':'));
}

/** The children of a process's main thread. */
export function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
}
