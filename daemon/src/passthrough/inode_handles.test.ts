// --inode-file-handles through the real daemon: the bound on the fds a guest's lookups make the
// daemon hold, the default it takes as root, and what a handle must still get right that an fd
// got for free (a freed and reused inode number, opening from a handle as the guest's fsuid).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorker } from '@vfs/harness/bundles';
import { errnoOf, type FuseClient, type FuseDirentPlus } from '@vfs/harness/vhost_user_driver/fuse_client';
import type { InodeFileHandles } from '../cli';
import { startHarness, type DaemonHarness, type DaemonConfinement } from '../../test_support/passthrough_harness';
import { EACCES, EBADF, ESTALE } from '../fuse/errno';
import { INODE_FD_CACHE_SIZE } from './inode_fds';

const N = 5000;
const O_RDONLY = 0;
const O_RDWR = 2;
const O_WRONLY = 1;
const O_TRUNC = 0o1000;
const R_OK = 4;

let h: DaemonHarness | undefined;
afterEach(() => {
  h?.cleanup();
  h = undefined;
});

/** The daemon's pid: under --sandbox=namespace the process started is unshare, its parent. */
function daemonPid(d: DaemonHarness, sandbox: DaemonConfinement['sandbox']): number {
  const started = d.daemon.pid as number;
  if (sandbox === 'none') return started;
  return Number(readFileSync(`/proc/${started}/task/${started}/children`, 'utf8').trim().split(/\s+/)[0]);
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

function start(mode: InodeFileHandles | undefined, sandbox: DaemonConfinement['sandbox']): FuseClient {
  h = startHarness(mode === undefined ? {} : { inodeFileHandles: mode }, sandbox === undefined ? {} : { sandbox });
  h.client.init();
  return h.client;
}

function makeFiles(dir: string, n: number): void {
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `f${i}`), '');
}

describe('the fds LOOKUPs make the daemon hold', () => {
  test.each([
    ['by default (root: prefer)', undefined, 'none'],
    ['with prefer', 'prefer', 'none'],
    ['by default under the namespace sandbox and seccomp', undefined, undefined],
  ] as const)('%s: LOOKUPs of 5000 distinct files leave the fd count within the fd cache', (_name, mode, sandbox) => {
    const c = start(mode, sandbox);
    const dir = (h as DaemonHarness).dir;
    makeFiles(dir, N);
    const pid = daemonPid(h as DaemonHarness, sandbox);
    const before = fdCount(pid);
    const nodes = Array.from({ length: N }, (_, i) => c.lookup(1, `f${i}`).nodeid);
    expect(fdCount(pid)).toBeLessThan(before + INODE_FD_CACHE_SIZE + 8);
    // Every node still answers, its fd opened again from the handle.
    for (let i = 0; i < N; i += 97)
      expect(c.getattr(nodes[i] as number).ino).toBe(statSync(join(dir, `f${i}`), { bigint: true }).ino);
  });

  test.each([
    ['by default (root: prefer)', 'none'],
    ['by default under the namespace sandbox and seccomp', undefined],
  ] as const)(
    '%s: READDIRPLUS of 5000 files (batched lookups) leaves the fd count within the fd cache, and every entry answers',
    (_name, sandbox) => {
      const c = start(undefined, sandbox);
      const dir = (h as DaemonHarness).dir;
      makeFiles(dir, N);
      writeFileSync(join(dir, 'f0'), 'data');
      const pid = daemonPid(h as DaemonHarness, sandbox);
      const before = fdCount(pid);
      const o = c.opendir(1);
      const entries = c.readdirAll(1, o.fh, true) as FuseDirentPlus[];
      c.releasedir(1, o.fh);
      expect(entries.length).toBe(N + 2);
      expect(fdCount(pid)).toBeLessThan(before + INODE_FD_CACHE_SIZE + 8);
      const byName = new Map(entries.map((e) => [e.name, e.entry]));
      for (let i = 0; i < N; i += 97) {
        const ino = statSync(join(dir, `f${i}`), { bigint: true }).ino;
        expect(byName.get(`f${i}`)?.attr.ino).toBe(ino);
        expect(c.getattr(byName.get(`f${i}`)?.nodeid as number).ino).toBe(ino);
      }
      const f0 = byName.get('f0')?.nodeid as number;
      expect(c.lookup(1, 'f0').nodeid).toBe(f0);
      const fh = c.open(f0, O_RDONLY).fh;
      expect(c.read(f0, fh, 0, 16).toString()).toBe('data');
      c.release(f0, fh);
    },
  );

  test('with never: LOOKUPs of 5000 distinct files hold one fd each', () => {
    const c = start('never', 'none');
    makeFiles((h as DaemonHarness).dir, N);
    const pid = daemonPid(h as DaemonHarness, 'none');
    const before = fdCount(pid);
    for (let i = 0; i < N; i++) c.lookup(1, `f${i}`);
    expect(fdCount(pid)).toBeGreaterThanOrEqual(before + N);
  });
});

describe('inodes held as file handles', () => {
  test('a file replaced under the same name is a new node, and answers', () => {
    const c = start('prefer', 'none');
    const path = join((h as DaemonHarness).dir, 'again');
    writeFileSync(path, 'old');
    let old = c.lookup(1, 'again');
    for (let i = 0; i < 4; i++) {
      unlinkSync(path);
      writeFileSync(path, `new${i}`);
      const e = c.lookup(1, 'again');
      expect(e.nodeid).not.toBe(old.nodeid);
      expect(c.getattr(e.nodeid).size).toBe(`new${i}`.length);
      const fh = c.open(e.nodeid, O_RDONLY).fh;
      expect(c.read(e.nodeid, fh, 0, 16).toString()).toBe(`new${i}`);
      c.release(e.nodeid, fh);
      old = e;
    }
  });

  test('a node whose file or directory the host deleted answers ESTALE, not EBADF, once its fd was let go', () => {
    const c = start('prefer', 'none');
    const dir = (h as DaemonHarness).dir;
    writeFileSync(join(dir, 'gone'), 'x');
    writeFileSync(join(dir, 'held'), 'x');
    mkdirSync(join(dir, 'gonedir'));
    const file = c.lookup(1, 'gone').nodeid;
    const held = c.lookup(1, 'held').nodeid;
    const heldFh = c.open(held, O_RDWR).fh;
    const d = c.lookup(1, 'gonedir').nodeid;
    makeFiles(dir, INODE_FD_CACHE_SIZE * 2);
    for (let i = 0; i < INODE_FD_CACHE_SIZE * 2; i++) c.lookup(1, `f${i}`);
    unlinkSync(join(dir, 'gone'));
    unlinkSync(join(dir, 'held'));
    rmSync(join(dir, 'gonedir'), { recursive: true });
    // A file the guest still holds open is not stale: its inode lives on, and its handle opens.
    expect(c.setattr(held, { fh: heldFh, size: 0 }).size).toBe(0);
    expect(c.getattr(held, heldFh).nlink).toBe(0);
    c.release(held, heldFh);
    expect(errnoOf(() => c.getattr(file))).toBe(ESTALE);
    expect(errnoOf(() => c.open(file, O_RDONLY))).toBe(ESTALE);
    expect(errnoOf(() => c.lookup(d, 'x'))).toBe(ESTALE);
    expect(errnoOf(() => c.mkdir(d, 'x', 0o755))).toBe(ESTALE);
    expect(errnoOf(() => c.rename(1, 'f0', d, 'x'))).toBe(ESTALE);
    // A node id the daemon never gave out is still EBADF.
    expect(errnoOf(() => c.getattr(987654))).toBe(EBADF);
  });

  test("a creation as the guest's uid works in a directory whose fd the cache let go", () => {
    const c = start('prefer', 'none');
    const dir = (h as DaemonHarness).dir;
    mkdirSync(join(dir, 'd'));
    chmodSync(join(dir, 'd'), 0o777);
    const d = c.lookup(1, 'd');
    makeFiles(dir, INODE_FD_CACHE_SIZE * 2);
    for (let i = 0; i < INODE_FD_CACHE_SIZE * 2; i++) c.lookup(1, `f${i}`);
    c.uid = 1000;
    c.gid = 1000;
    const sub = c.mkdir(d.nodeid, 'mine', 0o755);
    expect(sub.attr.uid).toBe(1000);
    expect(statSync(join(dir, 'd', 'mine')).uid).toBe(1000);
  });

  test("CREATE of an existing file as the guest's uid opens it when the file's fd was let go (handle opened as the daemon)", () => {
    const c = start('prefer', 'none');
    const dir = (h as DaemonHarness).dir;
    mkdirSync(join(dir, 'd'));
    chmodSync(join(dir, 'd'), 0o777);
    writeFileSync(join(dir, 'd', 'shared'), 'old');
    chmodSync(join(dir, 'd', 'shared'), 0o666);
    writeFileSync(join(dir, 'd', 'secret'), 'root only');
    chmodSync(join(dir, 'd', 'secret'), 0o600);
    const d = c.lookup(1, 'd').nodeid;
    c.lookup(d, 'shared');
    const secret = c.lookup(d, 'secret').nodeid;
    makeFiles(dir, INODE_FD_CACHE_SIZE * 2);
    for (let i = 0; i < INODE_FD_CACHE_SIZE * 2; i++) c.lookup(1, `f${i}`);
    c.uid = 1000;
    c.gid = 1000;
    // The existing name is found without an fd and reopened as uid 1000, whose fsuid cannot open a handle.
    const r = c.create(d, 'shared', O_WRONLY | O_TRUNC, 0o644);
    expect(c.write(r.entry.nodeid, r.fh, 0, Buffer.from('new'))).toBe(3);
    c.release(r.entry.nodeid, r.fh);
    expect(readFileSync(join(dir, 'd', 'shared'), 'utf8')).toBe('new');
    // The daemon's ids open only the handle: the open itself is still checked as uid 1000.
    makeFiles(dir, INODE_FD_CACHE_SIZE * 2);
    for (let i = 0; i < INODE_FD_CACHE_SIZE * 2; i++) c.lookup(1, `f${i}`);
    expect(errnoOf(() => c.create(d, 'secret', O_RDWR | O_TRUNC, 0o644))).toBe(EACCES);
    expect(errnoOf(() => c.access(secret, R_OK))).toBe(EACCES);
    expect(readFileSync(join(dir, 'd', 'secret'), 'utf8')).toBe('root only');
  });
});

test('mandatory refuses to start on a file system that makes no file handles (procfs)', () => {
  const script = bundleWorker(join(__dirname, '../main.ts'));
  try {
    const r = spawnSync(
      process.execPath,
      [
        script,
        '--shared-dir=/proc',
        '--socket-path=/tmp/vfs-mandatory.sock',
        '--sandbox=none',
        '--inode-file-handles=mandatory',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /--inode-file-handles=mandatory: \/proc gives no file handle \(name_to_handle_at\): (EOPNOTSUPP|ENOTSUP)/,
    );
  } finally {
    rmSync(script, { force: true });
    rmSync('/tmp/vfs-mandatory.sock', { force: true });
  }
});
