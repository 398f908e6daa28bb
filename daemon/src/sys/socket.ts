// AF_UNIX stream sockets with SCM_RIGHTS: what vhost-user runs on. msghdr/iovec/cmsghdr live in
// one native scratch area per thread, built once; payload bytes are copied through it.
import koffi from 'koffi';
import { libc, lastErrno, SysError } from './libc';
import { close, EAGAIN, EINTR } from './fd';
import { AT_FDCWD, cPath, fchmod, fchmodat } from './fs';

const socketFn = libc.func('int socket(int domain, int type, int protocol)');
const socketpairFn = libc.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)');
const bindFn = libc.func('int bind(int fd, const void *addr, uint32_t addrlen)');
const listenFn = libc.func('int listen(int fd, int backlog)');
const acceptFn = libc.func('int accept4(int fd, void *addr, void *addrlen, int flags)');
const connectFn = libc.func('int connect(int fd, const void *addr, uint32_t addrlen)');
const sendmsgFn = libc.func('long sendmsg(int fd, intptr_t msg, int flags)');
const recvmsgFn = libc.func('long recvmsg(int fd, intptr_t msg, int flags)');
const setsockoptFn = libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)');
const shutdownFn = libc.func('int shutdown(int fd, int how)');

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const SO_RCVTIMEO = 20;
const SO_SNDTIMEO = 21;
const MSG_CTRUNC = 0x8;
const MSG_WAITALL = 0x100;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const SHUT_RDWR = 2;
const SUN_PATH_MAX = 108;

/** The most fds one message may carry (vhost-user's VHOST_MEMORY_BASELINE_NREGIONS). */
export const MAX_FDS = 8;
/** What sendWithFds can attach: more than MAX_FDS, so tests can send a message with too many. */
const MAX_SEND_FDS = 32;

// Scratch layout (x86-64/aarch64 LP64): msghdr 56 | iovec 16 | cmsg 16 + 4*MAX_SEND_FDS | data.
const MSGHDR = 0;
const IOVEC = 64;
const CMSG = 96;
const CMSG_SPACE_MAX = 16 + 4 * MAX_FDS;
const DATA = 256;
const SCRATCH_DATA_BYTES = 64 * 1024;

class Scratch {
  readonly base: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;

  constructor() {
    const ptr: unknown = koffi.alloc('uint8_t', DATA + SCRATCH_DATA_BYTES);
    this.base = Number(koffi.address(ptr));
    this.bytes = new Uint8Array(koffi.view(ptr, DATA + SCRATCH_DATA_BYTES));
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  setU64(offset: number, value: number): void {
    this.view.setUint32(offset, value % 0x1_0000_0000, true);
    this.view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
  }

  /** Fills msghdr + iovec for `len` data bytes and a control area of `controlLen` bytes. */
  prepare(len: number, controlLen: number): void {
    this.bytes.fill(0, 0, DATA);
    this.setU64(MSGHDR + 16, this.base + IOVEC); // msg_iov
    this.setU64(MSGHDR + 24, 1); // msg_iovlen
    if (controlLen > 0) {
      this.setU64(MSGHDR + 32, this.base + CMSG); // msg_control
      this.setU64(MSGHDR + 40, controlLen); // msg_controllen
    }
    this.setU64(IOVEC, this.base + DATA);
    this.setU64(IOVEC + 8, len);
  }
}

let scratch: Scratch | null = null;
function getScratch(): Scratch {
  scratch ??= new Scratch();
  return scratch;
}

function sockaddrUn(path: string): Buffer {
  const encoded = Buffer.from(path);
  if (encoded.length >= SUN_PATH_MAX) {
    throw new RangeError(`unix socket path is ${encoded.length} bytes, the limit is ${SUN_PATH_MAX - 1}: ${path}`);
  }
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  encoded.copy(addr, 2);
  return addr;
}

function newSocket(type: number = SOCK_STREAM): number {
  const fd = socketFn(AF_UNIX, type | SOCK_CLOEXEC, 0) as number;
  if (fd < 0) throw new SysError('socket(AF_UNIX)', lastErrno());
  return fd;
}

/** Only the owner may connect (main.ts opens it to --socket-group): who connects is the front end. */
const SOCKET_MODE = 0o600;

/**
 * A listening socket bound to `path`, mode 0600 whatever the process umask (the passthrough sets
 * it to 0). The caller removes stale files first.
 */
export function listenUnix(path: string, backlog = 1): number {
  const fd = newSocket();
  const addr = sockaddrUn(path);
  try {
    // bind(2) creates the file with the socket inode's mode minus the umask: set before bind, the
    // file is never wider than 0600; the chmod after it undoes what the umask took away.
    const narrowed = fchmod(fd, SOCKET_MODE);
    if (narrowed < 0) throw new SysError('fchmod(socket, 0600)', -narrowed);
    if ((bindFn(fd, addr, addr.length) as number) < 0) throw new SysError(`bind(${path})`, lastErrno());
    const exact = fchmodat(AT_FDCWD, cPath(path), SOCKET_MODE);
    if (exact < 0) throw new SysError(`chmod(${path}, 0600)`, -exact);
    if ((listenFn(fd, backlog) as number) < 0) throw new SysError(`listen(${path})`, lastErrno());
  } catch (err) {
    close(fd);
    throw err;
  }
  return fd;
}

/** Connects to `path`; throws SysError (ENOENT, ECONNREFUSED…) when nobody listens. */
export function connectUnix(path: string): number {
  return connected(SOCK_STREAM, path);
}

/**
 * A non-blocking datagram socket connected to `path` (the system log's /dev/log): each write(2) is
 * one message, and a full receiver answers EAGAIN rather than stalling the writer.
 */
export function connectUnixDatagram(path: string): number {
  return connected(SOCK_DGRAM | SOCK_NONBLOCK, path);
}

function connected(type: number, path: string): number {
  const addr = sockaddrUn(path);
  const fd = newSocket(type);
  if ((connectFn(fd, addr, addr.length) as number) < 0) {
    const err = new SysError(`connect(${path})`, lastErrno());
    close(fd);
    throw err;
  }
  return fd;
}

export function accept(fd: number, flags: number = SOCK_CLOEXEC): number {
  const conn = acceptFn(fd, null, null, flags) as number;
  if (conn < 0) throw new SysError(`accept4(${fd})`, lastErrno());
  return conn;
}

export function socketPair(): [number, number] {
  const sv = [0, 0];
  if ((socketpairFn(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) as number) < 0) {
    throw new SysError('socketpair(AF_UNIX)', lastErrno());
  }
  return [sv[0]!, sv[1]!];
}

export function shutdown(fd: number): void {
  if ((shutdownFn(fd, SHUT_RDWR) as number) < 0) throw new SysError(`shutdown(${fd})`, lastErrno());
}

/** Makes blocking receives (and sends) on `fd` fail with EAGAIN after `ms` milliseconds. */
export function setTimeouts(fd: number, ms: number): void {
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  tv.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  for (const opt of [SO_RCVTIMEO, SO_SNDTIMEO]) {
    if ((setsockoptFn(fd, SOL_SOCKET, opt, tv, 16) as number) < 0) {
      throw new SysError(`setsockopt(${fd}, ${opt === SO_RCVTIMEO ? 'SO_RCVTIMEO' : 'SO_SNDTIMEO'})`, lastErrno());
    }
  }
}

/** Sends all of `data`, with `fds` attached to the first byte. */
export function sendWithFds(fd: number, data: Uint8Array, fds: readonly number[] = []): void {
  if (fds.length > MAX_SEND_FDS) throw new RangeError(`${fds.length} fds in one message, the limit is ${MAX_SEND_FDS}`);
  const s = getScratch();
  let sent = 0;
  do {
    const chunk = Math.min(data.length - sent, SCRATCH_DATA_BYTES);
    const withFds = sent === 0 && fds.length > 0;
    const controlLen = withFds ? 16 + Math.ceil((4 * fds.length) / 8) * 8 : 0;
    s.prepare(chunk, controlLen);
    s.bytes.set(data.subarray(sent, sent + chunk), DATA);
    if (withFds) {
      s.setU64(CMSG, 16 + 4 * fds.length); // cmsg_len = CMSG_LEN
      s.view.setInt32(CMSG + 8, SOL_SOCKET, true);
      s.view.setInt32(CMSG + 12, SCM_RIGHTS, true);
      for (const [i, f] of fds.entries()) s.view.setInt32(CMSG + 16 + 4 * i, f, true);
    }
    const n = sendmsgFn(fd, s.base + MSGHDR, MSG_NOSIGNAL) as number;
    if (n < 0) {
      const errno = lastErrno();
      if (errno === EINTR) continue;
      throw new SysError(`sendmsg(${fd})`, errno);
    }
    sent += n;
  } while (sent < data.length);
}

export interface Received {
  /** Bytes received; fewer than asked only at end of stream or on a receive timeout. */
  readonly length: number;
  readonly fds: number[];
  /** The sender attached more fds than MAX_FDS: the extra ones were discarded by the kernel. */
  readonly fdsTruncated: boolean;
  /** The peer closed the connection before any byte arrived. */
  readonly eof: boolean;
  /** A receive timeout (SO_RCVTIMEO) expired before `want` bytes arrived. */
  readonly timedOut: boolean;
}

/** Receives exactly `want` bytes into `out` (blocking, MSG_WAITALL) plus any attached fds. */
export function receiveWithFds(fd: number, out: Uint8Array, want: number): Received {
  const s = getScratch();
  const fds: number[] = [];
  let got = 0;
  let fdsTruncated = false;
  let timedOut = false;
  while (got < want) {
    const chunk = Math.min(want - got, SCRATCH_DATA_BYTES);
    s.prepare(chunk, got === 0 ? CMSG_SPACE_MAX : 0);
    const n = recvmsgFn(fd, s.base + MSGHDR, MSG_WAITALL | MSG_CMSG_CLOEXEC) as number;
    if (n < 0) {
      const errno = lastErrno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) {
        timedOut = true;
        break;
      }
      throw new SysError(`recvmsg(${fd})`, errno);
    }
    collectFds(s, fds);
    if ((s.view.getInt32(MSGHDR + 48, true) & MSG_CTRUNC) !== 0) fdsTruncated = true;
    out.set(s.bytes.subarray(DATA, DATA + n), got);
    got += n;
    if (n === 0) break;
  }
  return { length: got, fds, fdsTruncated, eof: got === 0 && !timedOut && want > 0, timedOut };
}

function collectFds(s: Scratch, fds: number[]): void {
  const controlLen = s.view.getUint32(MSGHDR + 40, true);
  let off = 0;
  while (off + 16 <= controlLen) {
    const len = s.view.getUint32(CMSG + off, true);
    if (len < 16) break;
    const level = s.view.getInt32(CMSG + off + 8, true);
    const type = s.view.getInt32(CMSG + off + 12, true);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let p = 16; p + 4 <= len; p += 4) fds.push(s.view.getInt32(CMSG + off + p, true));
    }
    off += Math.ceil(len / 8) * 8;
  }
}
