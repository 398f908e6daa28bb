// openat2(2) with RESOLVE_BENEATH: opens a share's directory below the daemon's root so that no
// `..`, absolute path or symlink in the request can reach outside it.
import { check, libc } from './libc';

const SYS_openat2 = 437;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_BENEATH = 0x08;

const syscall = libc.func('long syscall(long nr, int dirfd, const char *path, void *how, size_t size)');

/** struct open_how { u64 flags; u64 mode; u64 resolve; } */
export function openat2(dirfd: number, path: string, flags: number, resolve: number): number {
  const how = Buffer.alloc(24);
  how.writeUInt32LE(flags, 0);
  how.writeUInt32LE(resolve, 16);
  return check(Number(syscall(SYS_openat2, dirfd, path, how, how.length)), `openat2(${dirfd}, "${path}")`);
}
