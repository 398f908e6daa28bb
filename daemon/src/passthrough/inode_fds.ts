// The O_PATH fds of inodes held as file handles (--inode-file-handles): opened from the handle
// when an operation needs one, and kept for the most recently used few, so a session holds at
// most `capacity` of them however many inodes the guest looks up. An inode's fd stays valid until
// `capacity` other inodes were opened after it: a request touches a handful, and nothing keeps
// an inode fd across requests (open files and lock owners have fds of their own).
import { tryClose } from '../sys/fd';
import type { Inode } from './inode_table';

/** The fds kept open; enough for a directory walk's parents and a few hot files. */
export const INODE_FD_CACHE_SIZE = 128;

/** Opens an O_PATH fd from a struct file_handle; fd or -errno. */
export type HandleOpener = (handle: Buffer) => number;

export class InodeFdCache {
  /** Most and least recently used ends of the list through Inode.newer/older. */
  private newest: Inode | null = null;
  private oldest: Inode | null = null;
  private count = 0;

  constructor(
    private readonly open: HandleOpener,
    private readonly capacity = INODE_FD_CACHE_SIZE,
  ) {}

  /** The inode's fd, opened from its handle if it has none: -errno when that fails (ESTALE: freed). */
  acquire(inode: Inode, handle: Buffer): number {
    if (inode.pathFd >= 0) {
      if (this.newest !== inode) this.moveToNewest(inode);
      return inode.pathFd;
    }
    const fd = this.open(handle);
    if (fd < 0) return fd;
    this.adopt(inode, fd);
    return fd;
  }

  /** Keeps `fd`, an O_PATH fd of the inode the caller opened anyway (a lookup's), as its fd. */
  adopt(inode: Inode, fd: number): void {
    if (this.count >= this.capacity && this.oldest !== null) this.drop(this.oldest);
    inode.pathFd = fd;
    inode.older = this.newest;
    inode.newer = null;
    if (this.newest !== null) this.newest.newer = inode;
    else this.oldest = inode;
    this.newest = inode;
    this.count++;
  }

  /** Closes the inode's fd if it has one (it is evicted or forgotten). */
  drop(inode: Inode): void {
    if (inode.pathFd < 0) return;
    this.unlink(inode);
    // An O_PATH fd has no data to write back: close(2) can only fail on a bad fd.
    tryClose(inode.pathFd);
    inode.pathFd = -1;
    this.count--;
  }

  /** fds open now. */
  get size(): number {
    return this.count;
  }

  private moveToNewest(inode: Inode): void {
    this.unlink(inode);
    inode.older = this.newest;
    if (this.newest !== null) this.newest.newer = inode;
    else this.oldest = inode;
    this.newest = inode;
  }

  private unlink(inode: Inode): void {
    if (inode.newer !== null) inode.newer.older = inode.older;
    else this.newest = inode.older;
    if (inode.older !== null) inode.older.newer = inode.newer;
    else this.oldest = inode.newer;
    inode.newer = null;
    inode.older = null;
  }
}
