// A child process for the seccomp tests: installs the daemon's filter with the action given in
// argv, then either makes a call outside the allowlist (getppid) and prints what it returned, or
// (argv[3] 'abort') crashes the way a fatal error does, to show which signal it dies of.
import koffi from 'koffi';
import type { SeccompAction } from '../src/cli';
import { installSeccomp } from '../src/sandbox/seccomp';

const action = process.argv[2] as Exclude<SeccompAction, 'none'>;
const getppid = koffi.load('libc.so.6').func('int getppid(void)');
process.stdout.write(`installed ${installSeccomp(action)}\n`);
if (process.argv[3] === 'abort') process.abort();
process.stdout.write(`getppid ${getppid()}\n`);
