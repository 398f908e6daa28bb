// The sandboxed daemon, from the outside: its namespaces, its root, its filter and capabilities,
// and that it still serves: the FUSE path, an export added after the pivot, and a share the host
// binds below the shared root after the daemon started.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
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
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient, namespaceIds, OUTER_NAMESPACES_ENV, UNSHARE_ARGS } from '@vfs/contracts';
import { EINVAL, ENOSYS, EPERM } from '../fuse/errno';
import { bundleWorker } from '@vfs/harness/bundles';
import { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { errnoOf, FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { startHarness } from '../../test_support/passthrough_harness';
import { keptCapabilities, parseModcaps } from './capabilities';
import { OTHER_THREADS_ID } from './other_threads';
import { listedCalls } from './seccomp';

jest.setTimeout(30_000);

const O_RDONLY = 0;

/** The daemon itself: under --sandbox=namespace the started pid is unshare, the daemon its child. */
function daemonPid(started: number): number {
  const children = readFileSync(`/proc/${started}/task/${started}/children`, 'utf8').trim().split(/\s+/);
  expect(children).toHaveLength(1);
  return Number(children[0]);
}

function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return out;
}

/** Each thread's status but the main one's (Node's and V8's threads: at least one). */
function otherThreads(pid: number): Record<string, string>[] {
  const tasks = readdirSync(`/proc/${pid}/task`).filter((tid) => tid !== String(pid));
  expect(tasks.length).toBeGreaterThan(0);
  return tasks.map((tid) => status(Number(tid)));
}

/** What a thread is left with once the sandbox is built: (uid_t)-2, and no capability at all. */
function expectUnprivileged(thread: Record<string, string>): void {
  const ids = (field: string): string[] | undefined => thread[field]?.split(/\s+/);
  expect({
    name: thread['Name'],
    uid: ids('Uid'),
    gid: ids('Gid'),
    prm: thread['CapPrm'],
    eff: thread['CapEff'],
  }).toEqual({
    name: thread['Name'],
    uid: Array(4).fill(String(OTHER_THREADS_ID)),
    gid: Array(4).fill(String(OTHER_THREADS_ID)),
    prm: '0000000000000000',
    eff: '0000000000000000',
  });
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function readWhole(c: FuseClient, parent: number, name: string): string {
  const e = c.lookup(parent, name);
  const o = c.open(e.nodeid, O_RDONLY);
  return c.read(e.nodeid, o.fh, 0, 4096).toString();
}

test('SIGKILL of the pid it was started as (unshare) ends the daemon, also after requests as another user', async () => {
  // A request's fs ids make the kernel forget the main thread's parent-death signal: the
  // daemon must not outlive unshare all the same.
  const h = startHarness({}, { sandbox: 'namespace' });
  try {
    h.client.init();
    const pid = daemonPid(h.daemon.pid as number);
    chmodSync(h.dir, 0o777);
    h.client.uid = 1000;
    h.client.mkdir(1, 'made-as-1000', 0o755);
    expect(statSync(join(h.dir, 'made-as-1000')).uid).toBe(1000);
    h.daemon.kill('SIGKILL');
    await until(
      'the daemon to exit',
      () => !existsSync(`/proc/${pid}`) || status(pid)['State']?.startsWith('Z') === true,
    );
  } finally {
    h.cleanup();
  }
});

test('started under unshare --kill-child by a supervisor (as the shim does), it dies with unshare, also after requests as another user', async () => {
  // No lifeline then: unshare's parent-death signal, which the sandbox's id changes and each
  // request's clear and the daemon sets again.
  const script = bundleWorker(join(__dirname, '../main.ts'));
  const dir = mkdtempSync(join(tmpdir(), 'vfs-supervised-'));
  const env = { ...process.env, [OUTER_NAMESPACES_ENV]: namespaceIds() };
  const args = [...UNSHARE_ARGS, '--', process.execPath, script, `--socket-path=${dir}.sock`, `--shared-dir=${dir}`];
  const unshare = spawn('unshare', [...args, '--log-level=error'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  let pid = 0;
  try {
    const fe = VhostUserFrontend.connect({ socketPath: `${dir}.sock`, memorySize: 16 << 20, queueSize: 128 });
    const client = new FuseClient(fe);
    client.init();
    pid = daemonPid(unshare.pid as number);
    chmodSync(dir, 0o777);
    client.uid = 1000;
    client.mkdir(1, 'made-as-1000', 0o755);
    expect(statSync(join(dir, 'made-as-1000')).uid).toBe(1000);
    expect(status(pid)['Seccomp']).toBe('2');
    unshare.kill('SIGKILL');
    await until(
      'the daemon to exit',
      () => !existsSync(`/proc/${pid}`) || status(pid)['State']?.startsWith('Z') === true,
    );
    fe.close();
  } finally {
    unshare.kill('SIGKILL');
    // A daemon that outlived unshare (the failure this test is about) must not outlive the test.
    if (pid !== 0 && existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
    rmSync(script, { force: true });
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.sock`, { force: true });
  }
});

describe('--sandbox=namespace --seccomp=kill (single export)', () => {
  const h = startHarness({}, { sandbox: 'namespace', seccomp: 'kill' });
  let pid = 0;
  beforeAll(() => {
    h.client.init();
    pid = daemonPid(h.daemon.pid as number);
  });
  afterAll(() => h.cleanup());

  test('is in mount, pid and net namespaces of its own', () => {
    for (const ns of ['mnt', 'pid', 'net']) {
      expect(readlinkSync(`/proc/${pid}/ns/${ns}`)).not.toBe(readlinkSync(`/proc/self/ns/${ns}`));
    }
    expect(status(pid)['NSpid']?.split(/\s+/)).toEqual([String(pid), '1']);
  });

  test('has a private root: a read-only tmpfs with the share and /proc/self/fd only, not even its own code', () => {
    const root = `/proc/${pid}/root`;
    expect(readdirSync(root).sort()).toEqual(['proc', 'shared']);
    expect(existsSync(`${root}/etc/passwd`)).toBe(false);
    expect(existsSync(`${root}/usr/bin`)).toBe(false);
    const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    const rootMount = mounts.find((m) => m[4] === '/');
    expect(rootMount?.[5]).toMatch(/^ro,nosuid,nodev,noexec/);
    expect(rootMount?.slice(rootMount.indexOf('-') + 1, rootMount.indexOf('-') + 2)).toEqual(['tmpfs']);
    expect(mounts.map((m) => m[4])).toContain('/shared');
    expect(mounts.map((m) => m[4])).toContain('/proc/self/fd');
  });

  test('its /proc is only its own fd directory, read-only: /proc/sys is out of reach', () => {
    const root = `/proc/${pid}/root`;
    expect(readdirSync(`${root}/proc`)).toEqual(['self']);
    expect(readdirSync(`${root}/proc/self`)).toEqual(['fd']);
    expect(existsSync(`${root}/proc/sys/kernel/core_pattern`)).toBe(false);
    expect(existsSync(`${root}/proc/1`)).toBe(false);
    const procMounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .filter((m) => m[m.indexOf('-') + 1] === 'proc');
    // One procfs mount, rooted at a process's fd directory (not at the procfs root).
    expect(procMounts.map((m) => [m[3], m[4]])).toEqual([['/1/fd', '/proc/self/fd']]);
    expect(procMounts[0]?.[5]).toMatch(/^ro,nosuid,nodev,noexec/);
    // The passthrough still re-opens its inodes through it.
    writeFileSync(join(h.dir, 'through-proc'), 'x');
    const e = h.client.lookup(1, 'through-proc');
    expect(h.client.setattr(e.nodeid, { mode: 0o640 }).mode & 0o7777).toBe(0o640);
    expect(readWhole(h.client, 1, 'through-proc')).toBe('x');
  });

  test("its share is nodev: a device node the guest makes opens no host device through the daemon's view", () => {
    const share = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((m) => m[4] === '/shared');
    expect(share?.[5]?.split(',')).toEqual(expect.arrayContaining(['rw', 'nodev']));
    const S_IFCHR = 0o020000;
    h.client.mknod(1, 'null', S_IFCHR | 0o666, (1 << 8) | 3);
    const inDaemonView = `/proc/${pid}/root/shared/null`;
    expect(statSync(inDaemonView).rdev).toBe((1 << 8) | 3);
    expect(() => openSync(inDaemonView, 'r')).toThrow(expect.objectContaining({ code: 'EACCES' }));
    // The host's own mount of the directory is not nodev: the node itself is a real one.
    closeSync(openSync(join(h.dir, 'null'), 'r'));
  });

  test("runs under the seccomp filter, with no_new_privs and virtiofsd's capabilities", () => {
    const s = status(pid);
    expect(s['Seccomp']).toBe('2');
    expect(Number(s['Seccomp_filters'])).toBeGreaterThanOrEqual(1);
    expect(s['NoNewPrivs']).toBe('1');
    // Run as root, the daemon holds inodes as file handles by default: CAP_DAC_READ_SEARCH stays.
    const kept = keptCapabilities(true).reduce((mask, cap) => mask | (1n << BigInt(cap)), 0n);
    expect(BigInt(`0x${s['CapEff']}`) & ~kept).toBe(0n);
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      expect(status(Number(task))['Seccomp']).toBe('2');
    }
  });

  test("Node's other threads, started before the sandbox, are left with no capability; the serving thread stays root", () => {
    for (const thread of otherThreads(pid)) expectUnprivileged(thread);
    expect(status(pid)['Uid']?.split(/\s+/)).toEqual(['0', '0', '0', '0']);
    expect(status(pid)['Gid']?.split(/\s+/)).toEqual(['0', '0', '0', '0']);
  });

  test("a host process running as nobody can neither signal the daemon's threads nor set its limits", () => {
    const asNobody = (cmd: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...cmd], { encoding: 'utf8' });
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const kill = asNobody(['kill', '-0', tid]);
      expect({ tid, status: kill.status, stderr: kill.stderr }).toMatchObject({ tid, status: 1 });
      expect(kill.stderr).toMatch(/not permitted/i);
      expect(asNobody(['prlimit', `--pid=${tid}`, '--nofile=10:10']).status).not.toBe(0);
    }
    expect(readFileSync(`/proc/${pid}/limits`, 'utf8')).not.toMatch(/Max open files\s+10\s+10/);
  });

  test('serves FUSE requests through the private root', () => {
    writeFileSync(join(h.dir, 'hello'), 'from the host');
    expect(readWhole(h.client, 1, 'hello')).toBe('from the host');
    const created = h.client.create(1, 'made', 0o2 /* O_RDWR */, 0o644);
    h.client.write(created.entry.nodeid, created.fh, 0, Buffer.from('by the guest'));
    h.client.release(created.entry.nodeid, created.fh);
    expect(readFileSync(join(h.dir, 'made'), 'utf8')).toBe('by the guest');
    expect(errnoOf(() => h.client.lookup(1, '..'))).toBe(EINVAL);
  });
});

describe('--modcaps=+sys_admin:-mknod under --sandbox=namespace', () => {
  const MODCAPS = '+sys_admin:-mknod';
  const h = startHarness({}, { sandbox: 'namespace', modcaps: MODCAPS });
  let pid = 0;
  beforeAll(() => {
    h.client.init();
    pid = daemonPid(h.daemon.pid as number);
  });
  afterAll(() => h.cleanup());

  test('keeps CAP_SYS_ADMIN and drops CAP_MKNOD from the set', () => {
    const kept = keptCapabilities(true, parseModcaps(MODCAPS)).reduce((mask, cap) => mask | (1n << BigInt(cap)), 0n);
    expect(BigInt(`0x${status(pid)['CapEff']}`)).toBe(kept);
    for (const thread of otherThreads(pid)) expectUnprivileged(thread);
  });

  test('sets a trusted.* xattr (CAP_SYS_ADMIN), and a device node gets EPERM', () => {
    const f = h.client.create(1, 'f', 0o2 /* O_RDWR */, 0o644);
    h.client.setxattr(f.entry.nodeid, 'trusted.overlay.opaque', Buffer.from('y'));
    expect(
      spawnSync('getfattr', ['--absolute-names', '-n', 'trusted.overlay.opaque', '--only-values', join(h.dir, 'f')], {
        encoding: 'utf8',
      }).stdout,
    ).toBe('y');
    const S_IFCHR = 0o020000;
    expect(errnoOf(() => h.client.mknod(1, 'null', S_IFCHR | 0o666, (1 << 8) | 3))).toBe(EPERM);
  });
});

test('--modcaps naming a capability the daemon does not hold stops it at start, naming the capability', () => {
  const script = bundleWorker(join(__dirname, '../main.ts'));
  const dir = mkdtempSync(join(tmpdir(), 'vfs-modcaps-'));
  try {
    const run = spawnSync(
      'setpriv',
      [
        '--bounding-set',
        '-sys_time',
        '--',
        process.execPath,
        script,
        `--socket-path=${dir}.sock`,
        `--shared-dir=${dir}`,
        '--modcaps=+sys_time',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('--modcaps: the daemon does not hold CAP_SYS_TIME to keep');
  } finally {
    rmSync(script, { force: true });
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.sock`, { force: true });
  }
});

describe('multi-export mode under --sandbox=namespace', () => {
  let work = '';
  let root = '';
  let daemon: ChildProcess | undefined;
  let control: ControlClient | undefined;
  let script = '';
  const frontends: VhostUserFrontend[] = [];
  const hostMounts: string[] = [];

  function mount(args: string[]): void {
    const r = spawnSync('mount', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount ${args.join(' ')}: ${r.stderr}`);
    hostMounts.unshift(args[args.length - 1] as string);
  }

  beforeAll(async () => {
    script = bundleWorker(join(__dirname, '../main.ts'));
    work = mkdtempSync(join(tmpdir(), 'vfs-sandbox-'));
    root = join(work, 'root');
    mkdirSync(join(root, 'early'), { recursive: true });
    mkdirSync(join(root, 'late'));
    mkdirSync(join(work, 'layer'));
    writeFileSync(join(root, 'early', 'e.txt'), 'early');
    writeFileSync(join(work, 'layer', 'l.txt'), 'bound after start');
    // As the shim does: the shared root is a shared mount point, so later binds propagate.
    mount(['--bind', '--make-shared', root, root]);
    const ctl = join(work, 'ctl.sock');
    daemon = spawn(process.execPath, [script, `--control-socket=${ctl}`, `--shared-dir=${root}`, '--log-level=error'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      detached: true,
    });
    await until('the control socket', () => existsSync(ctl));
    control = await ControlClient.connect(ctl);
  });

  afterAll(() => {
    for (const f of frontends) f.close();
    control?.close();
    if (daemon?.pid !== undefined) process.kill(-daemon.pid, 'SIGKILL');
    for (const target of hostMounts) spawnSync('umount', ['--lazy', target]);
    rmSync(work, { recursive: true, force: true });
    rmSync(script, { force: true });
  });

  function connect(tag: string): FuseClient {
    const fe = VhostUserFrontend.connect({
      socketPath: join(work, `${tag}.sock`),
      memorySize: 16 << 20,
      queueSize: 128,
    });
    frontends.push(fe);
    const c = new FuseClient(fe);
    c.init();
    return c;
  }

  const exportOf = (tag: string) => ({
    tag,
    socket: join(work, `${tag}.sock`),
    dir: tag,
    readonly: false,
    cache: 'auto' as const,
    xattr: false,
    announceSubmounts: false,
  });

  test('an export added after the pivot is served', async () => {
    const pid = daemonPid(daemon?.pid as number);
    expect(readdirSync(`/proc/${pid}/root`)).not.toContain('etc');
    await control?.add(exportOf('early'));
    const c = connect('early');
    expect(readWhole(c, 1, 'e.txt')).toBe('early');
    expect(errnoOf(() => c.lookup(1, '..'))).toBe(EINVAL);
  });

  test('a host bind mount made below the shared root after start reaches the guest', async () => {
    mount(['--bind', join(work, 'layer'), join(root, 'late')]);
    await control?.add(exportOf('late'));
    expect(readWhole(connect('late'), 1, 'l.txt')).toBe('bound after start');
  });

  test('an export with a bad xattr map is refused, naming the rule, and the daemon keeps serving', async () => {
    await expect(control?.add({ ...exportOf('mapped'), dir: 'early', xattrmap: ':rename:all:a:b:' })).rejects.toThrow(
      /field 'xattrmap': xattrmap: unknown type 'rename'/,
    );
    expect((await control?.list())?.map((e) => e.tag)).not.toContain('mapped');
    await control?.add({ ...exportOf('mapped'), dir: 'early', xattrmap: ':ok:all:::' });
    expect(readWhole(connect('mapped'), 1, 'e.txt')).toBe('early');
  });

  test("a later export's vhost-user socket is 0600 although a serving export set the umask to 0", async () => {
    await control?.add({ ...exportOf('umask1'), dir: 'early' });
    expect(readWhole(connect('umask1'), 1, 'e.txt')).toBe('early');
    await control?.add({ ...exportOf('umask2'), dir: 'early' });
    expect(statSync(join(work, 'umask2.sock')).mode & 0o7777).toBe(0o600);
    expect(readWhole(connect('umask2'), 1, 'e.txt')).toBe('early');
  });

  test('vhost-user sockets may only be made beside the control socket', async () => {
    await expect(
      control?.add({ ...exportOf('early2'), dir: 'early', socket: join(tmpdir(), 'elsewhere.sock') }),
    ).rejects.toThrow(/only in/);
  });
});

describe('the seccomp filter', () => {
  let probe = '';
  beforeAll(() => {
    probe = bundleWorker(join(__dirname, '../../test_support/seccomp_probe.ts'));
  });
  afterAll(() => rmSync(probe, { force: true }));

  /** The probe under the filter in `action` mode, making `call`. */
  const probeCall = (action: string, call: string) =>
    spawnSync(process.execPath, [probe, action, call], { encoding: 'utf8' });

  test('allows only listed x86-64 calls; one outside the list kills the process in kill mode', () => {
    expect(listedCalls().length).toBeGreaterThan(50);
    const r = probeCall('kill', 'getppid');
    expect(r.stdout).toMatch(/^installed \d+\n$/);
    expect(r.signal).toBe('SIGSYS');
  });

  test('a crash under the filter dies of its own signal (SIGABRT), not SIGSYS', () => {
    // No core file left behind by the test.
    const noCore = 'ulimit -c 0 && exec "$0" "$@"';
    const r = spawnSync('sh', ['-c', noCore, process.execPath, probe, 'kill', 'abort'], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^installed \d+\n$/);
    expect(r.signal).toBe('SIGABRT');
  });

  test('log mode lets the call through', () => {
    const r = probeCall('log', 'getppid');
    expect(r.stdout).toMatch(/getppid \d+/);
    expect(r.status).toBe(0);
  });

  test('clone asking for a new user namespace is killed before the kernel sees it', () => {
    // Without the filter the kernel answers this flag set with EINVAL; under it the call never runs.
    expect(probeCall('log', 'clone-newuser').stdout).toContain(`clone-newuser -${EINVAL}`);
    const r = probeCall('kill', 'clone-newuser');
    expect(r.stdout).toMatch(/^installed \d+\n$/);
    expect(r.signal).toBe('SIGSYS');
  });

  test('clone3 fails with ENOSYS without running, and threads still start through the clone fallback', () => {
    const r = probeCall('kill', 'clone3');
    expect(r.stdout).toContain(`clone3 -${ENOSYS}`);
    expect(r.status).toBe(0);
    const t = probeCall('kill', 'thread');
    expect(t.stdout).toContain('thread up');
    expect(t.status).toBe(0);
  });

  test('socket is allowed for AF_UNIX only: an inet or netlink socket kills the process', () => {
    const unix = probeCall('kill', 'socket-unix');
    expect(unix.stdout).toMatch(/socket-unix \d+\n/);
    expect(unix.status).toBe(0);
    for (const family of ['socket-inet', 'socket-netlink']) {
      const r = probeCall('kill', family);
      expect(r.stdout).toMatch(/^installed \d+\n$/);
      expect(r.signal).toBe('SIGSYS');
    }
  });

  test('ioctl is allowed for FIONBIO only (libuv watching an fd): TIOCSTI kills the process', () => {
    const fionbio = probeCall('kill', 'ioctl-fionbio');
    expect(fionbio.stdout).toContain(`ioctl-fionbio -${constants.errno.EFAULT}`);
    expect(fionbio.status).toBe(0);
    const r = probeCall('kill', 'ioctl-tiocsti');
    expect(r.stdout).toMatch(/^installed \d+\n$/);
    expect(r.signal).toBe('SIGSYS');
  });
});

describe('--sandbox=chroot', () => {
  let script = '';
  let dir = '';
  beforeAll(() => {
    script = bundleWorker(join(__dirname, '../main.ts'));
    dir = mkdtempSync(join(tmpdir(), 'vfs-chroot-'));
    writeFileSync(join(dir, 'f'), 'chrooted');
  });
  afterAll(() => {
    rmSync(script, { force: true });
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.sock`, { force: true });
  });

  test("refuses to mount its root in its parent's mount namespace", () => {
    const r = spawnSync(
      process.execPath,
      [script, `--socket-path=${dir}.sock`, `--shared-dir=${dir}`, '--sandbox=chroot'],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('mount namespace of its own');
  });

  test('in a mount namespace of its own, serves from the private root', async () => {
    const args = [
      '--mount',
      '--propagation',
      'private',
      '--',
      process.execPath,
      script,
      `--socket-path=${dir}.sock`,
      `--shared-dir=${dir}`,
      '--sandbox=chroot',
      '--log-level=error',
    ];
    const rootsBefore = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('vfs-virtiofsd-root-')));
    const daemon = spawn('unshare', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    try {
      const fe = VhostUserFrontend.connect({ socketPath: `${dir}.sock`, memorySize: 16 << 20, queueSize: 128 });
      try {
        const c = new FuseClient(fe);
        c.init();
        expect(readWhole(c, 1, 'f')).toBe('chrooted');
        expect(readdirSync(`/proc/${daemon.pid}/root`)).not.toContain('etc');
        expect(status(daemon.pid as number)['Seccomp']).toBe('2');
        for (const thread of otherThreads(daemon.pid as number)) expectUnprivileged(thread);
      } finally {
        fe.close();
      }
    } finally {
      daemon.kill('SIGKILL');
      await new Promise((r) => daemon.once('exit', r));
      // The mount point of the root stays behind, empty, once its namespace is gone.
      for (const n of readdirSync(tmpdir()))
        if (n.startsWith('vfs-virtiofsd-root-') && !rootsBefore.has(n)) rmSync(join(tmpdir(), n), { recursive: true });
    }
  });
});
