// The shim's VM infrastructure under faults, through real containerd 1.6 and ctr: vfs-virtiofsd,
// QEMU (TCG) and the agent channel, with a STAND-IN guest agent (harness/src/stub_guest_agent.ts)
// whose containers run nothing and exit only when signalled. What is tested is the host side:
// a containerd restart keeps the VM and the task; QEMU killed → the task exits with 255 and the
// sandbox is cleaned up; kill -9 of the shim → containerd's `delete` kills QEMU and the daemon
// and removes mounts, sockets and state. The real agent's behaviour is vm_containers.test.ts's.

import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { cgroupDirsUnder } from '@vfs/harness/host_leftovers';
import { mountsUnder, PrivateContainerd, type CtrResult } from '@vfs/harness/containerd';
import { recordedPid } from '@vfs/harness/vm_checks';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { pidAlive, waitFor } from '@vfs/harness/process';
import { bundleShim, bundleStubAgent } from '@vfs/harness/bundles';
import { REPO_ROOT } from '@vfs/harness/repo';

jest.setTimeout(180_000);

const IMAGE = 'docker.io/library/busybox:vfs';
const RUNTIME = ['--runtime', 'io.containerd.vfs.v2'];
const NS = 'vfs-faults';

/**
 * An install root (VFS_ROOT) like the repo's, whose runtime share runs the stand-in agent, and a
 * configuration (VFS_CONFIG) that boots from that share, not from the real agent's pmem image.
 */
function stubInstallRoot(work: string): string {
  const root = join(work, 'root');
  mkdirSync(join(root, 'build'), { recursive: true });
  execFileSync('cp', ['-al', join(REPO_ROOT, 'build', 'runtime'), join(root, 'build', 'runtime')]);
  rmSync(join(root, 'build', 'runtime', 'agent.js'));
  // /init prefers the real agent's startup snapshot to agent.js.
  rmSync(join(root, 'build', 'runtime', 'agent.blob'), { force: true });
  bundleStubAgent(join(root, 'build', 'runtime', 'agent.js'));
  for (const dir of ['guest', 'bin']) symlinkSync(join(REPO_ROOT, 'build', dir), join(root, 'build', dir));
  writeFileSync(join(root, 'configuration.toml'), '[agent]\nruntime = "share"\n');
  return root;
}

function stubEnv(root: string): Record<string, string> {
  return { VFS_ROOT: root, VFS_CONFIG: join(root, 'configuration.toml') };
}

function ok(result: CtrResult): CtrResult {
  if (result.code !== 0) throw new Error(`ctr failed (${result.code}): ${result.stderr}${result.stdout}`);
  return result;
}

describe('VM sandbox infrastructure under faults (stand-in guest agent, containerd 1.6)', () => {
  let work: string;
  let root: string;
  let containerd: PrivateContainerd;
  const ctr = (args: readonly string[]): Promise<CtrResult> =>
    containerd.ctr(args, { namespace: NS, timeoutMs: 90_000 });
  const stateDir = (id: string): string => join(containerd.runDir, 'sandboxes', NS, id);
  const pidOf = (id: string, name: string): number => recordedPid(containerd, NS, id, name);
  const taskLine = async (id: string): Promise<string> =>
    new RegExp(`^${id}\\s+\\d+\\s+(\\S+)`, 'm').exec((await ctr(['task', 'ls'])).stdout)?.[1] ?? 'none';

  /** The daemon itself: the recorded pid is unshare's, the daemon its one child. */
  const childOf = (pid: number): number => Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim());

  async function runStub(id: string): Promise<{ qemu: number; daemon: number; daemonChild: number; shim: number }> {
    ok(await ctr(['run', '-d', ...RUNTIME, IMAGE, id, 'sleep', '600']));
    expect(await taskLine(id)).toBe('RUNNING');
    const daemon = pidOf(id, 'virtiofsd');
    const pids = { qemu: pidOf(id, 'qemu'), daemon, daemonChild: childOf(daemon), shim: pidOf(id, 'shim') };
    expect(pids.daemonChild).toBeGreaterThan(0);
    expect(Object.values(pids).every(pidAlive)).toBe(true);
    // The shares dir itself (a shared mount point, for the sandboxed daemon), the runtime share,
    // the image's lower layer and the snapshot's upper dir.
    expect(mountsUnder(join(stateDir(id), 'shares')).length).toBe(4);
    return pids;
  }

  async function expectSandboxGone(id: string, pids: readonly number[]): Promise<void> {
    await waitFor(`sandbox ${id} to be cleaned up`, () => !existsSync(stateDir(id)) && !pids.some(pidAlive), 20_000);
    expect(mountsUnder(containerd.dir)).toEqual([]);
    const sockets = join(containerd.runDir, 's');
    expect(existsSync(sockets) ? readdirSync(sockets) : []).toEqual([]);
  }

  beforeAll(async () => {
    bundleShim();
    work = mkdtempSync('/tmp/vfs-e2e-faults-');
    root = stubInstallRoot(work);
    containerd = await PrivateContainerd.start({ env: stubEnv(root) });
    ok(await ctr(['images', 'import', buildBusyboxImage(work, IMAGE)]));
  });

  afterAll(async () => {
    await containerd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('keeps the VM and the task across a containerd restart, and leaves nothing after kill + delete', async () => {
    const pids = await runStub('restart1');
    await containerd.stopDaemon(false);
    await containerd.restart({ env: stubEnv(root) });
    expect(await taskLine('restart1')).toBe('RUNNING');
    expect(pidAlive(pids.qemu)).toBe(true);
    ok(await ctr(['task', 'kill', '-s', 'SIGKILL', 'restart1']));
    await waitFor('restart1 to stop', async () => (await taskLine('restart1')) === 'STOPPED');
    ok(await ctr(['task', 'rm', 'restart1']));
    ok(await ctr(['container', 'rm', 'restart1']));
    await expectSandboxGone('restart1', Object.values(pids));
  });

  it('reports the task as exited with 255 when QEMU is killed, and cleans the sandbox up', async () => {
    const pids = await runStub('qemukill1');
    process.kill(pids.qemu, 'SIGKILL');
    await waitFor('qemukill1 to stop', async () => (await taskLine('qemukill1')) === 'STOPPED');
    expect(readFileSync(containerd.logPath, 'utf8')).toMatch(/"container":"qemukill1".*reported as exit status 255/);
    await waitFor('the daemon to be stopped', () => !pidAlive(pids.daemon), 10_000);
    ok(await ctr(['task', 'rm', 'qemukill1']));
    ok(await ctr(['container', 'rm', 'qemukill1']));
    await expectSandboxGone('qemukill1', Object.values(pids));
  });

  it('cleans QEMU, the daemon, mounts, state and cgroups up through `delete` after kill -9 of the shim', async () => {
    const pids = await runStub('shimkill1');
    expect(cgroupDirsUnder(`/${NS}/shimkill1`).length).toBeGreaterThan(0);
    process.kill(pids.shim, 'SIGKILL');
    await waitFor(
      'containerd to notice the dead shim',
      async () => (await taskLine('shimkill1')) !== 'RUNNING',
      30_000,
    );
    await ctr(['task', 'rm', 'shimkill1']);
    ok(await ctr(['container', 'rm', 'shimkill1']));
    await expectSandboxGone('shimkill1', Object.values(pids));
    expect(cgroupDirsUnder(`/${NS}/shimkill1`)).toEqual([]);
  });
});
