// A bound datagram socket standing in for the system log's /dev/log (Node has no AF_UNIX datagrams).
import { constants } from 'node:os';
import { close } from '../src/sys/fd';
import { lastErrno, libc, SysError } from '../src/sys/libc';

const socketFn = libc.func('int socket(int domain, int type, int protocol)');
const bindFn = libc.func('int bind(int fd, const void *addr, uint32_t addrlen)');
const recvFn = libc.func('long recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)');
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const SUN_PATH_MAX = 108;

export class FakeSyslog {
  readonly fd: number;
  private readonly buf = Buffer.alloc(512 * 1024);

  constructor(readonly path: string) {
    if (Buffer.byteLength(path) >= SUN_PATH_MAX) throw new RangeError(`${path}: longer than a socket path may be`);
    const fd = socketFn(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
    if (fd < 0) throw new SysError('socket(AF_UNIX, SOCK_DGRAM)', lastErrno());
    const addr = Buffer.alloc(2 + SUN_PATH_MAX);
    addr.writeUInt16LE(AF_UNIX, 0);
    addr.write(path, 2);
    if ((bindFn(fd, addr, addr.length) as number) < 0) {
      const err = new SysError(`bind(${path})`, lastErrno());
      close(fd);
      throw err;
    }
    this.fd = fd;
  }

  /** Every datagram queued now. */
  drain(): string[] {
    const out: string[] = [];
    for (;;) {
      const n = recvFn(this.fd, this.buf, this.buf.length, MSG_DONTWAIT) as number;
      if (n >= 0) {
        out.push(this.buf.toString('utf8', 0, n));
        continue;
      }
      const errno = lastErrno();
      if (errno === constants.errno.EAGAIN) return out;
      throw new SysError(`recv(${this.path})`, errno);
    }
  }

  close(): void {
    close(this.fd);
  }
}
