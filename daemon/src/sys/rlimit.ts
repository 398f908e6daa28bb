// setrlimit(RLIMIT_NOFILE): the daemon holds one O_PATH fd per guest-visible inode.
import { check, libc } from './libc';

const RLIMIT_NOFILE = 7;
const setrlimit = libc.func('int setrlimit(int resource, const void *rlim)');

export function setNofileLimit(limit: number): void {
  const rlim = Buffer.alloc(16);
  rlim.writeUInt32LE(limit % 0x1_0000_0000, 0);
  rlim.writeUInt32LE(Math.floor(limit / 0x1_0000_0000), 4);
  rlim.writeUInt32LE(limit % 0x1_0000_0000, 8);
  rlim.writeUInt32LE(Math.floor(limit / 0x1_0000_0000), 12);
  check(setrlimit(RLIMIT_NOFILE, rlim), `setrlimit(RLIMIT_NOFILE, ${limit})`);
}
