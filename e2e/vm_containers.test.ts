// Containers in QEMU micro-VMs through the real stack: containerd 1.6, 2.x and 1.7 with their ctr, our shim
// with the VM-backed runtime (its default), vfs-virtiofsd, QEMU under TCG and the guest agent.
// VM boots are the cost here (~2–4 s each under TCG): one long-running container serves several
// checks (exec, ps, pause/resume, metrics, upper-dir writes, containerd restart).
// Needs `make build runtime` (bundles, guest kernel + initramfs, build/runtime).

import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  type ContainerdBinaries,
  containerd17,
  containerd2,
  type CtrResult,
  mountsUnder,
  PrivateContainerd,
  SYSTEM_CONTAINERD,
} from '@vfs/harness/containerd';
import { recordedPid } from '@vfs/harness/vm_checks';
import { cgroupDirsUnder, shimPidsServing } from '@vfs/harness/host_leftovers';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { cgroupPathsOf, waitFor } from '@vfs/harness/process';
import { bundleShim } from '@vfs/harness/bundles';
import { guestKernelRelease } from '@vfs/harness/guest_vm';

jest.setTimeout(180_000);

const IMAGE = 'docker.io/library/busybox:vfs';
const RUNTIME = ['--runtime', 'io.containerd.vfs.v2'];
const NS = 'vfs-vm';

/**
 * ctr with stdin and, for -t, a pty from script(1) (ctr puts its own stdin in raw mode), sized
 * 24x80: ctr gives the container its terminal's size, and script's has none of its own.
 */
function ctrWithInput(
  containerd: PrivateContainerd,
  args: readonly string[],
  input: string,
  tty = false,
): Promise<CtrResult> {
  const argv = ['--address', containerd.grpcAddress, '--namespace', NS, ...args];
  const [command, commandArgs] = tty
    ? [
        'script',
        [
          '-qec',
          `stty rows 24 cols 80 && ${[containerd.binaries.ctr, ...argv].map((a) => `'${a}'`).join(' ')}`,
          '/dev/null',
        ],
      ]
    : [containerd.binaries.ctr, argv];
  return new Promise((resolve) => {
    const child = spawn(command as string, commandArgs as string[], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    if (!tty) {
      child.stdin.end(input);
      return;
    }
    // script(1) types the end of its stdin into ctr's terminal as ^D. Typed before ctr switched
    // the terminal to raw mode, the line discipline keeps it as an EOF marker, a NUL byte that
    // ctr reads once raw and sends to the container (whose terminal echoes it as "^@"). So the
    // stdin of script ends only with ctr.
    child.stdin.write(input);
    child.once('exit', () => child.stdin.end());
  });
}

function sandboxDirs(containerd: PrivateContainerd): string[] {
  const dir = join(containerd.runDir, 'sandboxes', NS);
  return existsSync(dir) ? readdirSync(dir) : [];
}

function qemuPidOf(containerd: PrivateContainerd, sandbox: string): number {
  return recordedPid(containerd, NS, sandbox, 'qemu');
}

function expectNothingLeft(containerd: PrivateContainerd): void {
  expect(containerd.recordedStillRunning()).toEqual([]);
  expect(mountsUnder(containerd.dir)).toEqual([]);
  expect(sandboxDirs(containerd)).toEqual([]);
  const sockets = join(containerd.runDir, 's');
  expect(existsSync(sockets) ? readdirSync(sockets) : []).toEqual([]);
}

function ok(result: CtrResult): CtrResult {
  if (result.code !== 0) throw new Error(`ctr failed (${result.code}): ${result.stderr}${result.stdout}`);
  return result;
}

// Debian's containerd 1.6 and ctr, then forky's 2.x (ttrpc both: shim/src/protocol.ts).
const CONTAINERDS: [string, () => ContainerdBinaries][] = [
  ['1.6', () => SYSTEM_CONTAINERD],
  ['2.x', containerd2],
];

describe.each(CONTAINERDS)('containers in VMs with containerd %s', (_release, binaries) => {
  let work: string;
  let image: string;
  let containerd: PrivateContainerd;
  const ctr = (args: readonly string[], timeoutMs = 90_000): Promise<CtrResult> =>
    containerd.ctr(args, { namespace: NS, timeoutMs });

  beforeAll(async () => {
    bundleShim();
    work = mkdtempSync('/tmp/vfs-e2e-vm-');
    image = buildBusyboxImage(work, IMAGE);
    containerd = await PrivateContainerd.start({ binaries: binaries() });
    ok(await ctr(['images', 'import', image]));
  });

  afterAll(async () => {
    await containerd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('fails Create with the reason when the kernel is missing, leaving nothing behind', async () => {
    const config = join(work, 'bad.toml');
    writeFileSync(config, '[hypervisor]\nkernel = "/nonexistent/vmlinux"\n');
    const result = await ctr(['run', '--rm', ...RUNTIME, '--runtime-config-path', config, IMAGE, 'nokernel', 'true']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/hypervisor\.kernel \/nonexistent\/vmlinux is missing/);
    await ctr(['container', 'rm', 'nokernel']);
    await waitFor(
      'the failed sandbox to be cleaned up',
      async () => (sandboxDirs(containerd).length === 0 ? true : undefined),
      15_000,
    );
    expectNothingLeft(containerd);
  });

  it('runs a command in the VM: its output, the guest kernel, its exit code', async () => {
    const echo = ok(
      await ctr(['run', '--rm', ...RUNTIME, IMAGE, 'echo1', 'sh', '-c', 'echo hello from the vm; uname -r']),
    );
    expect(echo.stdout).toBe(`hello from the vm\n${guestKernelRelease()}\n`);
    const seven = await ctr(['run', '--rm', ...RUNTIME, IMAGE, 'exit7', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(seven.code).toBe(7);
    expect(seven.stdout).toBe('out\n');
    expect(seven.stderr).toContain('err');
  });

  it('sizes the VM for the limits a lone container asks for (static_sandbox_resource_mgmt): 512 + 256 MiB, 1 + 1 vCPUs', async () => {
    const sized = ok(
      await ctr([
        'run',
        '--rm',
        ...RUNTIME,
        '--memory-limit',
        String(256 << 20),
        '--cpus',
        '1',
        IMAGE,
        'sized1',
        'sh',
        '-c',
        'nproc; grep MemTotal /proc/meminfo',
      ]),
    );
    const [nproc, memTotal] = sized.stdout.split('\n');
    // 1 + 1 vCPUs, capped at the host's CPUs.
    expect(nproc).toBe(String(Math.min(2, availableParallelism())));
    // The guest's total is its RAM less what the kernel keeps (its image, reserved ranges).
    const totalMiB = Number(/MemTotal:\s+(\d+) kB/.exec(memTotal ?? '')?.[1]) / 1024;
    expect(totalMiB).toBeGreaterThan(512 + 256 - 64);
    expect(totalMiB).toBeLessThanOrEqual(512 + 256);
  });

  it("passes stdin to the process and ends it with ctr's input", async () => {
    const result = await ctrWithInput(
      containerd,
      ['run', '--rm', ...RUNTIME, IMAGE, 'stdin1', 'sh', '-c', 'read x; echo "got $x"'],
      'abc\n',
    );
    expect(result).toMatchObject({ code: 0, stdout: 'got abc\n' });
  });

  it('gives a terminal with -t', async () => {
    const result = await ctrWithInput(
      containerd,
      ['run', '--rm', '-t', ...RUNTIME, IMAGE, 'tty1', 'sh', '-c', 'tty; stty size'],
      '',
      true,
    );
    expect(result.code).toBe(0);
    // No NUL (echoed "^@") ahead; ctr's terminal adds a \r to the container's \r\n.
    expect(result.stdout).toMatch(/^\/dev\/pts\/\d+\r+\n24 80\r+\n$/);
  });

  it('refuses writes to a read-only rootfs and shows a bind volume read-only', async () => {
    const ro = await ctr(['run', '--rm', '--read-only', ...RUNTIME, IMAGE, 'ro1', 'sh', '-c', 'touch /x']);
    expect(ro.code).not.toBe(0);
    expect(ro.stderr + ro.stdout).toMatch(/Read-only file system/);
    const volume = join(work, 'volume');
    mkdirSync(volume, { recursive: true });
    writeFileSync(join(volume, 'file.txt'), 'from the host\n');
    const result = await ctr([
      'run',
      '--rm',
      ...RUNTIME,
      '--mount',
      `type=bind,src=${volume},dst=/vol,options=rbind:ro`,
      IMAGE,
      'vol1',
      'sh',
      '-c',
      'cat /vol/file.txt; touch /vol/new 2>&1 || echo refused',
    ]);
    expect(result.stdout).toContain('from the host\n');
    expect(result.stdout).toMatch(/Read-only file system|refused/);
    expect(existsSync(join(volume, 'new'))).toBe(false);
  });

  it('serves exec, ps, pause/resume, metrics and writes to the upper dir on one running container, across a containerd restart', async () => {
    ok(await ctr(['run', '-d', ...RUNTIME, IMAGE, 'long1', 'sh', '-c', 'echo started > /started; sleep 600']));
    ok(await ctr(['run', '-d', ...RUNTIME, IMAGE, 'long2', 'sleep', '600']));
    const ls = ok(await ctr(['task', 'ls'])).stdout;
    expect(ls).toMatch(/long1\s+\d+\s+RUNNING/);
    expect(ls).toMatch(/long2\s+\d+\s+RUNNING/);
    const exec = ok(
      await ctr([
        'task',
        'exec',
        '--exec-id',
        'x1',
        'long1',
        'sh',
        '-c',
        'echo written-in-vm > /data.txt; cat /started',
      ]),
    );
    expect(exec.stdout).toBe('started\n');
    const snapshots = join(containerd.dir, 'root', 'io.containerd.snapshotter.v1.overlayfs', 'snapshots');
    const upper = readdirSync(snapshots)
      .map((n) => join(snapshots, n, 'fs', 'data.txt'))
      .find((p) => existsSync(p));
    expect(upper && readFileSync(upper, 'utf8')).toBe('written-in-vm\n');
    expect(ok(await ctr(['task', 'ps', 'long1'])).stdout).toMatch(/PID\s+INFO\n\d+/);
    // The VM is charged where runc would have put the container: ctr's /<namespace>/<id>.
    expect(new Set(cgroupPathsOf(qemuPidOf(containerd, 'long1')))).toEqual(new Set([`/${NS}/long1`]));
    ok(await ctr(['task', 'pause', 'long1']));
    expect(ok(await ctr(['task', 'ls'])).stdout).toMatch(/long1\s+\d+\s+PAUSED/);
    ok(await ctr(['task', 'resume', 'long1']));
    expect(ok(await ctr(['task', 'metrics', 'long1'])).stdout).toMatch(/pids\.current|memory/i);
    await containerd.stopDaemon(false);
    await containerd.restart();
    expect(ok(await ctr(['task', 'ls'])).stdout).toMatch(/long1\s+\d+\s+RUNNING/);
    expect(ok(await ctr(['task', 'exec', '--exec-id', 'x2', 'long1', 'cat', '/data.txt'])).stdout).toBe(
      'written-in-vm\n',
    );
    for (const id of ['long1', 'long2']) {
      ok(await ctr(['task', 'kill', '-s', 'SIGKILL', id]));
      await waitFor(`${id} to stop`, async () =>
        new RegExp(`${id}\\s+\\d+\\s+STOPPED`).test((await ctr(['task', 'ls'])).stdout) ? true : undefined,
      );
      ok(await ctr(['task', 'rm', id]));
      ok(await ctr(['container', 'rm', id]));
      expect(cgroupDirsUnder(`/${NS}/${id}`)).toEqual([]);
    }
  });

  it('holds a container whose output is not read, instead of buffering it in the shim', async () => {
    const size = 48 << 20;
    const argv = ['--address', containerd.grpcAddress, '--namespace', NS, 'run', '--rm', ...RUNTIME, IMAGE, 'flood1'];
    const child = spawn(containerd.binaries.ctr, [...argv, 'sh', '-c', `head -c ${size} /dev/zero`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    child.stdout.pause();
    try {
      await waitFor('flood1 to run', async () =>
        /flood1\s+\d+\s+RUNNING/.test((await ctr(['task', 'ls'])).stdout) ? true : undefined,
      );
      const [shim] = shimPidsServing(containerd.grpcAddress).filter((pid) =>
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('flood1'),
      );
      if (shim === undefined) throw new Error('no shim serves flood1');
      const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${shim}/status`, 'utf8'))?.[1]);
      const before = rss();
      // Long enough for the guest to pump far more than the shim may hold (it did, into the shim).
      await new Promise((resolve) => setTimeout(resolve, 8000));
      expect((rss() - before) / 1024).toBeLessThan(16);
      let received = 0;
      child.stdout.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      child.stdout.resume();
      expect(await exited).toBe(0);
      expect(received).toBe(size);
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await ctr(['task', 'kill', '-s', 'SIGKILL', 'flood1']);
        await ctr(['task', 'rm', '-f', 'flood1']);
        await ctr(['container', 'rm', 'flood1']);
      }
    }
  });

  it('reports a task as exited with 255 when its QEMU is killed, and cleans up', async () => {
    ok(await ctr(['run', '-d', ...RUNTIME, IMAGE, 'doomed', 'sleep', '600']));
    process.kill(qemuPidOf(containerd, 'doomed'), 'SIGKILL');
    await waitFor('doomed to stop', async () =>
      /doomed\s+\d+\s+STOPPED/.test((await ctr(['task', 'ls'])).stdout) ? true : undefined,
    );
    const deleted = ok(await ctr(['task', 'rm', 'doomed']));
    expect(deleted.stdout + deleted.stderr).toMatch(/255|^$/);
    ok(await ctr(['container', 'rm', 'doomed']));
    await waitFor('the shim to exit', async () => (sandboxDirs(containerd).length === 0 ? true : undefined), 15_000);
  });

  it('boots the agent from the read-only runtime image with [agent] runtime = "image", exporting no runtime share', async () => {
    const config = join(work, 'image.toml');
    writeFileSync(config, '[agent]\nruntime = "image"\n');
    ok(await ctr(['run', '-d', ...RUNTIME, '--runtime-config-path', config, IMAGE, 'image1', 'sleep', '600']));
    // The agent answered, and with no virtio-fs runtime device it can only have come from the disk.
    const qemu = readFileSync(`/proc/${qemuPidOf(containerd, 'image1')}/cmdline`, 'utf8')
      .split('\0')
      .join(' ');
    expect(qemu).toMatch(/ file=\S*\/build\/runtime\.erofs,if=none,id=rt,format=raw,readonly=on,/);
    expect(qemu).toMatch(/ virtio-blk-(device|pci),id=rt-blk,drive=rt,serial=vfsruntime /);
    expect(qemu).toMatch(/ vfs\.runtime_image=vfsruntime /);
    expect(qemu).not.toMatch(/,tag=vfsruntime\b/);
    ok(await ctr(['task', 'kill', '-s', 'SIGKILL', 'image1']));
    await waitFor('image1 to stop', async () =>
      /image1\s+\d+\s+STOPPED/.test((await ctr(['task', 'ls'])).stdout) ? true : undefined,
    );
    ok(await ctr(['task', 'rm', 'image1']));
    ok(await ctr(['container', 'rm', 'image1']));
  });

  it('leaves no process, mount, socket or state dir behind', async () => {
    await waitFor('all sandboxes to go', async () => (sandboxDirs(containerd).length === 0 ? true : undefined), 15_000);
    expectNothingLeft(containerd);
  });
});

describe('containers in VMs with containerd 1.7 (gRPC)', () => {
  let work: string;
  let containerd: PrivateContainerd;

  beforeAll(async () => {
    bundleShim();
    work = mkdtempSync('/tmp/vfs-e2e-vm17-');
    containerd = await PrivateContainerd.start({ binaries: containerd17() });
    ok(await containerd.ctr(['images', 'import', buildBusyboxImage(work, IMAGE)], { namespace: NS }));
  });

  afterAll(async () => {
    await containerd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs a container over the gRPC task API', async () => {
    const result = ok(
      await containerd.ctr(['run', '--rm', ...RUNTIME, IMAGE, 'grpc1', 'uname', '-r'], {
        namespace: NS,
        timeoutMs: 90_000,
      }),
    );
    expect(result.stdout).toBe(`${guestKernelRelease()}\n`);
    const lines = readFileSync(containerd.logPath, 'utf8');
    expect(lines).toMatch(/"protocol":"grpc"/);
    await waitFor('the sandbox to go', async () => (sandboxDirs(containerd).length === 0 ? true : undefined), 15_000);
    expectNothingLeft(containerd);
  });

  // ctr 1.6 has no --user; 1.7 does.
  it("translates ids as [daemon] translate_uid/gid say: uid 1000's new file is the host's 101000 and the guest's 1000", async () => {
    const config = join(work, 'translate.toml');
    writeFileSync(config, '[daemon]\ntranslate_uid = ["map:1000:101000:1"]\ntranslate_gid = ["map:1000:101000:1"]\n');
    const volume = join(work, 'translated');
    mkdirSync(volume);
    chmodSync(volume, 0o777);
    const result = ok(
      await containerd.ctr(
        [
          'run',
          '--rm',
          ...RUNTIME,
          '--runtime-config-path',
          config,
          '--user',
          '1000:1000',
          '--mount',
          `type=bind,src=${volume},dst=/vol,options=rbind:rw`,
          IMAGE,
          'translate1',
          'sh',
          '-c',
          'echo x > /vol/made && ls -ln /vol/made',
        ],
        { namespace: NS, timeoutMs: 90_000 },
      ),
    );
    expect(result.stdout).toMatch(/^-\S+\s+1\s+1000\s+1000\s+2\s.*\/vol\/made\n$/);
    const made = statSync(join(volume, 'made'));
    expect([made.uid, made.gid]).toEqual([101000, 101000]);
  });
});
