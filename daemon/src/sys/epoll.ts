// epoll(7) for the device loop. Each registration carries a 32-bit token (the low half of
// epoll_data) so the loop dispatches on a number, never on an object lookup.
import { libc, lastErrno, SysError } from './libc';
import { close, EINTR } from './fd';

const createFn = libc.func('int epoll_create1(int flags)');
const ctlFn = libc.func('int epoll_ctl(int epfd, int op, int fd, void *event)');
const waitFn = libc.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)');

export const EPOLLIN = 0x001;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLRDHUP = 0x2000;
/** Edge-triggered: reported once per change (for an eventfd, once per write). */
export const EPOLLET = 0x8000_0000;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;

// struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16 bytes).
const EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

export class Epoll {
  readonly fd: number;
  private readonly events: Buffer;
  private readonly view: DataView;
  private readonly ctlEvent = Buffer.alloc(EVENT_SIZE);
  private wasInterrupted = false;

  constructor(readonly maxEvents = 64) {
    this.fd = createFn(EPOLL_CLOEXEC) as number;
    if (this.fd < 0) throw new SysError('epoll_create1', lastErrno());
    this.events = Buffer.alloc(EVENT_SIZE * maxEvents);
    this.view = new DataView(this.events.buffer, this.events.byteOffset, this.events.byteLength);
  }

  add(fd: number, events: number, token: number): void {
    this.ctlEvent.fill(0);
    this.ctlEvent.writeUInt32LE(events >>> 0, 0);
    this.ctlEvent.writeUInt32LE(token, DATA_OFFSET);
    if ((ctlFn(this.fd, EPOLL_CTL_ADD, fd, this.ctlEvent) as number) < 0) {
      throw new SysError(`epoll_ctl(ADD, ${fd})`, lastErrno());
    }
  }

  remove(fd: number): void {
    if ((ctlFn(this.fd, EPOLL_CTL_DEL, fd, this.ctlEvent) as number) < 0) {
      throw new SysError(`epoll_ctl(DEL, ${fd})`, lastErrno());
    }
  }

  /** The last wait was cut short by a signal (it returned 0 then). */
  get interrupted(): boolean {
    return this.wasInterrupted;
  }

  /** Waits up to `timeoutMs` (-1 forever); returns the number of ready entries (0 on EINTR). */
  wait(timeoutMs: number): number {
    const n = waitFn(this.fd, this.events, this.maxEvents, timeoutMs) as number;
    this.wasInterrupted = false;
    if (n >= 0) return n;
    const errno = lastErrno();
    if (errno !== EINTR) throw new SysError('epoll_wait', errno);
    this.wasInterrupted = true;
    return 0;
  }

  close(): void {
    close(this.fd);
  }

  eventsAt(i: number): number {
    return this.view.getUint32(i * EVENT_SIZE, true);
  }

  tokenAt(i: number): number {
    return this.view.getUint32(i * EVENT_SIZE + DATA_OFFSET, true);
  }
}
