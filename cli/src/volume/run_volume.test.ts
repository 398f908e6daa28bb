// vfs-runtime volume against a fake shim on a temporary management socket: the requests it sends
// and what it prints of the answers.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureIo } from '../../test_support/capture_io';
import { FakeShim } from '../../test_support/fake_shim';
import { addSandbox } from '../../test_support/run_dir_fixture';
import { runCli } from '../cli';

describe('vfs-runtime volume', () => {
  let runDir: string;
  let work: string;
  let shim: FakeShim;
  const run = async (...argv: string[]) => {
    const captured = captureIo({ VFS_RUN_DIR: runDir }, work);
    const status = await runCli(['volume', ...argv], captured.io);
    return { status, stdout: captured.stdout(), stderr: captured.stderr() };
  };

  beforeEach(async () => {
    runDir = mkdtempSync(join(tmpdir(), 'vfs-cli-run-'));
    work = mkdtempSync(join(tmpdir(), 'vfs-cli-work-'));
    mkdirSync(join(work, 'data'));
    addSandbox(runDir, 'k8s.io', 'pod', ['pod', 'app']);
    shim = await FakeShim.start(runDir, 'k8s.io', 'pod');
  });
  afterEach(async () => {
    await shim.stop();
    rmSync(runDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('adds, lists and removes a volume through the sandbox’s shim', async () => {
    const added = await run('add', '--id', 'app', '--source', 'data', '--target', '/mnt/data', '--readonly');
    expect(added).toEqual({
      status: 0,
      stdout: `${join(work, 'data')} is at /mnt/data in container app (read-only)\n`,
      stderr: '',
    });
    expect(shim.requests).toEqual([
      { id: 1, op: 'volume-add', containerId: 'app', source: join(work, 'data'), target: '/mnt/data', readonly: true },
    ]);

    const listed = await run('list', '--id', 'app');
    expect(listed.status).toBe(0);
    expect(listed.stdout.split('\n')).toEqual([
      expect.stringMatching(/^CONTAINER +TARGET +SOURCE +MODE +TAG$/),
      expect.stringMatching(new RegExp(`^app +/mnt/data +${join(work, 'data')} +ro +vol0$`)),
      '',
    ]);
    expect(shim.requests[1]).toEqual({ id: 1, op: 'volume-list', containerId: 'app' });

    const removed = await run('remove', '--id', 'app', '--target', '/mnt/data', '--namespace', 'k8s.io');
    expect(removed).toEqual({ status: 0, stdout: 'removed the volume at /mnt/data from container app\n', stderr: '' });
    expect(shim.requests[2]).toEqual({ id: 1, op: 'volume-remove', containerId: 'app', target: '/mnt/data' });
  });

  it('lists every sandbox’s volumes as JSON', async () => {
    await run('add', '--id', 'app', '--source', join(work, 'data'), '--target', '/d');
    const listed = await run('list', '--json');
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      { containerId: 'app', source: join(work, 'data'), target: '/d', readonly: false, tag: 'vol0' },
    ]);
    expect(shim.requests[1]).toEqual({ id: 1, op: 'volume-list', containerId: '' });
  });

  it('prints the shim’s refusal and exits 1', async () => {
    await run('add', '--id', 'app', '--source', 'data', '--target', '/d');
    await expect(run('add', '--id', 'app', '--source', 'data', '--target', '/d')).resolves.toEqual({
      status: 1,
      stdout: '',
      stderr: 'vfs-runtime: management volume-add: /d is already a volume of container app\n',
    });
    await expect(run('remove', '--id', 'app', '--target', '/elsewhere')).resolves.toMatchObject({
      status: 1,
      stderr: 'vfs-runtime: management volume-remove: container app has no volume at /elsewhere\n',
    });
  });

  it('refuses a source that is missing or not a directory before asking the shim', async () => {
    writeFileSync(join(work, 'file'), '');
    await expect(run('add', '--id', 'app', '--source', 'nope', '--target', '/d')).resolves.toEqual({
      status: 1,
      stdout: '',
      stderr: `vfs-runtime: --source ${join(work, 'nope')} does not exist\n`,
    });
    await expect(run('add', '--id', 'app', '--source', 'file', '--target', '/d')).resolves.toMatchObject({
      status: 1,
      stderr: `vfs-runtime: --source ${join(work, 'file')} is not a directory\n`,
    });
    expect(shim.requests).toEqual([]);
  });

  it('refuses a relative target and an unknown container without asking the shim', async () => {
    await expect(run('add', '--id', 'app', '--source', 'data', '--target', 'd')).resolves.toMatchObject({
      status: 1,
      stderr: expect.stringMatching(/^vfs-runtime: volume add: --target d is not an absolute path/),
    });
    await expect(run('remove', '--id', 'ghost', '--target', '/d', '--namespace', 'k8s.io')).resolves.toEqual({
      status: 1,
      stdout: '',
      stderr: 'vfs-runtime: unknown container ghost (no vfs sandbox serves it in namespace k8s.io)\n',
    });
    expect(shim.requests).toEqual([]);
  });

  it('says which sandbox’s shim does not answer, and still lists the others', async () => {
    addSandbox(runDir, 'default', 'gone', ['old']);
    await run('add', '--id', 'app', '--source', 'data', '--target', '/d');
    await expect(run('remove', '--id', 'old', '--target', '/d')).resolves.toMatchObject({
      status: 1,
      stderr: expect.stringMatching(/^vfs-runtime: the shim of sandbox gone \(namespace default\) does not answer: /),
    });
    const listed = await run('list');
    expect(listed.status).toBe(1);
    expect(listed.stderr).toMatch(/the shim of sandbox gone \(namespace default\) does not answer/);
    expect(listed.stdout).toMatch(/\napp +\/d /);
  });
});
