// The few libc calls a pidfd watch and the agent connection's hand-over need, bound on first use
// (../libc.ts): only pooled VMs need them.
import { libc as loadLibc } from '../libc';

// Syscalls added since Linux 5.1 have one number on every architecture (x86_64, arm64, …).
const SYS_pidfd_send_signal = 424;
const SYS_pidfd_open = 434;
const SYS_pidfd_getfd = 438;
const F_DUPFD_CLOEXEC = 1030;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;

export interface PidfdLibc {
  /** pidfd_open(2) (close-on-exec): the pidfd, or -errno. */
  pidfdOpen(pid: number): number;
  /** pidfd_send_signal(2): 0, or -errno. */
  pidfdSendSignal(pidfd: number, signal: number): number;
  /** pidfd_getfd(2): a close-on-exec copy of descriptor `fd` of the pidfd's process, or -errno. */
  pidfdGetfd(pidfd: number, fd: number): number;
  /** fcntl(F_DUPFD_CLOEXEC): a close-on-exec copy of `fd`, or -errno. */
  dup(fd: number): number;
  /** A non-blocking, close-on-exec eventfd(2), or -errno. */
  eventfd(): number;
  /** Adds one to an eventfd's counter, which makes it readable. */
  signalEventfd(fd: number): void;
  /** Resets an eventfd's counter to zero. */
  drainEventfd(fd: number): void;
  close(fd: number): void;
  /**
   * poll(2) with no timeout, on a libuv threadpool thread; `done` runs on the main thread with the
   * result or -errno, or with `err` when koffi could not make the call.
   */
  pollAsync(pollfds: Buffer, count: number, done: (err: Error | null, result: number) => void): void;
}

let bound: PidfdLibc | undefined;

export function pidfdLibc(): PidfdLibc {
  bound ??= bind();
  return bound;
}

function bind(): PidfdLibc {
  const { lib: libc, orErrno } = loadLibc();
  // syscall(2) is a register shuffle in glibc, so a fixed prototype per call is safe on 64-bit ABIs.
  const pidfdOpen = libc.func('syscall', 'long', ['long', 'int', 'uint']);
  const pidfdSendSignal = libc.func('syscall', 'long', ['long', 'int', 'int', 'void *', 'uint']);
  const pidfdGetfd = libc.func('syscall', 'long', ['long', 'int', 'int', 'uint']);
  const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)');
  const eventfd = libc.func('int eventfd(uint initval, int flags)');
  const read = libc.func('long read(int fd, void *buf, size_t count)');
  const write = libc.func('long write(int fd, void *buf, size_t count)');
  const close = libc.func('int close(int fd)');
  const poll = libc.func('int poll(void *fds, unsigned long nfds, int timeout)');
  const one = Buffer.alloc(8);
  one.writeBigUInt64LE(1n);
  const counter = Buffer.alloc(8);
  return {
    pidfdOpen: (pid) => orErrno(pidfdOpen(SYS_pidfd_open, pid, 0)),
    pidfdSendSignal: (pidfd, signal) => orErrno(pidfdSendSignal(SYS_pidfd_send_signal, pidfd, signal, null, 0)),
    pidfdGetfd: (pidfd, fd) => orErrno(pidfdGetfd(SYS_pidfd_getfd, pidfd, fd, 0)),
    dup: (fd) => orErrno(fcntl(fd, F_DUPFD_CLOEXEC, 0)),
    eventfd: () => orErrno(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
    signalEventfd: (fd) => write(fd, one, 8),
    drainEventfd: (fd) => read(fd, counter, 8),
    close: (fd) => close(fd),
    // koffi restores the worker thread's errno around the callback, so koffi.errno() is the call's.
    pollAsync: (pollfds, count, done) =>
      poll.async(pollfds, count, -1, (err: Error | null, r: number) => done(err, err ? 0 : orErrno(r))),
  };
}
