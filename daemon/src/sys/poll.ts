// poll(2) over a fixed set of fds, for callers that block on a few fds at once (the test
// front-end waits on a call eventfd and the back-end request channel).
import { libc, lastErrno, SysError } from './libc';
import { EINTR } from './fd';

const pollFn = libc.func('int poll(void *fds, unsigned long nfds, int timeout)');

export const POLLIN = 0x001;

const POLLFD_SIZE = 8;

export class PollSet {
  private readonly pollfds: Buffer;

  constructor(fds: readonly number[], events: number = POLLIN) {
    this.pollfds = Buffer.alloc(POLLFD_SIZE * fds.length);
    fds.forEach((fd, i) => {
      this.pollfds.writeInt32LE(fd, i * POLLFD_SIZE);
      this.pollfds.writeInt16LE(events, i * POLLFD_SIZE + 4);
    });
  }

  get size(): number {
    return this.pollfds.length / POLLFD_SIZE;
  }

  /** Waits up to `timeoutMs`; returns how many fds are ready (0 on timeout or EINTR). */
  wait(timeoutMs: number): number {
    for (let i = 0; i < this.size; i++) this.pollfds.writeInt16LE(0, i * POLLFD_SIZE + 6);
    const n = pollFn(this.pollfds, this.size, timeoutMs) as number;
    if (n >= 0) return n;
    const errno = lastErrno();
    if (errno === EINTR) return 0;
    throw new SysError('poll', errno);
  }

  revents(i: number): number {
    return this.pollfds.readInt16LE(i * POLLFD_SIZE + 6);
  }
}
