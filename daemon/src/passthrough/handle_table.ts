// Open files and directories the guest holds, by file handle (fh). Handles are never reused
// within a session, so a stale fh from the guest cannot reach someone else's file.
import { close } from '../sys/fs';
import type { Inode } from './inode_table';

/** Where a READDIR stream stands: getdents64 records read ahead, and the guest's resume cookie. */
export interface DirStream {
  readonly buf: Buffer;
  /** Valid bytes in buf, and the next unreturned record. */
  len: number;
  pos: number;
  /** d_off of the last record returned (raw 64 bits): the offset the guest resumes from. */
  offLo: number;
  offHi: number;
}

export interface Handle {
  readonly fh: number;
  readonly fd: number;
  readonly inode: Inode;
  readonly dir: DirStream | null;
}

const DIR_BUFFER_SIZE = 32768;

export class HandleTable {
  private readonly handles = new Map<number, Handle>();
  private nextFh = 1;

  /** Takes ownership of `fd`. */
  add(fd: number, inode: Inode, isDir: boolean): Handle {
    const dir = isDir ? { buf: Buffer.allocUnsafe(DIR_BUFFER_SIZE), len: 0, pos: 0, offLo: 0, offHi: 0 } : null;
    const h: Handle = { fh: this.nextFh++, fd, inode, dir };
    this.handles.set(h.fh, h);
    return h;
  }

  get(fh: number): Handle | undefined {
    return this.handles.get(fh);
  }

  /** Closes and forgets the handle; false when there was none. */
  release(fh: number): boolean {
    const h = this.handles.get(fh);
    if (h === undefined) return false;
    this.handles.delete(fh);
    close(h.fd);
    return true;
  }

  clear(): void {
    for (const h of this.handles.values()) close(h.fd);
    this.handles.clear();
  }

  get size(): number {
    return this.handles.size;
  }
}
