// Reaching an inode's extended attributes from its O_PATH fd. With the *xattrat calls (Linux
// 6.13+) one call through /proc/self/fd/N works for every file type. Older kernels reopen regular
// files and directories and use the fd calls; other types (symlinks, devices, FIFOs, sockets)
// answer ENOTSUP there, since reopening a FIFO would block and the path calls need a cwd.
import koffi from 'koffi';
import { tryClose } from '../sys/fd';
import { O_DIRECTORY, O_NONBLOCK, O_RDONLY, S_IFDIR, S_IFREG } from '../sys/fs';
import {
  fgetxattr,
  flistxattr,
  fremovexattr,
  fsetxattr,
  getxattrat,
  listxattrat,
  removexattrat,
  setxattrat,
  XATTR_ARGS_SIZE,
  XATTR_SIZE_MAX,
} from '../sys/xattr';
import { writePtr } from '../sys/libc';
import { ENODATA, ENOSYS, ENOTSUP } from '../fuse/errno';
import type { Inode } from './inode_table';
import type { PassthroughFs } from './passthrough_fs';

export class XattrIo {
  /** Values in and out go through this buffer, whose address the xattrat calls need. */
  readonly value = Buffer.alloc(XATTR_SIZE_MAX);
  private readonly args = Buffer.alloc(XATTR_ARGS_SIZE);
  private readonly withAt: boolean;
  /** Where the map puts the guest's security.capability (NUL-terminated), when not under that name. */
  private readonly renamedCapability: Buffer | null;

  constructor(private readonly fs: PassthroughFs) {
    writePtr(this.args, 0, Number(koffi.address(this.value)));
    this.withAt = listxattrat(fs.procFd, fs.root.procName, this.value, 0) !== -ENOSYS;
    const host = fs.xattrMap?.toHost('security.capability');
    const renamed = typeof host === 'string' && host !== 'security.capability';
    this.renamedCapability = renamed ? Buffer.from(`${host}\0`, 'latin1') : null;
  }

  /**
   * Drops the guest's file capability, as HANDLE_KILLPRIV_V2 asks on write, truncate and chown.
   * The host kernel drops its own security.capability then; a renamed one it does not know, so
   * that one is ours to drop (as virtiofsd does). `fd`: one open on the inode, or -1. 0 or -errno.
   */
  killCapability(inode: Inode, fd = -1): number {
    const name = this.renamedCapability;
    if (name === null || inode.type !== S_IFREG) return 0;
    const r = fd >= 0 ? fremovexattr(fd, name) : this.remove(inode, name);
    return r === -ENODATA || r === -ENOTSUP ? 0 : r;
  }

  /** Reads the value into `value` (size 0: only its length); bytes or -errno. */
  get(inode: Inode, name: Uint8Array, size: number): number {
    if (this.withAt) {
      this.setArgs(size, 0);
      return getxattrat(this.fs.procFd, inode.procName, name, this.args);
    }
    return this.withFd(inode, (fd) => fgetxattr(fd, name, this.value, size));
  }

  /** Sets the attribute to the first `size` bytes of `value`; 0 or -errno. */
  set(inode: Inode, name: Uint8Array, size: number, flags: number): number {
    if (this.withAt) {
      this.setArgs(size, flags);
      return setxattrat(this.fs.procFd, inode.procName, name, this.args);
    }
    return this.withFd(inode, (fd) => fsetxattr(fd, name, this.value, size, flags));
  }

  /** Reads the NUL-separated name list into `list`; bytes or -errno. */
  list(inode: Inode, list: Uint8Array, size: number): number {
    if (this.withAt) return listxattrat(this.fs.procFd, inode.procName, list, size);
    return this.withFd(inode, (fd) => flistxattr(fd, list, size));
  }

  remove(inode: Inode, name: Uint8Array): number {
    if (this.withAt) return removexattrat(this.fs.procFd, inode.procName, name);
    return this.withFd(inode, (fd) => fremovexattr(fd, name));
  }

  private setArgs(size: number, flags: number): void {
    this.args.writeUInt32LE(size, 8);
    this.args.writeUInt32LE(flags, 12);
  }

  private withFd(inode: Inode, op: (fd: number) => number): number {
    if (inode.type !== S_IFREG && inode.type !== S_IFDIR) return -ENOTSUP;
    const fd = this.fs.reopen(inode, O_RDONLY | O_NONBLOCK | (inode.type === S_IFDIR ? O_DIRECTORY : 0));
    if (fd < 0) return fd;
    const r = op(fd);
    // Read-only, for xattr calls: nothing to write back on close.
    tryClose(fd);
    return r;
  }
}
