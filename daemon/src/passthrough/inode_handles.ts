// --inode-file-handles for one export: whether a looked-up inode is held by its file handle
// rather than an O_PATH fd, as virtiofsd 1.13's never / prefer / mandatory. A handle costs no fd
// while the guest keeps the inode; InodeFdCache opens one from it when a request needs it.
// Handles are opened on the export root's mount (its fd, not an O_PATH one, is the mount fd), so
// only inodes on that mount get one: an inode on a submount keeps its O_PATH fd in every mode (a
// mount fd of our own would pin the submount, and the host could no longer unmount it).
import { AT_EMPTY_PATH, EMPTY_PATH, O_CLOEXEC, O_PATH } from '../sys/fs';
import { FILE_HANDLE_SIZE, nameToHandleAt, openByHandleAt } from '../sys/file_handle';
import { setfsuid } from '../sys/creds';
import { tryClose } from '../sys/fd';
import { EPERM } from '../fuse/errno';
import type { InodeFileHandles } from '../cli';
import { sameHandle } from './inode_table';

export class InodeHandles {
  /** The last handle made; read it before the next call. */
  private readonly scratch = Buffer.alloc(FILE_HANDLE_SIZE);
  private readonly mountId = new Int32Array(1);
  readonly mode: InodeFileHandles;

  constructor(
    mode: InodeFileHandles,
    /** The export root's fd: open_by_handle_at's mount fd. */
    private readonly mountFd: number,
    /** The daemon's own fsuid, under which CAP_DAC_READ_SEARCH is effective. */
    private readonly ownUid: number,
  ) {
    // prefer means handles where they work: not without the capability, or with an O_PATH root fd.
    this.mode = mode === 'prefer' && !this.rootReopens() ? 'never' : mode;
  }

  /** Whether the export root's own handle opens again. */
  private rootReopens(): boolean {
    if (nameToHandleAt(this.mountFd, EMPTY_PATH, this.scratch, this.mountId, AT_EMPTY_PATH) < 0) return false;
    const fd = openByHandleAt(this.mountFd, this.scratch, O_PATH | O_CLOEXEC);
    // An O_PATH fd has no data to write back: close(2) can only fail on a bad fd.
    if (fd >= 0) tryClose(fd);
    return fd >= 0;
  }

  /**
   * What a lookup's name_to_handle_at result (the handle's length, or -errno; vfs_lookup_batch
   * makes the call) means here: the length; 0 to hold the fd instead (never, or prefer on a file
   * system that makes no handle); -errno under mandatory.
   */
  accept(len: number): number {
    return len >= 0 || this.mode === 'mandatory' ? len : 0;
  }

  /** Whether `name` in `dirfd` (not followed) is still the inode `held` names: a handle does not pin it. */
  names(held: Buffer, dirfd: number, name: Uint8Array): boolean {
    const len = nameToHandleAt(dirfd, name, this.scratch, this.mountId, 0);
    return len >= 0 && sameHandle(held, this.scratch, len);
  }

  /** An O_PATH fd of the inode `handle` names; fd or -errno (ESTALE: the host freed it). */
  open(handle: Buffer): number {
    const fd = openByHandleAt(this.mountFd, handle, O_PATH | O_CLOEXEC);
    if (fd !== -EPERM) return fd;
    // A thread acting as the guest's fsuid has lost CAP_DAC_READ_SEARCH with its fsuid 0: a
    // creation's parent opened under the caller's ids takes the daemon's back for this one call.
    const uid = setfsuid(-1);
    if (uid === this.ownUid) return fd;
    setfsuid(this.ownUid);
    const reopened = openByHandleAt(this.mountFd, handle, O_PATH | O_CLOEXEC);
    setfsuid(uid);
    return reopened;
  }
}
