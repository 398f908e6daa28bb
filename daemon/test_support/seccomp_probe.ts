// A child process for the seccomp tests: installs the daemon's filter with the action given in
// argv[2], then makes the call named in argv[3] and prints what it returned (`<call> <result>`,
// a negative result being -errno), or dies of what the filter does to it. 'abort' crashes the
// way a fatal error does, to show which signal it dies of.
import { Worker } from 'node:worker_threads';
import type { SeccompAction } from '../src/cli';
import { installSeccomp } from '../src/sandbox/seccomp';
import { lastErrno, libc } from '../src/sys/libc';

const SYS_ioctl = 16;
const SYS_socket = 41;
const SYS_clone = 56;
const SYS_getppid = 110;
const SYS_clone3 = 435;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_NETLINK = 16;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const CLONE_FS = 0x200;
const CLONE_NEWUSER = 0x1000_0000;
const FIONBIO = 0x5421;
const TIOCSTI = 0x5412;

// syscall(2) is a register shuffle in glibc: a fixed prototype is safe on x86-64.
const syscall = libc.func('long syscall(long nr, long a, long b, long c, long d, long e)');
const call = (nr: number, ...args: number[]): number => {
  const [a = 0, b = 0, c = 0, d = 0, e = 0] = args;
  const r = Number(syscall(nr, a, b, c, d, e));
  return r < 0 ? -lastErrno() : r;
};

/** Each call the tests make, named; each answers a number or what happened. */
const CALLS: Record<string, () => number | Promise<string>> = {
  // Outside the allowlist.
  getppid: () => call(SYS_getppid),
  // The kernel refuses CLONE_NEWUSER with CLONE_FS (EINVAL) if it ever sees the call: no child.
  'clone-newuser': () => call(SYS_clone, CLONE_NEWUSER | CLONE_FS),
  // A NULL struct of size 0: EINVAL from the kernel, if it ever sees the call.
  clone3: () => call(SYS_clone3, 0, 0),
  'socket-unix': () => call(SYS_socket, AF_UNIX, SOCK_STREAM, 0),
  'socket-inet': () => call(SYS_socket, AF_INET, SOCK_STREAM, 0),
  'socket-netlink': () => call(SYS_socket, AF_NETLINK, SOCK_DGRAM, 0),
  // On stdin, with a NULL argument: EFAULT from the kernel, if it ever sees the call.
  'ioctl-fionbio': () => call(SYS_ioctl, 0, FIONBIO, 0),
  'ioctl-tiocsti': () => call(SYS_ioctl, 0, TIOCSTI, 0),
  // A thread started under the filter, as a device Worker is (pthread_create: clone3, then clone).
  thread: () =>
    new Promise<string>((resolve, reject) => {
      const w = new Worker("require('node:worker_threads').parentPort.postMessage('up')", { eval: true });
      w.once('message', (m: string) => void w.terminate().then(() => resolve(m)));
      w.once('error', reject);
    }),
};

async function main(): Promise<void> {
  const action = process.argv[2] as Exclude<SeccompAction, 'none'>;
  const name = process.argv[3] ?? 'getppid';
  // As the daemon's logger does, stderr is set up (a tty check) before the filter: a Worker's
  // stderr is piped to it.
  void process.stderr.fd;
  process.stdout.write(`installed ${installSeccomp(action)}\n`);
  if (name === 'abort') process.abort();
  const make = CALLS[name];
  if (make === undefined) throw new Error(`seccomp probe: no call "${name}"`);
  process.stdout.write(`${name} ${await make()}\n`);
}

void main();
