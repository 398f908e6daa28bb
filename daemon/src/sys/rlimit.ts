// RLIMIT_NOFILE, set as virtiofsd sets it: the daemon holds an fd per inode, open handle and lock
// owner, far more than the usual 1024. Asked for a value, it sets exactly that (0: leaves the
// limit alone, for a manager that sets it itself); otherwise it raises the limit to 1,000,000
// (fs.nr_open if lower), or failing that to the hard limit, and never lowers it.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { check, libc, lastErrno, SysError } from './libc';

const RLIMIT_NOFILE = 7;
const DEFAULT_NOFILE = 1_000_000;
const getrlimit = libc.func('int getrlimit(int resource, void *rlim)');
const setrlimit = libc.func('int setrlimit(int resource, const void *rlim)');

/** The soft and hard RLIMIT_NOFILE (both below 2^53 on Linux: nr_open caps them). */
function nofileLimits(): { soft: number; hard: number } {
  const rlim = Buffer.alloc(16);
  check(getrlimit(RLIMIT_NOFILE, rlim), 'getrlimit(RLIMIT_NOFILE)');
  return { soft: Number(rlim.readBigUInt64LE(0)), hard: Number(rlim.readBigUInt64LE(8)) };
}

/** Sets soft and hard limit to `limit`; 0 or -errno. */
function trySetNofile(limit: number): number {
  const rlim = Buffer.alloc(16);
  rlim.writeBigUInt64LE(BigInt(limit), 0);
  rlim.writeBigUInt64LE(BigInt(limit), 8);
  return setrlimit(RLIMIT_NOFILE, rlim) < 0 ? -lastErrno() : 0;
}

/** The most the kernel lets any process have (fs.nr_open). */
function nrOpen(): number {
  return Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
}

/** Applies --rlimit-nofile (undefined: the default raise); throws when a requested value cannot be set. */
export function applyNofileLimit(requested: number | undefined): void {
  if (requested === 0) return;
  const max = nrOpen();
  if (requested !== undefined) {
    if (requested > max) {
      throw new SysError(`setrlimit(RLIMIT_NOFILE, ${requested}) above fs.nr_open ${max}`, constants.errno.EINVAL);
    }
    const r = trySetNofile(requested);
    if (r < 0) throw new SysError(`setrlimit(RLIMIT_NOFILE, ${requested})`, -r);
    return;
  }
  const { soft, hard } = nofileLimits();
  if (soft >= DEFAULT_NOFILE) return;
  const target = Math.min(DEFAULT_NOFILE, max);
  // Without CAP_SYS_RESOURCE the hard limit cannot rise: take all of it instead.
  if (trySetNofile(target) < 0 && hard > soft) {
    const r = trySetNofile(hard);
    if (r < 0) throw new SysError(`setrlimit(RLIMIT_NOFILE, ${hard})`, -r);
  }
}
