// Open files and directories the guest holds, by file handle (fh). Handles are never reused
// within a session, so a stale fh from the guest cannot reach someone else's file. Each handle
// holds its inode open (InodeTable.hold): a FORGET cannot close the inode's fd under it.
import { tryClose } from '../sys/fd';
import type { Inode, InodeTable } from './inode_table';

/**
 * Where a READDIR stream stands: getdents64 records read ahead (into the one buffer ops_dir.ts
 * shares among all streams, while this stream owns it), and the guest's resume cookie.
 */
export interface DirStream {
  /** Valid bytes read ahead, and the next unreturned record. */
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
  /** Opened for writing: its close(2) may report a write-back error the guest must hear of. */
  readonly writes: boolean;
}

export class HandleTable {
  private readonly handles = new Map<number, Handle>();
  private nextFh = 1;

  constructor(
    private readonly inodes: InodeTable,
    /** ResourceLimits.maxOpenHandles: past it OPEN, CREATE and OPENDIR get ENFILE (handle_limit.ts). */
    private readonly maxHandles: number,
  ) {}

  /** Takes ownership of `fd` and holds `inode` until the handle is released. */
  add(fd: number, inode: Inode, isDir: boolean, writes = false): Handle {
    const dir = isDir ? { len: 0, pos: 0, offLo: 0, offHi: 0 } : null;
    const h: Handle = { fh: this.nextFh++, fd, inode, dir, writes };
    this.handles.set(h.fh, h);
    this.inodes.hold(inode);
    return h;
  }

  get(fh: number): Handle | undefined {
    return this.handles.get(fh);
  }

  /** Closes and forgets the handle, letting go of its inode; the close(2) result, 0 or -errno. */
  release(h: Handle): number {
    if (!this.handles.delete(h.fh)) return 0;
    const r = tryClose(h.fd);
    this.inodes.letGo(h.inode);
    return r;
  }

  /** Closes every handle (the session is over: nobody is left to hear of a close error). */
  clear(): void {
    for (const h of [...this.handles.values()]) this.release(h);
  }

  get size(): number {
    return this.handles.size;
  }

  /** No room for another handle until one is released. */
  get full(): boolean {
    return this.handles.size >= this.maxHandles;
  }
}
