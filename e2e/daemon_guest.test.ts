/**
 * A real guest (the vfs guest kernel under TCG) mounts shares served by OUR daemon, vfs-virtiofsd,
 * in multi-export mode, runs a file workload, and the host checks the results:
 * - namespace and data operations, a 1000-entry readdir, xattrs;
 * - flock and fcntl locks contending in both directions with a host process;
 * - device nodes the guest makes (1:3, 7:0): chmod, chown, utimens, link, mv and rm work, the
 *   guest opens its own device, and on the host the node stays inert: the daemon never opens it
 *   and its view of the share is nodev;
 * - a read-only export refusing writes, and overlayfs (userxattr) with that export as the lower
 *   layer and a read-write export as the upper;
 * - then the guest is booted again against the same daemon process, which must keep serving.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootArgs, ControlClient, scriptExitStatus } from '@vfs/contracts';
import type { VhostUserFsDevice } from '@vfs/shim/vm';
import { USER_XATTRS_ONLY } from '@vfs/shim';
import { FSTOOL_SOURCE } from '@vfs/harness/bundles';
import { OpenWatch } from '@vfs/harness/open_watch';
import { DAEMON } from '@vfs/harness/standalone_daemon';
import { BOOT_TIMEOUT_MS, GuestVms, requireGuestImage, vmConfig, withDeadline } from '@vfs/harness/guest_vm';

const FSTOOL_SRC = FSTOOL_SOURCE;

jest.setTimeout(4 * BOOT_TIMEOUT_MS);

const vms = new GuestVms();
let workDir = '';
let root = '';
let daemon: ChildProcess | undefined;
let control: ControlClient | undefined;
let hostHolder: ChildProcess | undefined;
let fstool = '';
/** Opens of the entries of work/w, the guest's working directory, by any host process. */
let openWatch: OpenWatch | undefined;

/** Runs inside the guest; every check prints `CHECK <name> ok` or `CHECK <name> FAIL: …`. */
const FIRST_BOOT = String.raw`
export FST=$VFS_SHARE/tools/fstool
fail=0
check() { n=$1; shift; if ( "$@" ) >/tmp/out 2>&1; then echo "CHECK $n ok"; else echo "CHECK $n FAIL: $(cat /tmp/out)"; fail=1; fi; }
mkdir -p w && cd w
check create sh -c 'echo hello > f && [ "$(cat f)" = hello ]'
check append sh -c 'echo world >> f && [ "$(cat f)" = "$(printf "hello\nworld")" ]'
check truncate sh -c 'truncate -s 3 f && [ "$(cat f)" = hel ]'
check chmod sh -c 'chmod 640 f && [ "$(stat -c %a f)" = 640 ]'
check chown sh -c 'chown 1234:5678 f && [ "$(stat -c %u:%g f)" = 1234:5678 ]'
check rename sh -c 'mv f g && [ ! -e f ] && [ "$(cat g)" = hel ]'
check hardlink sh -c 'ln g h && [ "$(stat -c %h g)" = 2 ] && [ "$(cat h)" = hel ]'
check symlink sh -c 'ln -s g s && [ "$(readlink s)" = g ] && [ "$(cat s)" = hel ]'
check mknod_char sh -c 'mknod n1 c 1 3 && [ -c n1 ] && [ "$(stat -c %t:%T n1)" = 1:3 ]'
check mknod_block sh -c 'mknod n2 b 7 0 && [ -b n2 ] && [ "$(stat -c %t:%T n2)" = 7:0 ]'
check device_is_the_guests sh -c 'echo lost > n1 && [ -z "$(head -c 8 n1)" ]'
check device_chmod sh -c 'chmod 600 n1 && [ "$(stat -c %a n1)" = 600 ]'
check device_chown sh -c 'chown 1234:5678 n2 && [ "$(stat -c %u:%g n2)" = 1234:5678 ]'
check device_utimens sh -c 'touch -d @1000000000 n2 && [ "$(stat -c %Y n2)" = 1000000000 ]'
check device_link sh -c 'ln n1 n1.link && [ "$(stat -c %h n1)" = 2 ] && rm n1.link && [ "$(stat -c %h n1)" = 1 ]'
check device_mv_rm sh -c 'mv n2 n2.moved && [ ! -e n2 ] && [ -b n2.moved ] && rm n2.moved && [ ! -e n2.moved ]'
check mkdir_rmdir sh -c 'mkdir d1 d2 && rmdir d1 && [ ! -e d1 ] && [ -d d2 ]'
check readdir_1000 sh -c 'mkdir many && cd many && i=0 && while [ $i -lt 1000 ]; do : > f$i; i=$((i+1)); done && [ "$(ls | wc -l)" = 1000 ]'
check big_write sh -c 'dd if=/dev/urandom of=big bs=64k count=64 2>/dev/null && [ "$(stat -c %s big)" = 4194304 ] && md5sum big > big.md5'
check xattr sh -c '$FST setxattr g user.vfs hello && [ "$($FST getxattr g user.vfs)" = hello ] && $FST listxattr g | grep -qx user.vfs && $FST removexattr g user.vfs && ! $FST getxattr g user.vfs'
check host_fcntl_lock_blocks_guest sh -c '[ "$($FST try-fcntl ../hostlocked)" = busy ]'
check host_flock_blocks_guest sh -c '[ "$($FST try-flock ../hostlocked)" = busy ]'
check guest_locks_block_host $FST hold ../guestlocked ../guest-holds ../host-checked
mkdir -p /mnt/lower /mnt/upper /mnt/ovl
check mount_lower mount -t virtiofs lower /mnt/lower
check readonly_export_refuses_writes sh -c '! touch /mnt/lower/x 2>/tmp/e && grep -q "Read-only" /tmp/e'
check mount_upper mount -t virtiofs upper /mnt/upper
check overlay_mount sh -c 'mkdir -p /mnt/upper/u /mnt/upper/w && mount -t overlay overlay -o userxattr,lowerdir=/mnt/lower,upperdir=/mnt/upper/u,workdir=/mnt/upper/w /mnt/ovl'
check overlay_read sh -c '[ "$(cat /mnt/ovl/base.txt)" = base ]'
check overlay_write sh -c 'echo new > /mnt/ovl/new.txt && echo changed > /mnt/ovl/base.txt && [ "$(cat /mnt/ovl/base.txt)" = changed ]'
check overlay_delete sh -c 'rm /mnt/ovl/gone.txt && [ ! -e /mnt/ovl/gone.txt ] && rm -r /mnt/ovl/sub && [ ! -e /mnt/ovl/sub ]'
umount /mnt/ovl; umount /mnt/upper; umount /mnt/lower
echo "CHECKS-DONE"
exit $fail
`;

const SECOND_BOOT = `
fail=0
check() { n=$1; shift; if ( "$@" ) >/tmp/out 2>&1; then echo "CHECK $n ok"; else echo "CHECK $n FAIL: $(cat /tmp/out)"; fail=1; fi; }
cd w
check data_survives_reboot sh -c '[ "$(cat g)" = hel ] && [ "$(ls many | wc -l)" = 1000 ] && md5sum -c big.md5'
check write_after_reboot sh -c 'echo second > second.txt'
echo "CHECKS-DONE"
exit $fail
`;

function checks(console: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const m of console.matchAll(/^CHECK (\S+) (ok|FAIL.*)$/gm)) result.set(m[1], m[2]);
  return result;
}

function expectAllOk(console: string, names: readonly string[]): void {
  const found = checks(console);
  expect(console).toContain('CHECKS-DONE');
  for (const name of names) expect(`${name}: ${found.get(name) ?? 'missing'}`).toBe(`${name}: ok`);
}

function startDaemon(): Promise<void> {
  const ctl = join(workDir, 'daemon.ctl');
  // A process group of its own: sandboxed, the pid is util-linux unshare, which holds SIGTERM
  // blocked while it waits for the daemon; the group's SIGTERM reaches the daemon itself.
  daemon = spawn(DAEMON, [`--control-socket=${ctl}`, `--shared-dir=${root}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  const log: Buffer[] = [];
  daemon.stderr?.on('data', (b: Buffer) => log.push(b));
  daemon.on('exit', () => writeFileSync(join(workDir, 'daemon.log'), Buffer.concat(log)));
  return withDeadline(
    (async () => {
      while (!existsSync(ctl)) await new Promise((r) => setTimeout(r, 10));
      control = await ControlClient.connect(ctl);
    })(),
    10_000,
    'daemon control socket did not appear',
  );
}

function makeTree(): void {
  for (const d of ['work/tools', 'work/w', 'lower/sub', 'upper']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'lower', 'base.txt'), 'base\n');
  writeFileSync(join(root, 'lower', 'gone.txt'), 'gone\n');
  writeFileSync(join(root, 'lower', 'sub', 'inner.txt'), 'inner\n');
  writeFileSync(join(root, 'work', 'first.sh'), FIRST_BOOT);
  writeFileSync(join(root, 'work', 'second.sh'), SECOND_BOOT);
  fstool = join(root, 'work', 'tools', 'fstool');
  const cc = spawnSync('gcc', ['-static', '-O2', '-o', fstool, FSTOOL_SRC], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc fstool.c failed: ${cc.stderr}`);
}

/** A host process holding a POSIX lock and a flock on work/hostlocked until told to let go. */
async function holdHostLocks(): Promise<void> {
  const w = join(root, 'work');
  hostHolder = spawn(
    fstool,
    ['hold', join(w, 'hostlocked'), join(workDir, 'host-holds'), join(workDir, 'host-release')],
    {
      stdio: 'ignore',
    },
  );
  await withDeadline(
    (async () => {
      while (!existsSync(join(workDir, 'host-holds'))) await new Promise((r) => setTimeout(r, 10));
    })(),
    5000,
    'host lock holder did not take its locks',
  );
}

/** While the guest holds its locks, the host must find them busy; then it lets the guest go. */
async function checkGuestLocksFromHost(): Promise<{ fcntl: number | null; flock: number | null }> {
  const w = join(root, 'work');
  while (!existsSync(join(w, 'guest-holds'))) await new Promise((r) => setTimeout(r, 20));
  const fcntl = spawnSync(fstool, ['try-fcntl', join(w, 'guestlocked')]).status;
  const flock = spawnSync(fstool, ['try-flock', join(w, 'guestlocked')]).status;
  writeFileSync(join(w, 'host-checked'), '');
  return { fcntl, flock };
}

/** The sandboxed daemon: the started pid's descendant whose root holds the share (the pid is unshare's). */
function sandboxedDaemonPid(started: number): number {
  const children = (pid: number): number[] =>
    readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  for (let todo = [started]; todo.length > 0; ) {
    const pid = todo.shift() as number;
    if (existsSync(`/proc/${pid}/root/shared`)) return pid;
    todo = [...todo, ...children(pid)];
  }
  throw new Error(`no sandboxed daemon below pid ${started}`);
}

const O_PATH = 0o10000000;
/** The guest's device nodes, under every name the guest gives them (deleted ones included). */
const DEVICE_NODE = /\/w\/n[12](\.link|\.moved)?( \(deleted\))?$/;

/**
 * Samples the daemon's open fds every 100 ms until stopped: an fd on a device node that is not
 * O_PATH (a lookup's) would be the node opened for I/O. Returns those, as "target flags".
 */
function sampleDaemonFds(pid: number): () => string[] {
  const opened: string[] = [];
  const sample = (): void => {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (!DEVICE_NODE.test(target)) continue;
        const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0';
        if ((parseInt(flags, 8) & O_PATH) === 0) opened.push(`${target} flags 0${flags}`);
      } catch {
        // Closed between the listing and the look: nothing to see.
      }
    }
  };
  const timer = setInterval(sample, 100);
  return () => {
    clearInterval(timer);
    return opened;
  };
}

const DEVICES = (): VhostUserFsDevice[] => [
  { id: 'fs0', socketPath: join(workDir, 'work.sock'), tag: 'work' },
  { id: 'fs1', socketPath: join(workDir, 'lower.sock'), tag: 'lower' },
  { id: 'fs2', socketPath: join(workDir, 'upper.sock'), tag: 'upper' },
];

beforeAll(async () => {
  requireGuestImage();
  if (!existsSync(DAEMON)) throw new Error(`${DAEMON} is missing: run \`make build\` first`);
  workDir = mkdtempSync(join(tmpdir(), 'vfs-daemon-guest-'));
  root = join(workDir, 'root');
  makeTree();
  openWatch = OpenWatch.of(join(root, 'work', 'w'));
  await startDaemon();
  const c = control as ControlClient;
  const common = { cache: 'auto' as const, announceSubmounts: false };
  await c.add({
    ...common,
    tag: 'work',
    socket: join(workDir, 'work.sock'),
    dir: 'work',
    readonly: false,
    xattr: true,
  });
  await c.add({
    ...common,
    tag: 'lower',
    socket: join(workDir, 'lower.sock'),
    dir: 'lower',
    readonly: true,
    xattr: true,
  });
  // The shim's xattr policy for read-write shares: the overlay needs no more than user.*.
  await c.add({
    ...common,
    tag: 'upper',
    socket: join(workDir, 'upper.sock'),
    dir: 'upper',
    readonly: false,
    xattr: true,
    xattrmap: USER_XATTRS_ONLY,
  });
  await holdHostLocks();
});

afterAll(async () => {
  vms.killAll();
  openWatch?.close();
  if (workDir !== '') writeFileSync(join(workDir, 'host-release'), '');
  hostHolder?.kill('SIGKILL');
  control?.close();
  if (daemon !== undefined && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon?.once('exit', r));
    process.kill(-(daemon.pid as number), 'SIGTERM');
    await withDeadline(exited, 10_000, 'daemon did not exit on SIGTERM').catch(() => daemon?.kill('SIGKILL'));
  }
  rmSync(workDir, { recursive: true, force: true });
});

describe('a real guest on our virtio-fs daemon', () => {
  let firstConsole = '';
  let hostSawGuestLocks: { fcntl: number | null; flock: number | null } = { fcntl: null, flock: null };
  let daemonIoFdsOnNodes: string[] = [];

  test('runs the file workload, with locks contending against the host', async () => {
    const config = vmConfig(
      workDir,
      'microvm',
      bootArgs({ mode: 'script', tag: 'work', script: 'first.sh' }),
      DEVICES(),
      'first.log',
    );
    const stopSampling = sampleDaemonFds(sandboxedDaemonPid(daemon?.pid as number));
    const booted = vms.boot(workDir, config);
    hostSawGuestLocks = await withDeadline(checkGuestLocksFromHost(), BOOT_TIMEOUT_MS, 'guest never held its locks');
    const result = await booted.finally(() => {
      daemonIoFdsOnNodes = stopSampling();
    });
    firstConsole = result.console;
    expectAllOk(firstConsole, [
      'create',
      'append',
      'truncate',
      'chmod',
      'chown',
      'rename',
      'hardlink',
      'symlink',
      'mknod_char',
      'mknod_block',
      'device_is_the_guests',
      'device_chmod',
      'device_chown',
      'device_utimens',
      'device_link',
      'device_mv_rm',
      'mkdir_rmdir',
      'readdir_1000',
      'big_write',
      'xattr',
      'host_fcntl_lock_blocks_guest',
      'host_flock_blocks_guest',
      'guest_locks_block_host',
      'mount_lower',
      'readonly_export_refuses_writes',
      'mount_upper',
      'overlay_mount',
      'overlay_read',
      'overlay_write',
      'overlay_delete',
    ]);
    expect(scriptExitStatus(result.console)).toBe(0);
    expect(hostSawGuestLocks).toEqual({ fcntl: 1, flock: 1 });
  });

  test('leaves the host files as the guest wrote them', () => {
    const w = join(root, 'work', 'w');
    expect(readFileSync(join(w, 'g'), 'utf8')).toBe('hel');
    const g = statSync(join(w, 'g'));
    expect({ mode: g.mode & 0o777, uid: g.uid, gid: g.gid, nlink: g.nlink }).toEqual({
      mode: 0o640,
      uid: 1234,
      gid: 5678,
      nlink: 2,
    });
    expect(lstatSync(join(w, 's')).isSymbolicLink()).toBe(true);
    expect(readdirSync(join(w, 'many'))).toHaveLength(1000);
    expect(statSync(join(w, 'big')).size).toBe(4 * 1024 * 1024);
    expect(existsSync(join(w, 'f'))).toBe(false);
  });

  test("keeps the guest's device nodes inert on the host: never opened by the daemon, nodev in its view", () => {
    const n1 = join(root, 'work', 'w', 'n1');
    const st = lstatSync(n1);
    expect({ char: st.isCharacterDevice(), rdev: st.rdev, mode: st.mode & 0o7777 }).toEqual({
      char: true,
      rdev: (1 << 8) | 3,
      mode: 0o600,
    });
    expect(existsSync(join(root, 'work', 'w', 'n2.moved'))).toBe(false);
    const deviceOpens = (): string[] => (openWatch?.opened() ?? []).filter((name) => /^n[12]/.test(name));
    // No process on the host opened a node for I/O, and every fd the daemon was seen holding on
    // one was a lookup's O_PATH fd.
    expect(deviceOpens()).toEqual([]);
    expect(daemonIoFdsOnNodes).toEqual([]);
    const pid = sandboxedDaemonPid(daemon?.pid as number);
    expect(() => openSync(`/proc/${pid}/root/shared/work/w/n1`, 'r')).toThrow(
      expect.objectContaining({ code: 'EACCES' }),
    );
    // The node itself is real: the host's own mount (not nodev) opens it, and the watch sees that.
    closeSync(openSync(n1, 'r'));
    expect(deviceOpens()).toEqual(['n1']);
  });

  test('keeps the read-only lower layer untouched and puts overlay changes in the upper export', () => {
    expect(readFileSync(join(root, 'lower', 'base.txt'), 'utf8')).toBe('base\n');
    expect(existsSync(join(root, 'lower', 'gone.txt'))).toBe(true);
    expect(existsSync(join(root, 'lower', 'x'))).toBe(false);
    const u = join(root, 'upper', 'u');
    expect(readFileSync(join(u, 'new.txt'), 'utf8')).toBe('new\n');
    expect(readFileSync(join(u, 'base.txt'), 'utf8')).toBe('changed\n');
    for (const whiteout of ['gone.txt', 'sub']) {
      const st = lstatSync(join(u, whiteout));
      expect({ name: whiteout, char: st.isCharacterDevice(), rdev: st.rdev }).toEqual({
        name: whiteout,
        char: true,
        rdev: 0,
      });
    }
  });

  test('serves a second boot of the guest from the same daemon process', async () => {
    const config = vmConfig(
      workDir,
      'microvm',
      bootArgs({ mode: 'script', tag: 'work', script: 'second.sh' }),
      DEVICES(),
      'second.log',
    );
    const result = await vms.boot(workDir, config);
    expectAllOk(result.console, ['data_survives_reboot', 'write_after_reboot']);
    expect(readFileSync(join(root, 'work', 'w', 'second.txt'), 'utf8')).toBe('second\n');
    expect(daemon?.exitCode).toBeNull();
    expect((await (control as ControlClient).list()).map((e) => e.tag).sort()).toEqual(['lower', 'upper', 'work']);
  });
});
