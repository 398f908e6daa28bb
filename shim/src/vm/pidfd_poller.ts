// One poll(2) over every watched fd, blocked on one libuv threadpool thread. A poll per fd would
// hold one of the pool's four threads each (and with them fs, dns and crypto work): a fifth watch
// would never start. An eventfd wakes the poll when the set changes, so it is rebuilt, or ended
// when the set is empty. A poll in progress keeps the event loop alive (Node-API async work cannot
// be unref'd); with nothing watched there is none, and the wake eventfd is closed too.
import { constants } from 'node:os';
import { errnoName } from '../libc';
import { pidfdLibc } from './libc_pidfd';

/** Called once: when the fd is readable, or with the error that ended the poll. */
export type ReadyHandler = (err?: Error) => void;

const POLLFD_SIZE = 8; // struct pollfd { int fd; short events; short revents; }
const POLLIN = 1;
const { EINTR } = constants.errno;

class FdPoller {
  private readonly watched = new Map<number, ReadyHandler>();
  /** Removed while a poll held them: closed when it returns, so their numbers are not reused under it. */
  private removedWhilePolling: number[] = [];
  private wakeFd = -1;
  private polling = false;
  private exitHooked = false;

  /** Takes `fd` over: calls `onReady` once it is readable, after closing it. */
  add(fd: number, onReady: ReadyHandler): void {
    this.openWakeFd();
    this.watched.set(fd, onReady);
    if (this.polling) pidfdLibc().signalEventfd(this.wakeFd);
    else this.poll();
  }

  /** Stops watching `fd` (its handler is never called) and closes it, once no poll holds it. */
  remove(fd: number): void {
    if (!this.watched.delete(fd)) return;
    if (!this.polling) return pidfdLibc().close(fd);
    this.removedWhilePolling.push(fd);
    pidfdLibc().signalEventfd(this.wakeFd);
  }

  private openWakeFd(): void {
    if (this.wakeFd >= 0) return;
    const fd = pidfdLibc().eventfd();
    if (fd < 0) throw new Error(`eventfd: ${errnoName(-fd)}`);
    this.wakeFd = fd;
    if (!this.exitHooked) process.on('exit', () => this.releaseThreadAtExit());
    this.exitHooked = true;
  }

  /**
   * process.exit() joins the threadpool's threads, and would wait forever for one blocked in poll:
   * wake it. Its completion never runs (the loop has stopped), so it does not poll again.
   */
  private releaseThreadAtExit(): void {
    if (this.polling) pidfdLibc().signalEventfd(this.wakeFd);
  }

  private poll(): void {
    const fds = [this.wakeFd, ...this.watched.keys()];
    const pollfds = Buffer.alloc(fds.length * POLLFD_SIZE);
    fds.forEach((fd, i) => {
      pollfds.writeInt32LE(fd, i * POLLFD_SIZE);
      pollfds.writeInt16LE(POLLIN, i * POLLFD_SIZE + 4);
    });
    this.polling = true;
    pidfdLibc().pollAsync(pollfds, fds.length, (err, result) => {
      const failure = err ?? (result < 0 && result !== -EINTR ? new Error(`poll: ${errnoName(-result)}`) : undefined);
      this.polled(fds, pollfds, failure);
    });
  }

  /** After a poll: settles what it saw, then polls again while anything is watched. */
  private polled(fds: readonly number[], pollfds: Buffer, failure: Error | undefined): void {
    const libc = pidfdLibc();
    this.polling = false;
    for (const fd of this.removedWhilePolling) libc.close(fd);
    this.removedWhilePolling = [];
    const revents = (i: number): number => pollfds.readInt16LE(i * POLLFD_SIZE + 6);
    const ready: ReadyHandler[] = [];
    for (let i = 1; i < fds.length; i++) {
      const handler = this.watched.get(fds[i]);
      if (handler === undefined || (failure === undefined && revents(i) === 0)) continue;
      this.watched.delete(fds[i]);
      libc.close(fds[i]);
      ready.push(handler);
    }
    if (revents(0) !== 0) libc.drainEventfd(this.wakeFd);
    if (this.watched.size > 0) this.poll();
    else {
      libc.close(this.wakeFd);
      this.wakeFd = -1;
    }
    for (const handler of ready) handler(failure);
  }
}

/** The process's one poller: one threadpool thread however many fds are watched. */
export const fdPoller = new FdPoller();
