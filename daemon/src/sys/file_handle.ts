// name_to_handle_at(2) and open_by_handle_at(2): an inode named by the file system's own
// persistent handle instead of an open fd. Opening a handle needs CAP_DAC_READ_SEARCH (in the
// effective set: a thread whose fsuid is not 0 has lost it). Both calls take caller-owned buffers,
// so the request paths allocate nothing.
import koffi from 'koffi';
import { libc } from './libc';

/** MAX_HANDLE_SZ: the largest f_handle any in-tree file system makes. */
export const MAX_HANDLE_SZ = 128;
/** struct file_handle { u32 handle_bytes; i32 handle_type; u8 f_handle[]; } */
export const FILE_HANDLE_HEADER = 8;
export const FILE_HANDLE_SIZE = FILE_HANDLE_HEADER + MAX_HANDLE_SZ;

const _nameToHandleAt = libc.func(
  'int name_to_handle_at(int dirfd, const char *path, void *handle, int32_t *mount_id, int flags)',
);
const _openByHandleAt = libc.func('int open_by_handle_at(int mount_fd, const void *handle, int flags)');

/**
 * The handle of `path` under `dirfd` into `handle` (FILE_HANDLE_SIZE bytes) and its mount id into
 * `mountId[0]`; the handle's length (header included) or -errno (EOPNOTSUPP: the file system
 * makes none).
 */
export function nameToHandleAt(
  dirfd: number,
  path: Uint8Array,
  handle: Buffer,
  mountId: Int32Array,
  flags: number,
): number {
  handle.writeUInt32LE(MAX_HANDLE_SZ, 0);
  const r = _nameToHandleAt(dirfd, path, handle, mountId, flags) as number;
  return r < 0 ? -koffi.errno() : FILE_HANDLE_HEADER + handle.readUInt32LE(0);
}

/** Opens the inode `handle` names on the mount of `mountFd`; fd or -errno (ESTALE: it is gone). */
export function openByHandleAt(mountFd: number, handle: Uint8Array, flags: number): number {
  const r = _openByHandleAt(mountFd, handle, flags) as number;
  return r < 0 ? -koffi.errno() : r;
}
