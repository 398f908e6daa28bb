// Which files of a directory were opened, by anyone, through any mount: inotify's IN_OPEN on the
// directory reports every successful open(2) of an entry with the entry's name. Opens with O_PATH
// (a passthrough daemon's lookups) report nothing, and neither does an open that fails (a device
// node on a nodev mount): what it shows is a file that some process really opened for I/O.
import { check, close, libc, readNonBlocking } from '@vfs/daemon/sys';

const IN_OPEN = 0x20;
const IN_Q_OVERFLOW = 0x4000;
const IN_NONBLOCK = 0x800;
const IN_CLOEXEC = 0x80000;
/** struct inotify_event: wd, mask, cookie, len, then len bytes of NUL-padded name. */
const EVENT_HEADER = 16;

const inotifyInit1 = libc.func('int inotify_init1(int flags)');
const inotifyAddWatch = libc.func('int inotify_add_watch(int fd, const char *path, uint32_t mask)');

export class OpenWatch {
  private readonly buf = Buffer.alloc(64 * 1024);
  private readonly seen: string[] = [];

  private constructor(private readonly fd: number) {}

  /** Starts reporting the opens of `dir`'s entries (not of entries of its subdirectories). */
  static of(dir: string): OpenWatch {
    const fd = check(inotifyInit1(IN_NONBLOCK | IN_CLOEXEC), 'inotify_init1');
    try {
      check(inotifyAddWatch(fd, dir, IN_OPEN), `inotify_add_watch("${dir}", IN_OPEN)`);
    } catch (err) {
      close(fd);
      throw err;
    }
    return new OpenWatch(fd);
  }

  /** Names of the entries opened since the watch started, in order, one per open. */
  opened(): readonly string[] {
    for (let n = readNonBlocking(this.fd, this.buf); n > 0; n = readNonBlocking(this.fd, this.buf)) {
      for (let off = 0; off < n; ) {
        if (this.buf.readUInt32LE(off + 4) & IN_Q_OVERFLOW)
          throw new Error('inotify queue overflowed: opens were lost');
        const len = this.buf.readUInt32LE(off + 12);
        const name = this.buf.toString('utf8', off + EVENT_HEADER, off + EVENT_HEADER + len).replace(/\0+$/, '');
        // The directory's own opens (readdir) carry no name.
        if (name !== '') this.seen.push(name);
        off += EVENT_HEADER + len;
      }
    }
    return [...this.seen];
  }

  close(): void {
    close(this.fd);
  }
}
