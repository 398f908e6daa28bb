// The fuzzer's directories: a size-limited tmpfs (a guest's FALLOCATE or WRITE at 2^40 must not
// fill the host's disk) holding the exported share and, beside it, a sentinel directory the
// share's symlinks point at. Outside the share nothing may change: snapshot() records names,
// types, sizes, modes, owners, link counts and mtimes of everything but the share's contents.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountTmpfs, unmountTmpfs } from '../bench_common/scratch_tmpfs';

const TMPFS_MIB = 96;
export const SHARE = 'share';
const SENTINEL = 'sentinel';

export class FuzzTree {
  private mounted = false;

  private constructor(
    /** Holds the mount point, the daemon's socket and log. */
    readonly workDir: string,
    /** The tmpfs (or, without the right to mount, a plain directory): the share's parent. */
    readonly root: string,
  ) {}

  static create(): FuzzTree {
    const workDir = mkdtempSync(join(tmpdir(), 'vfs-fuzz-'));
    const root = join(workDir, 'fs');
    mkdirSync(root);
    const tree = new FuzzTree(workDir, root);
    // Without the right to mount, a plain directory: the generators' sizes still mostly fail with
    // EFBIG/ENOSPC.
    tree.mounted = mountTmpfs(root, TMPFS_MIB, 'vfs-fuzz');
    try {
      tree.populateSentinel();
      tree.resetShare();
    } catch (err) {
      tree.remove();
      throw err;
    }
    return tree;
  }

  get share(): string {
    return join(this.root, SHARE);
  }

  get socketPath(): string {
    return join(this.workDir, 'daemon.sock');
  }

  get logPath(): string {
    return join(this.workDir, 'daemon.log');
  }

  /**
   * The share as a daemon starts with it: files, a directory, symlinks out, a FIFO. The directory
   * itself stays (a running daemon holds it); only what the guest made of it is replaced.
   */
  resetShare(): void {
    const s = this.share;
    mkdirSync(s, { recursive: true });
    // Names as bytes: the guest's need not be UTF-8, and a decoded one names another file (or none).
    const dir = Buffer.from(`${s}/`);
    for (const name of readdirSync(s, { encoding: 'buffer' }))
      rmSync(Buffer.concat([dir, name]), { recursive: true, force: true });
    chmodSync(s, 0o755);
    chownSync(s, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
    for (let i = 0; i < 3; i++) writeFileSync(join(s, `f${i}`), Buffer.alloc(4096 * (i + 1), 0x41 + i));
    mkdirSync(join(s, 'd1'));
    writeFileSync(join(s, 'd1', 'a'), 'inner\n');
    mkdirSync(join(s, 'd1', 'sub'));
    symlinkSync(`../${SENTINEL}`, join(s, 'escape'));
    symlinkSync(join(this.root, SENTINEL, 'secret'), join(s, 'abs'));
    symlinkSync('../../..', join(s, 'd1', 'x'));
    execFileSync('mkfifo', [join(s, 'fifo')]);
  }

  /** Puts the sentinel back as it was (after a finding changed it). */
  populateSentinel(): void {
    const dir = join(this.root, SENTINEL);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'secret'), 'host secret\n', { mode: 0o600 });
    mkdirSync(join(dir, 'inner'));
    writeFileSync(join(dir, 'inner', 'b'), Buffer.alloc(1000, 0x62));
    writeFileSync(join(this.root, 'beside-share'), 'outside\n');
  }

  /** Everything outside the share's contents, one line per path; equal snapshots: nothing changed. */
  snapshot(): string {
    const lines: string[] = [];
    const walk = (dir: string, rel: string): void => {
      for (const name of readdirSync(dir).sort()) {
        const path = join(dir, name);
        const r = rel === '' ? name : `${rel}/${name}`;
        const st = lstatSync(path, { bigint: true });
        // The share itself: its name and type only (its contents and times are the guest's).
        if (r === SHARE) {
          lines.push(`${r} ${st.isDirectory() ? 'dir' : 'not-a-dir'}`);
          continue;
        }
        lines.push(`${r} ${st.mode} ${st.uid}:${st.gid} ${st.nlink} ${st.size} ${st.mtimeNs} ${st.ino}`);
        if (st.isDirectory()) walk(path, r);
      }
    };
    const top = lstatSync(this.root, { bigint: true });
    lines.push(`. ${top.mode} ${top.uid}:${top.gid} ${top.nlink} ${top.mtimeNs}`);
    walk(this.root, '');
    return lines.join('\n');
  }

  /** Unmounts and deletes; safe to call twice and from an exit handler. */
  remove(): void {
    if (this.mounted) {
      unmountTmpfs(this.root);
      this.mounted = false;
    }
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** The lines of `after` that differ from `before` (a finding's detail). */
export function snapshotDiff(before: string, after: string): string {
  const was = new Set(before.split('\n'));
  const now = new Set(after.split('\n'));
  const gone = [...was].filter((l) => !now.has(l)).map((l) => `- ${l}`);
  const added = [...now].filter((l) => !was.has(l)).map((l) => `+ ${l}`);
  return [...gone, ...added].join('\n');
}
