// Volumes added to a running container: `vfs-runtime volume add` hot-plugs a virtio-fs device into
// the container's VM over QMP and mounts it in the container, which sees it at once; writes reach
// the host; removal takes it out of the container and the VM, and is refused while busy. Real
// containerd 1.6 + ctr, our shim, QEMU (q35) under TCG, the guest agent, the bundled CLI.
// Needs `make build runtime`.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleCli, bundleShim } from '@vfs/harness/bundles';
import { mountsUnder, PrivateContainerd } from '@vfs/harness/containerd';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { waitFor } from '@vfs/harness/process';
import { recordedPid } from '@vfs/harness/vm_checks';

jest.setTimeout(300_000);

const IMAGE = 'docker.io/library/busybox:vfs';
const NS = 'vfs-volumes';
const ID = 'vol-c1';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('vfs-runtime volume on a running container', () => {
  let work: string;
  let cli: string;
  let containerd: PrivateContainerd;
  let holder: ChildProcess | undefined;

  const vfsRuntime = (args: readonly string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [cli, ...args],
        { env: { ...process.env, VFS_RUN_DIR: containerd.runDir }, timeout: 90_000 },
        (err, stdout, stderr) =>
          resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
      );
    });
  const exec = (execId: string, ...argv: string[]): Promise<Run> =>
    containerd.ctr(['task', 'exec', '--exec-id', execId, ID, ...argv], { namespace: NS, timeoutMs: 90_000 });
  const add = (id: string, source: string, target: string, ...extra: string[]): Promise<Run> =>
    vfsRuntime(['volume', 'add', '--namespace', NS, '--id', id, '--source', source, '--target', target, ...extra]);
  const remove = (target: string): Promise<Run> =>
    vfsRuntime(['volume', 'remove', '--namespace', NS, '--id', ID, '--target', target]);
  const hostDir = (name: string, file?: string): string => {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    if (file !== undefined) writeFileSync(join(dir, 'hello'), file);
    return dir;
  };

  beforeAll(async () => {
    bundleShim();
    cli = bundleCli();
    work = mkdtempSync('/tmp/vfs-e2e-vol-');
    const config = join(work, 'configuration.toml');
    // The default machine (q35), with two slots, so the third volume finds none.
    writeFileSync(config, '[hypervisor]\nhotplug_slots = 2\n');
    containerd = await PrivateContainerd.start({ env: { VFS_CONFIG: config } });
    const image = buildBusyboxImage(work, IMAGE);
    expect((await containerd.ctr(['images', 'import', image], { namespace: NS })).code).toBe(0);
    const run = await containerd.ctr(['run', '-d', '--runtime', 'io.containerd.vfs.v2', IMAGE, ID, 'sleep', '600'], {
      namespace: NS,
      timeoutMs: 120_000,
    });
    expect(run).toMatchObject({ code: 0 });
  });

  afterAll(async () => {
    if (holder?.pid !== undefined && holder.exitCode === null) holder.kill('SIGKILL');
    await containerd?.ctr(['task', 'kill', '-s', 'SIGKILL', ID], { namespace: NS });
    await waitFor('the task to stop', async () => {
      const ls = await containerd.ctr(['task', 'ls'], { namespace: NS });
      return !ls.stdout.includes(ID) || /STOPPED/.test(ls.stdout);
    }).catch(() => undefined);
    await containerd?.ctr(['task', 'rm', ID], { namespace: NS });
    await containerd?.ctr(['container', 'rm', ID], { namespace: NS });
    const left = containerd === undefined ? [] : containerd.recordedStillRunning();
    const mounts = containerd === undefined ? [] : mountsUnder(containerd.dir);
    await containerd?.stop();
    rmSync(work, { recursive: true, force: true });
    expect(left).toEqual([]);
    expect(mounts).toEqual([]);
  });

  it("boots QEMU without the container shares and plugs them on root ports after the volumes' two", async () => {
    const qemu = readFileSync(`/proc/${recordedPid(containerd, NS, ID, 'qemu')}/cmdline`, 'utf8').split('\0');
    const devices = qemu.filter((_, i, argv) => argv[i - 1] === '-device');
    expect(devices.filter((d) => d.startsWith('pcie-root-port,')).map((d) => /id=(hp\d+)/.exec(d)?.[1])).toEqual([
      'hp0',
      'hp1',
      'hp2',
      'hp3',
    ]);
    expect(devices.filter((d) => d.startsWith('vhost-user-fs-pci'))).toEqual([]);
    // The container's root is an overlay of the two shares, mounted in the guest after their hotplug.
    const root = await exec('root-mount', 'sh', '-c', 'grep "^overlay / " /proc/mounts');
    expect(root.stdout).toMatch(/lowerdir=[^ ]*vfslayers/);
    expect(root.stdout).toMatch(/upperdir=[^ ]*vfsdata/);
  });

  it('hot-plugs a directory the container sees at once, and its writes reach the host', async () => {
    const source = hostDir('a', 'from the host\n');
    const added = await add(ID, source, '/mnt/a');
    expect(added).toMatchObject({ code: 0 });
    expect((await exec('read-a', 'cat', '/mnt/a/hello')).stdout).toBe('from the host\n');
    expect((await exec('write-a', 'sh', '-c', 'echo from the guest > /mnt/a/new')).code).toBe(0);
    expect(readFileSync(join(source, 'new'), 'utf8')).toBe('from the guest\n');
  });

  it('mounts a read-only volume read-only in the container', async () => {
    const source = hostDir('b', 'ro\n');
    const added = await add(ID, source, '/mnt/b', '--readonly');
    expect(added).toMatchObject({ code: 0 });
    expect((await exec('read-b', 'cat', '/mnt/b/hello')).stdout).toBe('ro\n');
    const write = await exec('write-b', 'sh', '-c', 'echo x > /mnt/b/x');
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/Read-only file system/);
    expect(existsSync(join(source, 'x'))).toBe(false);
  });

  it('lists the volumes of the container', async () => {
    const listed = await vfsRuntime(['volume', 'list', '--namespace', NS, '--id', ID]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('/mnt/a');
    expect(listed.stdout).toContain('/mnt/b');
  });

  it('refuses with the reason: an unknown container, a missing source, a target it has already, no free slot', async () => {
    const unknown = await add('nope', work, '/x');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/nope/);
    const missing = await add(ID, join(work, 'none'), '/x');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/none/);
    const again = await add(ID, hostDir('c'), '/mnt/a');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/\/mnt\/a.*already/);
    const full = await add(ID, hostDir('d'), '/mnt/d');
    expect(full.code).not.toBe(0);
    expect(full.stderr).toMatch(/all 2 slots are in use \(\[hypervisor\] hotplug_slots = 2\)/);
  });

  it('refuses to remove a volume a process uses, then removes it from the container and the VM', async () => {
    holder = spawn(
      containerd.binaries.ctr,
      [
        '--address',
        containerd.grpcAddress,
        '--namespace',
        NS,
        'task',
        'exec',
        '--exec-id',
        'holder',
        ID,
        'sh',
        '-c',
        'cd /mnt/a && sleep 120',
      ],
      { stdio: 'ignore' },
    );
    await waitFor(
      'the holder to run',
      async () => (await containerd.ctr(['task', 'ps', ID], { namespace: NS })).stdout.split('\n').length > 3,
    );
    const busy = await remove('/mnt/a');
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toMatch(/busy/);
    await containerd.ctr(['task', 'kill', '--exec-id', 'holder', '-s', 'SIGKILL', ID], { namespace: NS });
    await waitFor('the holder to exit', async () => holder?.exitCode !== null);
    const removed = await remove('/mnt/a');
    expect(removed).toMatchObject({ code: 0 });
    expect((await exec('gone-a', 'cat', '/mnt/a/hello')).code).not.toBe(0);
    const listed = await vfsRuntime(['volume', 'list', '--namespace', NS, '--id', ID]);
    expect(listed.stdout).not.toContain('/mnt/a');
    expect((await remove('/mnt/b')).code).toBe(0);
  });

  it('refuses a target that is a mount point in the container, and unplugs what it had plugged', async () => {
    const taken = await add(ID, hostDir('e'), '/proc');
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toMatch(/\/proc is a mount point already/);
    expect((await vfsRuntime(['volume', 'list', '--namespace', NS, '--id', ID])).stdout).not.toContain('/proc');
    // Its slot and device went back: the next volume gets them.
    expect((await add(ID, hostDir('f', 'f\n'), '/mnt/f')).code).toBe(0);
    expect((await exec('read-f', 'cat', '/mnt/f/hello')).stdout).toBe('f\n');
  });
});
