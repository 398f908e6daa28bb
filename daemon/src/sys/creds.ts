// File-system credentials. setfsuid/setfsgid change only the calling thread's fs ids (glibc does
// not broadcast them to other threads, unlike setuid), which is what a request handler needs.
import { libc } from './libc';

const _setfsuid = libc.func('int setfsuid(uint32_t uid)');
const _setfsgid = libc.func('int setfsgid(uint32_t gid)');

/** Sets the thread's fs uid; returns the previous one. */
export const setfsuid = (uid: number): number => _setfsuid(uid);
/** Sets the thread's fs gid; returns the previous one. */
export const setfsgid = (gid: number): number => _setfsgid(gid);
