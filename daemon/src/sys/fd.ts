// Plain file-descriptor calls: close, and read/write of whole small records (eventfd counters,
// socket payloads). Buffers are passed straight to libc: koffi hands over their memory, no copy.
import { libc, lastErrno, SysError } from './libc';

const closeFn = libc.func('int close(int fd)');
const readFn = libc.func('long read(int fd, void *buf, size_t count)');
const writeFn = libc.func('long write(int fd, const void *buf, size_t count)');
const fcntlFn = libc.func('int fcntl(int fd, int cmd, int arg)');
const F_DUPFD_CLOEXEC = 1030;

export const EAGAIN = 11;
export const EINTR = 4;

export function close(fd: number): void {
  const r = tryClose(fd);
  if (r < 0) throw new SysError(`close(${fd})`, -r);
}

/**
 * close(2) that returns 0 or -errno instead of throwing, for the FUSE request paths, which answer
 * the guest with an errno. The fd is gone either way (Linux never keeps it after close).
 */
export function tryClose(fd: number): number {
  return (closeFn(fd) as number) < 0 ? -lastErrno() : 0;
}

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/** Sets O_NONBLOCK on `fd`'s open file description. */
export function setNonBlocking(fd: number): void {
  const flags = fcntlFn(fd, F_GETFL, 0) as number;
  if (flags < 0 || (fcntlFn(fd, F_SETFL, flags | O_NONBLOCK) as number) < 0)
    throw new SysError(`fcntl(${fd}, F_SETFL, O_NONBLOCK)`, lastErrno());
}

/** A close-on-exec duplicate of `fd`. */
export function dup(fd: number): number {
  const copy = tryDup(fd);
  if (copy < 0) throw new SysError(`fcntl(${fd}, F_DUPFD_CLOEXEC)`, -copy);
  return copy;
}

/** dup() that returns -errno instead of throwing. */
export function tryDup(fd: number): number {
  const copy = fcntlFn(fd, F_DUPFD_CLOEXEC, 0) as number;
  return copy < 0 ? -lastErrno() : copy;
}

/** Closes every fd in `fds`, reporting the first failure after trying them all. */
export function closeAll(fds: readonly number[]): void {
  let first: unknown = null;
  for (const fd of fds) {
    try {
      close(fd);
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== null) throw first;
}

/** read(2) into `buf`; returns the byte count (0 at end of file). */
export function read(fd: number, buf: Uint8Array, len: number = buf.byteLength): number {
  const n = readFn(fd, buf, len) as number;
  if (n < 0) throw new SysError(`read(${fd})`, lastErrno());
  return n;
}

/** A non-blocking read or write's result `n`: the count, or -1 when it would block (EAGAIN). */
function countUnlessWouldBlock(n: number, call: 'read' | 'write', fd: number): number {
  if (n >= 0) return n;
  const errno = lastErrno();
  if (errno === EAGAIN) return -1;
  throw new SysError(`${call}(${fd})`, errno);
}

/** read(2) that returns -1 instead of throwing when a non-blocking fd has nothing to read. */
export function readNonBlocking(fd: number, buf: Uint8Array, len: number = buf.byteLength): number {
  return countUnlessWouldBlock(readFn(fd, buf, len) as number, 'read', fd);
}

/** write(2) on a non-blocking fd: the count written, or -1 when it would block (EAGAIN). */
export function writeNonBlocking(fd: number, buf: Uint8Array, len: number = buf.byteLength): number {
  return countUnlessWouldBlock(writeFn(fd, buf, len) as number, 'write', fd);
}

/** write(2) of `len` bytes from `buf` (a Buffer/TypedArray or a host address); returns the count. */
export function write(fd: number, buf: Uint8Array | number, len: number): number {
  const n = writeFn(fd, buf, len) as number;
  if (n < 0) throw new SysError(`write(${fd})`, lastErrno());
  return n;
}
