// execve(2): the daemon replaces itself with `unshare … node <bundle>` (Node cannot enter new
// namespaces itself), keeping its pid, so a supervisor's handle stays valid.
import { libc, lastErrno, SysError } from './libc';

const execveFn = libc.func('int execve(const char *path, const char **argv, const char **envp)');
const pipeFn = libc.func('int pipe(_Out_ int *fds)');
const fcntlFn = libc.func('int fcntl(int fd, int cmd, int arg)');
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/** Lets `fd` survive execve (Node opens even stdio files close-on-exec). */
export function keepAcrossExec(fd: number): void {
  const flags = fcntlFn(fd, F_GETFD, 0) as number;
  if (flags < 0) throw new SysError(`fcntl(${fd}, F_GETFD)`, lastErrno());
  if ((fcntlFn(fd, F_SETFD, flags & ~FD_CLOEXEC) as number) < 0)
    throw new SysError(`fcntl(${fd}, F_SETFD)`, lastErrno());
}

/** pipe(2) without close-on-exec on either end: [read end, write end]. */
export function inheritablePipe(): [number, number] {
  const fds = [0, 0];
  if ((pipeFn(fds) as number) < 0) throw new SysError('pipe', lastErrno());
  return [fds[0] as number, fds[1] as number];
}

/** Returns only by throwing. */
export function execve(path: string, argv: readonly string[], env: Readonly<Record<string, string>>): never {
  const envp = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  execveFn(path, [...argv, null], [...envp, null]);
  throw new SysError(`execve("${path}")`, lastErrno());
}
