// Capabilities are per thread: capset(2) changes only its caller, and Node starts its other threads
// (V8's platform workers, the inspector's signal watchdog) before the daemon can build its sandbox.
// glibc's set*id functions are the one way to make every thread make a call: each is signalled
// with SIGSETXID, which no thread may block. A thread whose uids all leave 0 loses every capability
// (capabilities(7)) unless it set keep-caps, which only the main thread does; the main thread then
// takes uid and gid 0 back with the raw system calls, for itself alone. Threads started later are
// the main thread's clones. The others share its memory and fds, so what this buys is that no
// thread holds more than the serving thread's kept set (ARCHITECTURE.md, 'The daemon's defences').
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setProcessIds, setThreadIds, threadIds } from '../sys/creds';
import { rememberParentDeathSignal, restoreParentDeathSignal } from '../sys/parent_death';
import { raiseEffectiveCapabilities, setKeepCapabilities, setNotDumpable } from '../sys/security';
import { SandboxError } from './errors';

/**
 * The other threads' uid and gid, (uid_t)-2: whoever runs as a thread's uid may signal it or set
 * the process's limits, so not nobody's 65534, which host services run as; no Debian account has
 * this one.
 */
export const OTHER_THREADS_ID = 0xffff_fffe;

/** Call on the main thread while it is root with every capability it will need. */
export function dropOtherThreadsCapabilities(): void {
  const ids = threadIds();
  if (ids.some((id) => id !== 0)) {
    throw new SandboxError(
      `the sandbox needs the daemon to run as root (uids and gids 0), it runs as uids ${ids.slice(0, 3).join(' ')}, gids ${ids.slice(3).join(' ')}`,
    );
  }
  // unshare --kill-child's SIGKILL at its death, which the id changes clear.
  const deathSignal = rememberParentDeathSignal();
  const parent = parentPid();
  setKeepCapabilities(true);
  try {
    setProcessIds(OTHER_THREADS_ID);
    // Leaving uid 0 emptied the main thread's effective set; keep-caps kept the permitted one.
    raiseEffectiveCapabilities();
    setThreadIds(0);
  } finally {
    setKeepCapabilities(false);
  }
  if (deathSignal !== 0) {
    restoreParentDeathSignal();
    // Died while the signal was off: nobody would stop us.
    if (parentPid() !== parent) throw new SandboxError('the parent (unshare) died while the sandbox was being built');
  }
  // Where fs.suid_dumpable is not 0 the id change left the process dumpable: a process with the
  // other threads' uid could ptrace one.
  setNotDumpable();
  checkOtherThreads();
}

/** Our parent's pid as /proc shows it (the host's /proc: in a pid namespace of our own getppid() is 0). */
function parentPid(): string | undefined {
  return /^PPid:\t(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
}

/** Status fields of a thread of ours; null once it has exited. */
function threadStatus(tid: string): Map<string, string> | null {
  let text: string;
  try {
    text = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw err;
  }
  return new Map(text.split('\n').map((line) => line.split(':\t') as [string, string]));
}

const NO_CAPABILITY = /^0+$/;

/** Refuses to go on when a thread other than the main one is still root or holds a capability. */
function checkOtherThreads(): void {
  const main = readlinkSync('/proc/self');
  for (const tid of readdirSync('/proc/self/task')) {
    if (tid === main) continue;
    const status = threadStatus(tid);
    if (status === null) continue;
    const uids = status.get('Uid')?.split('\t') ?? [];
    const held = ['CapPrm', 'CapEff', 'CapAmb'].filter((set) => !NO_CAPABILITY.test(status.get(set) ?? ''));
    if (uids.length === 4 && uids.every((id) => id === String(OTHER_THREADS_ID)) && held.length === 0) continue;
    throw new SandboxError(
      `thread ${tid} (${status.get('Name')}) kept uids ${uids.join(' ')} and ${held.map((set) => `${set} ${status.get(set)}`).join(', ') || 'no capability'} after every thread left uid 0`,
    );
  }
}
