// The tree both daemons export: a fresh tmpfs mounted in a temp dir (or, without the right to
// mount, a directory in /dev/shm, also tmpfs), holding the small files, the big file and one
// scratch directory per daemon. remove() unmounts and deletes everything.
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountTmpfs, unmountTmpfs } from '../bench_common/scratch_tmpfs';
import { DAEMON_KINDS, type DaemonKind } from './daemons';

export interface TreeSize {
  /** Small files in files/ (also the READDIRPLUS directory). */
  readonly files: number;
  readonly smallFileBytes: number;
  readonly bigFileBytes: number;
  /** Bytes each sequential-write round writes. */
  readonly writeBytes: number;
}

export const FILES_DIR = 'files';
export const BIG_FILE = 'big';

export function scratchDir(kind: DaemonKind): string {
  return `scratch-${kind}`;
}

function plainName(i: number): string {
  return `f${String(i).padStart(6, '0')}`;
}

/** The NUL-terminated name of small file `i`, as FUSE carries names. */
export function fileName(i: number): Uint8Array {
  return Buffer.from(`${plainName(i)}\0`, 'latin1');
}

export class BenchTree {
  private mounted = false;

  private constructor(
    /** The temp dir holding the mount point, sockets and logs. */
    readonly workDir: string,
    /** The exported directory. */
    readonly root: string,
  ) {}

  /** Creates and fills the tree. */
  static create(size: TreeSize): BenchTree {
    const workDir = mkdtempSync(join(tmpdir(), 'vfs-bench-'));
    const mnt = join(workDir, 'export');
    mkdirSync(mnt);
    const mb =
      Math.ceil((size.files * (size.smallFileBytes + 4096) + size.bigFileBytes + 2 * size.writeBytes) / 2 ** 20) + 64;
    let tree: BenchTree;
    if (mountTmpfs(mnt, mb, 'vfs-bench')) {
      tree = new BenchTree(workDir, mnt);
      tree.mounted = true;
    } else {
      tree = new BenchTree(workDir, mkdtempSync('/dev/shm/vfs-bench-'));
    }
    try {
      tree.fill(size);
    } catch (err) {
      tree.remove();
      throw err;
    }
    return tree;
  }

  get isMounted(): boolean {
    return this.mounted;
  }

  /** Unmounts and deletes; safe to call twice, and from an exit handler (synchronous). */
  remove(): void {
    if (this.mounted) {
      unmountTmpfs(this.root);
      this.mounted = false;
    } else {
      rmSync(this.root, { recursive: true, force: true });
    }
    rmSync(this.workDir, { recursive: true, force: true });
  }

  private fill(size: TreeSize): void {
    const files = join(this.root, FILES_DIR);
    mkdirSync(files);
    const small = Buffer.alloc(size.smallFileBytes, 0x5a);
    for (let i = 0; i < size.files; i++) {
      const fd = openSync(join(files, plainName(i)), 'w');
      writeSync(fd, small);
      closeSync(fd);
    }
    const chunk = Buffer.alloc(1 << 20, 0xc3);
    const fd = openSync(join(this.root, BIG_FILE), 'w');
    try {
      for (let done = 0; done < size.bigFileBytes; done += chunk.length) {
        writeSync(fd, chunk, 0, Math.min(chunk.length, size.bigFileBytes - done));
      }
    } finally {
      closeSync(fd);
    }
    for (const kind of DAEMON_KINDS) mkdirSync(join(this.root, scratchDir(kind)));
  }
}
