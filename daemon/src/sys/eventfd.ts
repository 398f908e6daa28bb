// eventfd(2): the kick/call/err notifications of vhost-user and the device loop's control wake-up.
import { libc, lastErrno, SysError } from './libc';
import { readNonBlocking, writeNonBlocking } from './fd';

const eventfdFn = libc.func('int eventfd(unsigned int initval, int flags)');

const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;

const one = new Uint8Array(new BigUint64Array([1n]).buffer);
const counter = new Uint8Array(8);

export function eventfd(flags: number = EFD_CLOEXEC | EFD_NONBLOCK): number {
  const fd = eventfdFn(0, flags) as number;
  if (fd < 0) throw new SysError('eventfd', lastErrno());
  return fd;
}

/**
 * Adds 1 to the counter: wakes whoever polls the fd. Allocation-free (hot path). On a non-blocking
 * fd that cannot take it (an eventfd at its maximum, or a front-end's pipe nobody reads) a wake-up
 * is pending already: done.
 */
export function signal(fd: number): void {
  writeNonBlocking(fd, one, 8);
}

/** Resets a non-blocking eventfd; returns whether it had been signalled. */
export function drain(fd: number): boolean {
  return readNonBlocking(fd, counter, 8) === 8;
}
