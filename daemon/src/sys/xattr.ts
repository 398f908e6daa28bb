// Extended-attribute system calls. The *xattrat family (Linux 6.13) reaches any inode through
// /proc/self/fd/N without opening it, so symlinks and special files work too; older kernels use
// the fd-based calls on a freshly opened file and, for special files, a path relative to the cwd.
// Results are the raw value or -errno, like sys/fs.ts.
import koffi from 'koffi';
import { libc } from './libc';

export const XATTR_SIZE_MAX = 65536;
export const XATTR_LIST_MAX = 65536;

const ret = (r: number): number => (r < 0 ? -koffi.errno() : r);

// Linux syscall numbers 463..466 are shared by every architecture (after the 2019 unification).
const SYS_SETXATTRAT = 463;
const SYS_GETXATTRAT = 464;
const SYS_LISTXATTRAT = 465;
const SYS_REMOVEXATTRAT = 466;

// syscall(2) is variadic, but glibc implements it as a register shuffle, so fixed prototypes per
// call shape are safe on the 64-bit ABIs and avoid koffi's slow variadic path.
const _xattrat = libc.func('syscall', 'long', [
  'long',
  'int',
  'const char *',
  'uint',
  'const char *',
  'void *',
  'size_t',
]);
const _listxattrat = libc.func('syscall', 'long', ['long', 'int', 'const char *', 'uint', 'void *', 'size_t']);
const _removexattrat = libc.func('syscall', 'long', ['long', 'int', 'const char *', 'uint', 'const char *']);

const _fgetxattr = libc.func('intptr_t fgetxattr(int fd, const char *name, void *value, size_t size)');
const _fsetxattr = libc.func('int fsetxattr(int fd, const char *name, void *value, size_t size, int flags)');
const _flistxattr = libc.func('intptr_t flistxattr(int fd, void *list, size_t size)');
const _fremovexattr = libc.func('int fremovexattr(int fd, const char *name)');
const _getxattr = libc.func('intptr_t getxattr(const char *path, const char *name, void *value, size_t size)');
const _setxattr = libc.func('int setxattr(const char *path, const char *name, void *value, size_t size, int flags)');
const _listxattr = libc.func('intptr_t listxattr(const char *path, void *list, size_t size)');
const _removexattr = libc.func('int removexattr(const char *path, const char *name)');
const _fchdir = libc.func('int fchdir(int fd)');

/** struct xattr_args {u64 value; u32 size; u32 flags}: `args` must already hold the value address. */
export const XATTR_ARGS_SIZE = 16;

export const getxattrat = (dirfd: number, path: Uint8Array, name: Uint8Array, args: Uint8Array): number =>
  ret(_xattrat(SYS_GETXATTRAT, dirfd, path, 0, name, args, XATTR_ARGS_SIZE));
export const setxattrat = (dirfd: number, path: Uint8Array, name: Uint8Array, args: Uint8Array): number =>
  ret(_xattrat(SYS_SETXATTRAT, dirfd, path, 0, name, args, XATTR_ARGS_SIZE));
export const listxattrat = (dirfd: number, path: Uint8Array, list: Uint8Array, size: number): number =>
  ret(_listxattrat(SYS_LISTXATTRAT, dirfd, path, 0, list, size));
export const removexattrat = (dirfd: number, path: Uint8Array, name: Uint8Array): number =>
  ret(_removexattrat(SYS_REMOVEXATTRAT, dirfd, path, 0, name));

export const fgetxattr = (fd: number, name: Uint8Array, value: Uint8Array, size: number): number =>
  ret(_fgetxattr(fd, name, value, size));
export const fsetxattr = (fd: number, name: Uint8Array, value: Uint8Array, size: number, flags: number): number =>
  ret(_fsetxattr(fd, name, value, size, flags));
export const flistxattr = (fd: number, list: Uint8Array, size: number): number => ret(_flistxattr(fd, list, size));
export const fremovexattr = (fd: number, name: Uint8Array): number => ret(_fremovexattr(fd, name));
export const getxattr = (path: Uint8Array, name: Uint8Array, value: Uint8Array, size: number): number =>
  ret(_getxattr(path, name, value, size));
export const setxattr = (path: Uint8Array, name: Uint8Array, value: Uint8Array, size: number, flags: number): number =>
  ret(_setxattr(path, name, value, size, flags));
export const listxattr = (path: Uint8Array, list: Uint8Array, size: number): number =>
  ret(_listxattr(path, list, size));
export const removexattr = (path: Uint8Array, name: Uint8Array): number => ret(_removexattr(path, name));
export const fchdir = (fd: number): number => ret(_fchdir(fd));
