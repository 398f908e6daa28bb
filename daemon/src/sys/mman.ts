// Shared memory: memfd_create/ftruncate for guest RAM, mmap/munmap to map it, and zero-copy views.
import koffi from 'koffi';
import { libc, lastErrno, SysError } from './libc';

const memfdCreateFn = libc.func('int memfd_create(const char *name, unsigned int flags)');
const ftruncateFn = libc.func('int ftruncate(int fd, int64_t length)');
// intptr_t rather than void*: addresses stay plain Numbers (user space is below 2^47).
const mmapFn = libc.func('intptr_t mmap(intptr_t addr, size_t length, int prot, int flags, int fd, int64_t offset)');
const munmapFn = libc.func('int munmap(intptr_t addr, size_t length)');

const MFD_CLOEXEC = 0x1;
export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const PAGE_SIZE = 4096;

/** The largest view koffi can make: bigger ones abort the process, so callers split. */
const MAX_VIEW_BYTES = 0xffff_ffff;

export function memfdCreate(name: string, flags: number = MFD_CLOEXEC): number {
  const fd = memfdCreateFn(name, flags) as number;
  if (fd < 0) throw new SysError(`memfd_create(${name})`, lastErrno());
  return fd;
}

export function ftruncate(fd: number, length: number): void {
  if ((ftruncateFn(fd, length) as number) < 0) throw new SysError(`ftruncate(${fd}, ${length})`, lastErrno());
}

/** mmap(2); returns the host address. */
export function mmap(addr: number, length: number, prot: number, flags: number, fd: number, offset: number): number {
  const ret = mmapFn(addr, length, prot, flags, fd, offset) as number;
  if (ret === -1) throw new SysError(`mmap(fd ${fd}, ${length} bytes at offset ${offset})`, lastErrno());
  return ret;
}

export function munmap(addr: number, length: number): void {
  if ((munmapFn(addr, length) as number) < 0) throw new SysError(`munmap(${addr}, ${length})`, lastErrno());
}

/** A zero-copy view of `length` bytes at host address `addr`; the mapping must outlive it. */
export function memoryView(addr: number, length: number): Uint8Array {
  if (length > MAX_VIEW_BYTES) throw new RangeError(`view of ${length} bytes exceeds ${MAX_VIEW_BYTES}`);
  if (length === 0) return new Uint8Array(0);
  return new Uint8Array(koffi.view(addr, length));
}
