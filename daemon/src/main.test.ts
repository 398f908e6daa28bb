// The daemon process as a whole, in single-export mode: its fds and its socket's owner and mode.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorker } from '@vfs/harness/bundles';
import { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
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
