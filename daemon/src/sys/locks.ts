// Advisory locks: open file description (OFD) record locks and flock(2). Results are 0 or -errno.
import koffi from 'koffi';
import { libc } from './libc';

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
export const F_OFD_GETLK = 36;
export const F_OFD_SETLK = 37;

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** struct flock (64-bit): l_type i16, l_whence i16, l_start i64 @8, l_len i64 @16, l_pid i32 @24. */
export const FLOCK_SIZE = 32;
export const FLOCK = { type: 0, whence: 2, start: 8, len: 16, pid: 24 } as const;

const _fcntlLock = libc.func('int fcntl(int fd, int cmd, void *lock)');
const _flock = libc.func('int flock(int fd, int op)');

export const fcntlLock = (fd: number, cmd: number, lock: Uint8Array): number => {
  const r = _fcntlLock(fd, cmd, lock);
  return r < 0 ? -koffi.errno() : r;
};
export const flock = (fd: number, op: number): number => {
  const r = _flock(fd, op);
  return r < 0 ? -koffi.errno() : r;
};
