// A bound datagram socket standing in for the system log's /dev/log (Node has no AF_UNIX datagrams).
import koffi from 'koffi';
import { close } from '../src/sys/fd';
import { libc } from '../src/sys/libc';

const socketFn = libc.func('int socket(int domain, int type, int protocol)');
const bindFn = libc.func('int bind(int fd, const void *addr, uint32_t addrlen)');
const recvFn = libc.func('long recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)');
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;

export class FakeSyslog {
  readonly fd: number;
  private readonly buf = Buffer.alloc(512 * 1024);

  constructor(readonly path: string) {
    this.fd = socketFn(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
    const addr = Buffer.alloc(110);
    addr.writeUInt16LE(AF_UNIX, 0);
    addr.write(path, 2);
    if ((bindFn(this.fd, addr, addr.length) as number) < 0) {
      const errno = koffi.errno();
      close(this.fd);
      throw new Error(`bind(${path}): errno ${errno}`);
    }
  }

  /** Every datagram queued now. */
  drain(): string[] {
    const out: string[] = [];
    for (;;) {
      const n = recvFn(this.fd, this.buf, this.buf.length, MSG_DONTWAIT) as number;
      if (n < 0) return out;
      out.push(this.buf.toString('utf8', 0, n));
    }
  }

  close(): void {
    close(this.fd);
  }
}
