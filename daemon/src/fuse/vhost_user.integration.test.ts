// The FUSE server and passthrough file system in the real daemon process, driven over a real
// vhost-user socket by the front-end driver: the same client as the unit tests, end to end.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '@vfs/harness/temp_dir';
import { bundleWorker } from '@vfs/harness/bundles';
import { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { errnoOf, FuseClient, LOCK_TO_EOF } from '@vfs/harness/vhost_user_driver/fuse_client';
import { EAGAIN, EBADF, EINVAL, ENOSYS, EROFS } from './errno';

let dir: string;
let script: string;
const daemons: ChildProcess[] = [];
const frontends: VhostUserFrontend[] = [];

beforeAll(() => {
  dir = tempDir('vfs-fuse-e2e');
  script = bundleWorker(join(__dirname, '../main.ts'));
});

afterAll(() => {
  for (const f of frontends) f.close();
  for (const d of daemons) if (d.exitCode === null) d.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  rmSync(script, { force: true });
});

function startDaemon(name: string, extra: string[] = []): { shared: string; client: FuseClient } {
  const shared = join(dir, name);
  mkdirSync(shared);
  chmodSync(shared, 0o755);
  const socketPath = join(dir, `${name}.sock`);
  const child = spawn(
    process.execPath,
    [script, `--socket-path=${socketPath}`, `--shared-dir=${shared}`, '--log-level=error', ...extra],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  daemons.push(child);
  const frontend = VhostUserFrontend.connect({ socketPath, memorySize: 16 << 20, queueSize: 512 });
  frontends.push(frontend);
  const client = new FuseClient(frontend);
  client.init();
  return { shared, client };
}

test('LOOKUP, CREATE, 1 MiB WRITE/READ, READDIRPLUS, locks and bad input over vhost-user', () => {
  const { shared, client: c } = startDaemon('rw', ['--xattrmap=:map:trusted.:user.virtiofs.:']);
  writeFileSync(join(shared, 'hello'), 'hello world');
  const e = c.lookup(1, 'hello');
  expect(e.attr.size).toBe(11);
  expect(e.attr.ino).toBe(statSync(join(shared, 'hello'), { bigint: true }).ino);
  const o = c.open(e.nodeid, 0);
  expect(c.read(e.nodeid, o.fh, 0, 100).toString()).toBe('hello world');
  c.release(e.nodeid, o.fh);

  const data = randomBytes(1 << 20);
  const f = c.create(1, 'big', 0o102, 0o644);
  expect(c.write(f.entry.nodeid, f.fh, 0, data)).toBe(1 << 20);
  expect(c.read(f.entry.nodeid, f.fh, 0, 1 << 20).equals(data)).toBe(true);
  expect(readFileSync(join(shared, 'big')).equals(data)).toBe(true);

  c.setlk(f.entry.nodeid, f.fh, 1n, { start: 0n, end: LOCK_TO_EOF, type: 1, pid: 1 });
  expect(errnoOf(() => c.setlk(f.entry.nodeid, f.fh, 2n, { start: 0n, end: LOCK_TO_EOF, type: 1, pid: 1 }))).toBe(
    EAGAIN,
  );
  c.release(f.entry.nodeid, f.fh);

  const d = c.mkdir(1, 'd', 0o755);
  for (let i = 0; i < 300; i++) writeFileSync(join(shared, 'd', `n${i}`), '');
  const dh = c.opendir(d.nodeid);
  expect(c.readdirAll(d.nodeid, dh.fh, true).length).toBe(302);
  c.releasedir(d.nodeid, dh.fh);

  c.setxattr(d.nodeid, 'trusted.overlay.opaque', Buffer.from('y'));
  expect((c.getxattr(d.nodeid, 'trusted.overlay.opaque', 10) as Buffer).toString()).toBe('y');
  c.mknod(d.nodeid, 'wh', 0o020000);
  expect(statSync(join(shared, 'd', 'wh')).isCharacterDevice()).toBe(true);

  expect(errnoOf(() => c.getattr(987654))).toBe(EBADF);
  expect(errnoOf(() => c.lookup(1, '..'))).toBe(EINVAL);
  expect(errnoOf(() => c.request(4242, 1, [], 4096))).toBe(ENOSYS);
  expect(c.send([Buffer.alloc(10)], 64).error).toBe(EINVAL);
  c.getattr(1);
});

test('a read-only export answers EROFS over vhost-user', () => {
  const { shared, client: c } = startDaemon('ro', ['--readonly']);
  writeFileSync(join(shared, 'f'), 'x');
  expect(errnoOf(() => c.mkdir(1, 'd', 0o755))).toBe(EROFS);
  const f = c.lookup(1, 'f');
  expect(errnoOf(() => c.open(f.nodeid, 1))).toBe(EROFS);
  expect(c.read(f.nodeid, c.open(f.nodeid, 0).fh, 0, 10).toString()).toBe('x');
});
