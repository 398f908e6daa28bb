// A size-limited tmpfs for a benchmark's or the fuzzer's files, so that what they write never
// reaches the host's disk, and its removal, which must work from an exit handler (synchronous).
import { execFileSync } from 'node:child_process';

/** Mounts a tmpfs of `mib` MiB on `dir`; false without the right to mount. */
export function mountTmpfs(dir: string, mib: number, source: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0755`, source, dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Unmounts `dir`; something still holding it (a daemon that would not die) gets it detached. */
export function unmountTmpfs(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}
