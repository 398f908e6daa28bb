// The daemon process as a whole, in single-export mode: its fds, its socket's owner and mode, and
// where --syslog sends its log.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorker } from '@vfs/harness/bundles';
import { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { FakeSyslog } from '../test_support/fake_syslog';
import { startHarness } from '../test_support/passthrough_harness';

test('single-export mode holds exactly one fd on the shared directory', () => {
  const h = startHarness({}, { sandbox: 'none' });
  try {
    h.client.init();
    const pid = h.daemon.pid as number;
    const onShare = readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === h.dir;
      } catch {
        return false; // closed while we looked
      }
    });
    expect(onShare).toHaveLength(1);
  } finally {
    h.cleanup();
  }
});

describe.each(['none', 'namespace'])('--socket-group under --sandbox=%s', (sandbox) => {
  const GROUP = 4242;
  let dir = '';
  let script = '';
  let daemon: ChildProcess | undefined;
  beforeAll(() => {
    script = bundleWorker(join(__dirname, 'main.ts'));
    dir = mkdtempSync(join(tmpdir(), 'vfs-group-'));
    writeFileSync(join(dir, 'f'), 'grouped');
  });
  afterAll(() => {
    daemon?.kill('SIGKILL');
    rmSync(script, { force: true });
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.sock`, { force: true });
  });

  test('the vhost-user socket is 0660 and owned by the group, whatever the umask', async () => {
    const socket = `${dir}.sock`;
    const args = [script, `--socket-path=${socket}`, `--shared-dir=${dir}`, `--socket-group=${GROUP}`];
    daemon = spawn(process.execPath, [...args, `--sandbox=${sandbox}`, '--log-level=error'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const deadline = Date.now() + 10_000;
    while (!(existsSync(socket) && statSync(socket).gid === GROUP)) {
      if (Date.now() > deadline) throw new Error(`no socket owned by group ${GROUP} at ${socket}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(statSync(socket).mode & 0o7777).toBe(0o660);
    const fe = VhostUserFrontend.connect({ socketPath: socket, memorySize: 16 << 20, queueSize: 128 });
    try {
      const c = new FuseClient(fe);
      c.init();
      const e = c.lookup(1, 'f');
      expect(c.read(e.nodeid, c.open(e.nodeid, 0).fh, 0, 100).toString()).toBe('grouped');
    } finally {
      fe.close();
    }
  });
});

// The system log the daemon reaches is /dev/log. Here it is a FakeSyslog at DIR/log, if there is
// one, bound into a private mount namespace whose /dev is a tmpfs with the host's null, zero, full,
// random and urandom.
const PRIVATE_DEV = `set -e
mkdir "$1/hostdev"
mount --rbind /dev "$1/hostdev"
mount -t tmpfs -o mode=0755 vfs-test-dev /dev
for n in null zero full random urandom; do touch "/dev/$n"; mount --bind "$1/hostdev/$n" "/dev/$n"; done
ln -s /proc/self/fd /dev/fd
if [ -S "$1/log" ]; then touch /dev/log; mount --bind "$1/log" /dev/log; fi
umount -l "$1/hostdev"
shift
exec "$@"`;

/** vfs-virtiofsd --syslog in namespace mode, on a share in `dir`, with PRIVATE_DEV's /dev. */
function startWithSyslog(dir: string, script: string): { daemon: ChildProcess; socket: string; stderr: () => string } {
  const share = join(dir, 'share');
  mkdirSync(share);
  const socket = join(dir, 'vhost.sock');
  const args = [script, `--socket-path=${socket}`, `--shared-dir=${share}`, '--syslog', '--sandbox=namespace'];
  const daemon = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', PRIVATE_DEV, 'sh', dir, process.execPath, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  daemon.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return { daemon, socket, stderr: () => stderr };
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('--syslog with the sandbox and seccomp filter on', () => {
  let script = '';
  const dirs: string[] = [];
  const daemons: ChildProcess[] = [];
  let syslog: FakeSyslog | undefined;
  beforeAll(() => {
    script = bundleWorker(join(__dirname, 'main.ts'));
  });
  afterAll(() => {
    for (const daemon of daemons) daemon.kill('SIGKILL');
    syslog?.close();
    rmSync(script, { force: true });
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'vfs-syslog-main-'));
    dirs.push(dir);
    return dir;
  };

  test('the lines logged after the sandbox closed /dev/log off still reach the system log, not stderr', async () => {
    const dir = tempDir();
    const log = new FakeSyslog(join(dir, 'log'));
    syslog = log;
    const { daemon, socket, stderr } = startWithSyslog(dir, script);
    daemons.push(daemon);
    const lines: string[] = [];
    const ready = (): string | undefined => lines.find((line) => line.includes('"msg":"sandbox ready"'));
    await until('"sandbox ready" in the system log', () => {
      lines.push(...log.drain());
      return ready() !== undefined && existsSync(socket);
    }).catch((err: unknown) => {
      throw new Error(`${String(err)}: the log had ${lines.join('\n')}\nstderr: ${stderr()}`);
    });
    expect(ready()).toMatch(/^<30>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d vfs-virtiofsd\[\d+\]: \{"level":30,/);
    expect(ready()).toContain('"seccomp":"kill"');
    expect(stderr()).not.toContain('sandbox ready');
    expect(stderr()).not.toContain('--syslog');
  }, 30_000);

  test('without a system log the daemon serves, logging to stderr after saying why, once', async () => {
    const { daemon, socket, stderr } = startWithSyslog(tempDir(), script);
    daemons.push(daemon);
    await until(
      'the vhost-user socket and "sandbox ready" on stderr',
      () => existsSync(socket) && stderr().includes('sandbox ready'),
    );
    const warnings = stderr()
      .split('\n')
      .filter((line) => line.includes('--syslog'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0] as string)).toMatchObject({
      level: 40,
      error: 'connect(/dev/log): ENOENT',
      msg: '--syslog: no system log at /dev/log: logging to stderr',
    });
  }, 30_000);
});
