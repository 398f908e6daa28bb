// Our daemon, the C virtiofsd from qemu-system-common and the Rust virtiofsd 1.13 (Debian trixie's,
// installed on demand under build/), driven by the same front-end driver through the same operation
// script on identical trees, must give the same answers wherever the answer is the file system's
// (errnos, sizes, modes, names, link counts, xattr values). Node ids, inode numbers and times differ
// by nature and are left out. The script has no locks and no DAX mapping: the Rust daemon answers
// both with ENOSYS, so there is nothing to compare.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@vfs/harness/temp_dir';
import { bundleWorker } from '@vfs/harness/bundles';
import { hostPrograms } from '@vfs/harness/host_programs';
import { ensureRustVirtiofsd } from '@vfs/harness/rust_virtiofsd';
import { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { errnoOf, FuseClient, type FuseAttr } from '@vfs/harness/vhost_user_driver/fuse_client';

const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const O_RDWR = 2;
const O_CREAT = 0o100;
const S_IFIFO = 0o010000;
const RENAME_NOREPLACE = 1;
const R_OK = 4;

type Outcome = string | number | boolean | readonly string[] | Record<string, number>;

function shape(a: FuseAttr): Record<string, number> {
  return { mode: a.mode, size: Number(a.size), nlink: a.nlink, uid: a.uid, gid: a.gid };
}

/** Runs `step` and records its result, or `errno <n>` when the daemon answered an error. */
function outcome(step: () => Outcome): Outcome {
  const errno = errnoOf(() => {
    result = step();
  });
  return errno === 0 ? result : `errno ${errno}`;
}
let result: Outcome = '';

/** The operation script: every step's outcome, by name, in order. */
function runScript(c: FuseClient): Record<string, Outcome> {
  const out: Record<string, Outcome> = {};
  const step = (name: string, fn: () => Outcome): void => {
    out[name] = outcome(fn);
  };
  /** A step whose answer is only that it succeeded (an errno otherwise). */
  const done = (run: () => unknown) => (): true => {
    run();
    return true;
  };
  step('init major', () => c.init().major);
  step('lookup missing', () => shape(c.lookup(1, 'missing').attr));
  step('lookup seed', () => shape(c.lookup(1, 'seed.txt').attr));
  const d = c.mkdir(1, 'd', 0o755);
  step('mkdir', () => shape(d.attr));
  step('mkdir again', () => shape(c.mkdir(1, 'd', 0o755).attr));
  const f = c.create(d.nodeid, 'f', O_RDWR | O_CREAT, 0o644);
  step('create', () => shape(f.entry.attr));
  step('write', () => c.write(f.entry.nodeid, f.fh, 0, Buffer.from('hello world')));
  step('read', () => c.read(f.entry.nodeid, f.fh, 0, 100).toString());
  step('read past end', () => c.read(f.entry.nodeid, f.fh, 100, 10).length);
  step('truncate', () => shape(c.setattr(f.entry.nodeid, { size: 5 })));
  step('chmod', () => shape(c.setattr(f.entry.nodeid, { mode: 0o600 })));
  step(
    'fsync',
    done(() => c.fsync(f.entry.nodeid, f.fh)),
  );
  step(
    'release',
    done(() => c.release(f.entry.nodeid, f.fh)),
  );
  step('symlink', () => shape(c.symlink(1, 'l', 'd/f').attr));
  step('readlink', () => c.readlink(c.lookup(1, 'l').nodeid));
  step('link', () => shape(c.link(f.entry.nodeid, d.nodeid, 'g').attr));
  step(
    'rename',
    done(() => c.rename(d.nodeid, 'g', d.nodeid, 'h')),
  );
  step('lookup renamed away', () => shape(c.lookup(d.nodeid, 'g').attr));
  step(
    'rename2 noreplace onto existing',
    done(() => c.rename(d.nodeid, 'h', d.nodeid, 'f', RENAME_NOREPLACE)),
  );
  step(
    'unlink',
    done(() => c.unlink(d.nodeid, 'h')),
  );
  step(
    'unlink missing',
    done(() => c.unlink(d.nodeid, 'h')),
  );
  step(
    'rmdir non-empty',
    done(() => c.rmdir(1, 'd')),
  );
  step('mknod fifo', () => shape(c.mknod(1, 'p', S_IFIFO | 0o644).attr));
  step(
    'access',
    done(() => c.access(f.entry.nodeid, R_OK)),
  );
  step(
    'setxattr',
    done(() => c.setxattr(f.entry.nodeid, 'user.k', Buffer.from('v1'))),
  );
  step('getxattr', () => String(c.getxattr(f.entry.nodeid, 'user.k', 64)));
  step('listxattr', () => {
    const names = c.listxattr(f.entry.nodeid, 256);
    return typeof names === 'number' ? names : names.filter((n) => n.startsWith('user.'));
  });
  step(
    'removexattr',
    done(() => c.removexattr(f.entry.nodeid, 'user.k')),
  );
  step('getxattr removed', () => String(c.getxattr(f.entry.nodeid, 'user.k', 64)));
  const dir = c.opendir(1);
  step('readdir names', () =>
    c
      .readdirAll(1, dir.fh)
      .map((e) => e.name)
      .sort(),
  );
  step(
    'releasedir',
    done(() => c.releasedir(1, dir.fh)),
  );
  step('statfs namelen', () => c.statfs(1).namelen);
  return out;
}

function seedTree(dir: string): void {
  mkdirSync(dir);
  writeFileSync(join(dir, 'seed.txt'), 'seed\n');
}

/**
 * Where the C daemon of QEMU 7.2 is the odd one out, by name: it does not implement ACCESS
 * (ENOSYS; ours checks on the host), and it answers an unlink of a missing name with EIO where
 * the host says ENOENT.
 */
const C_DIVERGES: Record<string, { c: Outcome; ours: Outcome }> = {
  access: { c: 'errno 38', ours: true },
  'unlink missing': { c: 'errno 5', ours: 'errno 2' },
};

hostPrograms(VIRTIOFSD).describe('our daemon answers like the C and the Rust virtiofsd', () => {
  let dir: string;
  let script: string;
  const children: ChildProcess[] = [];
  const frontends: VhostUserFrontend[] = [];

  beforeAll(() => {
    dir = tempDir('vfs-parity');
    script = bundleWorker(join(__dirname, '../src/main.ts'));
  });

  afterAll(() => {
    for (const f of frontends) f.close();
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    rmSync(script, { force: true });
  });

  function drive(
    name: string,
    command: string,
    args: (socket: string, source: string) => string[],
  ): Record<string, Outcome> {
    const source = join(dir, name);
    const socketPath = join(dir, `${name}.sock`);
    seedTree(source);
    children.push(spawn(command, args(socketPath, source), { stdio: ['ignore', 'ignore', 'ignore'] }));
    // A generous connect wait: a daemon start under a loaded machine (TCG guests beside) takes seconds.
    const frontend = VhostUserFrontend.connect({ socketPath, memorySize: 16 << 20, connectTimeoutMs: 30_000 });
    frontends.push(frontend);
    return runScript(new FuseClient(frontend));
  }

  const oursArgs = (socket: string, source: string): string[] => [
    script,
    `--socket-path=${socket}`,
    `--shared-dir=${source}`,
    '--cache=auto',
    '--xattr',
    '--log-level=error',
  ];

  test('the same script gives the same answers on ours and the C daemon', () => {
    const c = drive('c', VIRTIOFSD, (socket, source) => [
      `--socket-path=${socket}`,
      '-o',
      `source=${source}`,
      '-o',
      'cache=auto',
      '-o',
      'sandbox=chroot',
      '-o',
      'xattr',
    ]);
    const ours = drive('ours', process.execPath, oursArgs);
    expect(c['init major']).toBe(7);
    expect(c['lookup missing']).toMatch(/^errno \d+$/);
    for (const [step, expected] of Object.entries(C_DIVERGES)) {
      expect({ step, c: c[step], ours: ours[step] }).toEqual({ step, ...expected });
      delete c[step];
      delete ours[step];
    }
    expect(ours).toEqual(c);
  });

  test('the same script gives the same answers on ours and the Rust daemon', () => {
    const rustVirtiofsd = ensureRustVirtiofsd();
    const rust = drive('rust', rustVirtiofsd, (socket, source) => [
      `--socket-path=${socket}`,
      `--shared-dir=${source}`,
      '--cache=auto',
      '--sandbox=chroot',
      '--xattr',
    ]);
    const ours = drive('ours-vs-rust', process.execPath, oursArgs);
    expect(rust['init major']).toBe(7);
    expect(ours).toEqual(rust);
  }, 120_000);
});
