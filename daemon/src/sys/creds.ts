// File-system credentials. setfsuid/setfsgid change only the calling thread's fs ids (glibc does
// not broadcast them to other threads, unlike setuid), which is what a request handler needs.
import koffi from 'koffi';
import { check, libc } from './libc';

const _setfsuid = libc.func('int setfsuid(uint32_t uid)');
const _setfsgid = libc.func('int setfsgid(uint32_t gid)');
const _getgroups = libc.func('int getgroups(int size, void *list)');
const _setgroups = libc.func('int setgroups(size_t size, void *list)');
// By number: glibc's setgroups applies to every thread, a request's group to its own thread only.
// syscall(2) is a register shuffle in glibc, so a fixed prototype is safe on the 64-bit ABIs.
const SYS_setgroups = 116; // x86_64
const _setgroupsThread = libc.func('syscall', 'long', ['long', 'size_t', 'void *']);
// glibc's setresuid/setresgid make every thread make the call (it signals each with SIGSETXID,
// which no thread can block); by number, only the calling thread's ids change.
const _setresuid = libc.func('int setresuid(uint32_t ruid, uint32_t euid, uint32_t suid)');
const _setresgid = libc.func('int setresgid(uint32_t rgid, uint32_t egid, uint32_t sgid)');
const SYS_setresuid = 117; // x86_64
const SYS_setresgid = 119; // x86_64
const _setresThread = libc.func('syscall', 'long', ['long', 'uint32_t', 'uint32_t', 'uint32_t']);
const _getresuid = libc.func('int getresuid(_Out_ uint32_t *ruid, _Out_ uint32_t *euid, _Out_ uint32_t *suid)');
const _getresgid = libc.func('int getresgid(_Out_ uint32_t *rgid, _Out_ uint32_t *egid, _Out_ uint32_t *sgid)');
/** The one group of setThreadGroup, reused (per module instance: each Worker has its own). */
const oneGroup = Buffer.alloc(4);

/** Sets the thread's fs uid; returns the previous one. */
export const setfsuid = (uid: number): number => _setfsuid(uid);
/** Sets the thread's fs gid; returns the previous one. */
export const setfsgid = (gid: number): number => _setfsgid(gid);

/**
 * Leaves every supplementary group, in every thread (glibc applies setgroups process-wide), so that
 * permission and set-group-ID checks made as a request's fsgid see that gid alone.
 */
export function dropSupplementaryGroups(): void {
  if (check(_getgroups(0, null), 'getgroups') > 0) check(_setgroups(0, null), 'setgroups(0)');
}

/** The calling thread's real, effective and saved uids, then gids. */
export function threadIds(): number[] {
  const u = [[0], [0], [0]];
  const g = [[0], [0], [0]];
  check(_getresuid(u[0], u[1], u[2]), 'getresuid');
  check(_getresgid(g[0], g[1], g[2]), 'getresgid');
  return [...u, ...g].map(([id]) => id as number);
}

/** Sets the real, effective and saved gid, then uid, of every thread of the process to `id`. */
export function setProcessIds(id: number): void {
  check(_setresgid(id, id, id), `setresgid(${id}) on every thread`);
  check(_setresuid(id, id, id), `setresuid(${id}) on every thread`);
}

/** Sets the real, effective and saved uid, then gid, of the calling thread alone to `id`. */
export function setThreadIds(id: number): void {
  check(Number(_setresThread(SYS_setresuid, id, id, id)), `setresuid(${id}) on this thread`);
  check(Number(_setresThread(SYS_setresgid, id, id, id)), `setresgid(${id}) on this thread`);
}

/** Makes `gid` the calling thread's only supplementary group; 0 or -errno. */
export function setThreadGroup(gid: number): number {
  oneGroup.writeUInt32LE(gid, 0);
  return _setgroupsThread(SYS_setgroups, 1, oneGroup) < 0 ? -koffi.errno() : 0;
}

/** Leaves the calling thread's supplementary groups; 0 or -errno. */
export function clearThreadGroups(): number {
  return _setgroupsThread(SYS_setgroups, 0, null) < 0 ? -koffi.errno() : 0;
}
