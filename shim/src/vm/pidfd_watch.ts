// Watches a process the shim did not spawn (a warm pool's QEMU and daemon, handed over): not its
// parent, the shim gets no exit event, and a pid alone may be recycled. A pidfd names the process
// itself: it becomes readable when the process exits, and signals sent through it never reach a
// later process with the same pid.
import { constants } from 'node:os';
import { processStartTime } from '@vfs/contracts';
import { errnoName } from '../libc';
import { pidfdLibc } from './libc_pidfd';
import { fdPoller } from './pidfd_poller';

const { ESRCH } = constants.errno;

export interface PidWatch {
  readonly pid: number;
  /**
   * Resolves when the process exits (or has become a zombie). Never settles once close() was
   * called first; rejects only if poll(2) itself fails. While it is pending, the event loop stays
   * alive (one threadpool thread polls every watch).
   */
  readonly exited: Promise<void>;
  /**
   * Sends `signal` to the watched process through its pidfd: true when sent, false when the
   * process had already exited. Throws after close(), or when the kernel refuses (EPERM).
   */
  kill(signal?: NodeJS.Signals | number): boolean;
  /** Stops watching and releases the pidfd (within the shared poll's wake-up). Idempotent. */
  close(): void;
}

/** A watch that could not be made, or a signal that could not be sent; `code` is the errno name. */
export class PidWatchError extends Error {
  constructor(
    readonly pid: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'PidWatchError';
  }
}

/**
 * Watches `pid`. With `expectedStartTime` (field 22 of /proc/<pid>/stat, as SandboxState records
 * it), refuses a pid that now names another process. The check follows pidfd_open: if the pid still
 * names the expected process then, the pidfd opened before names it too.
 */
export function watchPid(pid: number, expectedStartTime?: string): PidWatch {
  const pidfd = pidfdLibc().pidfdOpen(pid);
  if (pidfd < 0) {
    const code = errnoName(-pidfd);
    const why = -pidfd === ESRCH ? 'no such process' : 'cannot open a pidfd';
    throw new PidWatchError(pid, `pidfd_open(pid ${pid}): ${code} (${why})`, code);
  }
  try {
    checkStartTime(pid, expectedStartTime);
    return new PidfdWatch(pid, pidfd);
  } catch (err) {
    pidfdLibc().close(pidfd);
    throw err;
  }
}

function checkStartTime(pid: number, expected: string | undefined): void {
  if (expected === undefined) return;
  const actual = processStartTime(pid);
  if (actual === expected) return;
  throw new PidWatchError(
    pid,
    `pid ${pid} is no longer the process that was handed over ` +
      `(start time ${actual ?? 'gone'}, expected ${expected})`,
  );
}

class PidfdWatch implements PidWatch {
  readonly exited: Promise<void>;
  private state: 'watching' | 'exited' | 'closed' = 'watching';

  constructor(
    readonly pid: number,
    private readonly pidfd: number,
  ) {
    const { promise, resolve, reject } = deferred();
    // A caller that never awaits `exited` must not crash the shim with an unhandled rejection.
    promise.catch(() => {});
    this.exited = promise;
    // Outside the Promise executor, which would turn a throw (no eventfd left) into a rejection.
    fdPoller.add(pidfd, (err) => {
      // The poller has closed the pidfd: after a failed poll, nothing can be signalled either.
      this.state = err === undefined ? 'exited' : 'closed';
      if (err === undefined) resolve();
      else reject(new PidWatchError(pid, `watching pid ${pid}: ${err.message}`));
    });
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.state === 'closed') throw new PidWatchError(this.pid, `pid ${this.pid}: signal through a closed watch`);
    if (this.state === 'exited') return false;
    const signo = typeof signal === 'number' ? signal : constants.signals[signal];
    const r = pidfdLibc().pidfdSendSignal(this.pidfd, signo);
    if (r === -ESRCH) return false;
    if (r < 0) {
      const code = errnoName(-r);
      throw new PidWatchError(this.pid, `pidfd_send_signal(pid ${this.pid}, ${signal}): ${code}`, code);
    }
    return true;
  }

  close(): void {
    if (this.state === 'watching') fdPoller.remove(this.pidfd);
    this.state = 'closed';
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
