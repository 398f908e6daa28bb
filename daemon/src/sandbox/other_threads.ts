// Capabilities are per thread: capset(2) changes only its caller, and Node starts its other threads
// (V8's platform workers, the inspector's signal watchdog) before the daemon can build its sandbox.
// glibc's set*id functions are the one way to make every thread make a call: each is signalled
// with SIGSETXID, which no thread may block. A thread whose uids all leave 0 loses every capability
// (capabilities(7)) unless it set keep-caps, which only the main thread does; the main thread then
// takes uid and gid 0 back with the raw system calls, for itself alone. The other threads are left
// as nobody with no capabilities; threads started later are the main thread's clones.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setProcessIds, setThreadIds } from '../sys/creds';
import { raiseEffectiveCapabilities, setKeepCapabilities } from '../sys/security';
import { SandboxError } from './errors';

/** The kernel's overflow uid and gid ("nobody"): owns nothing the daemon serves. */
export const OTHER_THREADS_ID = 65534;

/** Call on the main thread while it is root with every capability it will need. */
export function dropOtherThreadsCapabilities(): void {
  setKeepCapabilities(true);
  try {
    setProcessIds(OTHER_THREADS_ID);
    // Leaving uid 0 emptied the main thread's effective set; keep-caps kept the permitted one.
    raiseEffectiveCapabilities();
    setThreadIds(0);
  } finally {
    setKeepCapabilities(false);
  }
  checkOtherThreads();
}

/** Status fields of a thread of ours; null once it has exited. */
function threadStatus(tid: string): Map<string, string> | null {
  let text: string;
  try {
    text = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return new Map(text.split('\n').map((line) => line.split(':\t') as [string, string]));
}

/** Refuses to go on when a thread other than the main one still holds a capability. */
function checkOtherThreads(): void {
  const main = readlinkSync('/proc/self');
  for (const tid of readdirSync('/proc/self/task')) {
    if (tid === main) continue;
    const status = threadStatus(tid);
    if (status === null) continue;
    for (const set of ['CapPrm', 'CapEff']) {
      if (/^0+$/.test(status.get(set) ?? '')) continue;
      throw new SandboxError(
        `thread ${tid} (${status.get('Name')}) still holds capabilities (${set} ${status.get(set)}) after every thread left uid 0`,
      );
    }
  }
}
