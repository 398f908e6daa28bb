import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  readdirSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  utimesSync,
} from 'node:fs';
import { join } from 'node:path';
import { sandboxPaths, spareDir } from '@vfs/contracts';
import { bundleTestShim } from '@vfs/harness/bundles';
import { pidAlive, waitFor } from '@vfs/harness/process';
import { servingShimPid, type ShimBundle, shimBundle, shimStart } from '@vfs/harness/shim_bundle';
import { REPO_ROOT } from '@vfs/harness/repo';

// A real spare (the shim frame around the host-process test double, as the e2e tests run it) and
// the program's real /bin/sh prologue as containerd runs `start`.

const SPARE_ID = '0123456789abcdef';

describe('a spare shim', () => {
  let program: string;
  let dir: string;
  let run: string;
  let bundle: string;
  let spare: ChildProcess;
  let heard: string;
  const bundles: ShimBundle[] = [];
  const pids: number[] = [];

  beforeAll(() => {
    program = join(bundleTestShim(), 'containerd-shim-vfs-v2');
  });

  beforeEach(async () => {
    // Under the repository, where a program copy still resolves its packages.
    mkdirSync(join(REPO_ROOT, 'build'), { recursive: true });
    dir = mkdtempSync(join(REPO_ROOT, 'build', 'spare-shim-test-'));
    run = join(dir, 'run');
    bundles.push(shimBundle(join(dir, 'bundle')));
    bundle = join(dir, 'bundle');
    const mine = await spawnSpare(SPARE_ID);
    spare = mine;
    heard = '';
    // Only this test's spare: an earlier one's last words may still be on their way.
    mine.stdio[3]?.on('data', (chunk: Buffer) => {
      if (spare === mine) heard += chunk.toString();
    });
  });

  /** A spare as the pool starts one, ready once this resolves. */
  async function spawnSpare(id: string): Promise<ChildProcess> {
    const child = spawn(program, ['-id', id, 'spare'], {
      env: { ...process.env, VFS_RUN_DIR: run },
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
      detached: true,
    });
    pids.push(child.pid as number);
    await waitFor('the spare ready', () => existsSync(spareDir(run, id, 'spare')));
    return child;
  }

  afterEach(() => {
    for (const pid of pids.splice(0)) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    for (const made of bundles.splice(0)) made.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** containerd's start; `wrapper` runs first in the same process (a shell's `exec`, taskset). */
  const start = (id: string, by: string = program, inBundle: string = bundle, wrapper: string[] = []): string =>
    shimStart(by, id, { runDir: run, socketDir: dir, bundle: inBundle, wrapper });

  const servingPid = (id: string): number => servingShimPid(run, id);

  it("takes a start's place: answers containerd on the start's stdout and serves from the bundle, its pool told", async () => {
    const answer = start('sb1');
    expect(answer).toBe(`unix://${sandboxPaths(run, 'ns', 'sb1').socket}`);
    expect(servingPid('sb1')).toBe(spare.pid);
    expect(readlinkSync(`/proc/${spare.pid}/cwd`)).toBe(bundle);
    expect(readFileSync(join(bundle, 'address'), 'utf8')).toBe(answer);
    await waitFor('the pool told', () => heard === 'claimed\n');
    expect(existsSync(join(run, 'spare-shims'))).toBe(true);
    expect(existsSync(spareDir(run, SPARE_ID, 'claimed'))).toBe(false);
  });

  it("answers a pod container's start with its sandbox's address and stays a spare for the next sandbox", async () => {
    const pod = start('pod1');
    expect(servingPid('pod1')).toBe(spare.pid);
    const second = await spawnSpare('fedcba9876543210');
    const member = join(dir, 'member');
    const annotations = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod1' };
    bundles.push(shimBundle(member, annotations));
    expect(start('c1', program, member)).toBe(pod);
    // Answered by the spare, not by a Node the prologue started (which would write shim.stderr).
    expect(existsSync(join(member, 'shim.stderr'))).toBe(false);
    await waitFor('the spare ready again', () => existsSync(spareDir(run, 'fedcba9876543210', 'spare')));
    expect(second.exitCode).toBe(null);
    expect(readlinkSync(`/proc/${second.pid}/cwd`)).not.toBe(member);
  });

  it('refuses a start of another program, which then starts its own Node; the spare stays ready', async () => {
    const other = join(dir, 'containerd-shim-vfs-v2');
    copyFileSync(program, other);
    execFileSync('chmod', ['755', other]);
    const answer = start('sb2', other);
    expect(answer).toBe(`unix://${sandboxPaths(run, 'ns', 'sb2').socket}`);
    const server = servingPid('sb2');
    pids.push(server);
    expect(server).not.toBe(spare.pid);
    await waitFor('the spare ready again', () => existsSync(spareDir(run, SPARE_ID, 'spare')));
    expect(pidAlive(spare.pid as number)).toBe(true);
    // The pool hears why, for its log.
    await waitFor('the refusal told', () => heard.startsWith('refused claimed by '));
  });

  it("takes the start's resource limits and umask, which the daemon and QEMU inherit from it", () => {
    start('sb4', program, bundle, ['sh', '-c', 'ulimit -n 1000; umask 027; exec "$0" "$@"']);
    expect(servingPid('sb4')).toBe(spare.pid);
    const limits = readFileSync(`/proc/${spare.pid}/limits`, 'utf8');
    expect(limits).toMatch(/^Max open files\s+1000\s+1000\s+files/m);
    expect(readFileSync(`/proc/${spare.pid}/status`, 'utf8')).toMatch(/^Umask:\s+0027$/m);
  });

  it('refuses a start it cannot become (held to fewer CPUs), which then starts its own Node', async () => {
    start('sb5', program, bundle, ['taskset', '-c', '0']);
    const server = servingPid('sb5');
    pids.push(server);
    expect(server).not.toBe(spare.pid);
    await waitFor('the refusal told', () => heard.startsWith('refused the claimant may run on CPUs 0 only'));
    await waitFor('the spare ready again', () => existsSync(spareDir(run, SPARE_ID, 'spare')));
  });

  it('retires on SIGTERM', async () => {
    spare.kill('SIGTERM');
    await waitFor('the spare gone', () => spare.exitCode !== null);
    expect(spare.exitCode).toBe(0);
    expect(readdirSync(join(run, 'spare-shims'))).toEqual([]);
  });

  it('retires when its program changed since it started, and that start runs its own Node', async () => {
    const later = new Date(Date.now() + 5000);
    utimesSync(program, later, later);
    const answer = start('sb3');
    expect(answer).toBe(`unix://${sandboxPaths(run, 'ns', 'sb3').socket}`);
    pids.push(servingPid('sb3'));
    expect(servingPid('sb3')).not.toBe(spare.pid);
    await waitFor('the stale spare gone', () => spare.exitCode !== null);
    expect(spare.exitCode).toBe(0);
    expect(existsSync(join(run, 'spare-shims', `${SPARE_ID}.claimed`))).toBe(false);
  });

  it('retires when its pool is gone', async () => {
    spare.stdio[3]?.destroy();
    await waitFor('the spare gone', () => spare.exitCode !== null);
    expect(spare.exitCode).toBe(0);
    expect(existsSync(spareDir(run, SPARE_ID, 'spare'))).toBe(false);
    expect(existsSync(spareDir(run, SPARE_ID, 'retired'))).toBe(false);
  });
});
