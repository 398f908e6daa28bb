// Docker 26 (Debian trixie's docker.io) with `--runtime io.containerd.vfs.v2`, driven through
// dockerode as a Docker user's tools would: a private dockerd on a private containerd
// (harness/src/docker.ts), the offline busybox image. Every check runs with runc first, the
// reference, then with vfs, and expects the same: output and exit codes, host directories mounted
// read-only and read-write, exec and logs, and failures (a missing binary) reported at once with
// the reason, as runc reports them. Each vfs container boots a VM (seconds under TCG).
// Needs `make build runtime` (bundles, guest kernel + initramfs, build/runtime).

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { bundleShim } from '@vfs/harness/bundles';
import { mountsUnder } from '@vfs/harness/containerd';
import { DOCKER_BUSYBOX, PrivateDocker } from '@vfs/harness/docker';
import { type DemuxedOutput, demuxOutput, readDemuxed } from '@vfs/harness/docker_output';
import { cgroupDirsUnder, shimPidsServing } from '@vfs/harness/host_leftovers';
import { pidAlive, stillRunning, waitFor } from '@vfs/harness/process';

jest.setTimeout(240_000);

const VFS = 'io.containerd.vfs.v2';
const RUNTIMES: readonly (readonly [string, string])[] = [
  ['runc (the reference)', 'runc'],
  ['vfs', VFS],
];
/** A failed exec must be reported at once; runc takes well under a second, a VM's agent a few. */
const EXEC_FAILURE_BOUND_MS = 20_000;
/** What runc says and Docker matches for exit 127 (the launcher uses the same words). */
const NOT_FOUND = /exec: "nosuch": executable file not found in \$PATH/;

interface Finished extends DemuxedOutput {
  readonly code: number;
}

interface ExecResult extends DemuxedOutput {
  readonly code: number | null;
}

/** `promise`, or a failure naming `what` once `ms` have passed (rather than the test's timeout). */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('Docker 26 with a private dockerd', () => {
  let docker: PrivateDocker;
  let work: string;
  let stopped = false;

  beforeAll(async () => {
    bundleShim();
    work = mkdtempSync('/tmp/vfs-e2e-docker-');
    docker = await PrivateDocker.start();
  }, 300_000);

  afterAll(async () => {
    if (!stopped) await docker?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const create = (
    runtime: string,
    cmd: readonly string[],
    binds: readonly string[] = [],
    limits: Docker.HostConfig = {},
  ): Promise<Docker.Container> =>
    docker.client.createContainer({
      Image: DOCKER_BUSYBOX,
      Cmd: [...cmd],
      HostConfig: { Runtime: runtime, NetworkMode: 'none', Binds: [...binds], ...limits },
    });

  async function runToEnd(
    runtime: string,
    cmd: readonly string[],
    binds: readonly string[] = [],
    limits: Docker.HostConfig = {},
  ): Promise<Finished> {
    const container = await create(runtime, cmd, binds, limits);
    try {
      await container.start();
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      return { code: StatusCode, ...demuxOutput(await container.logs({ stdout: true, stderr: true, follow: false })) };
    } finally {
      await container.remove({ force: true });
    }
  }

  async function execIn(container: Docker.Container, cmd: readonly string[]): Promise<ExecResult> {
    const exec = await container.exec({ Cmd: [...cmd], AttachStdout: true, AttachStderr: true });
    const output = await readDemuxed(await exec.start({ hijack: true, stdin: false }));
    const info = await waitFor('the exec to be over', async () => {
      const inspected = await exec.inspect();
      return inspected.Running ? undefined : inspected;
    });
    return { code: info.ExitCode, ...output };
  }

  describe.each(RUNTIMES)('with %s', (_name, runtime) => {
    it('runs a command: its output on stdout and stderr, its exit code', async () => {
      const result = await runToEnd(runtime, ['sh', '-c', 'echo hi; echo oops >&2; exit 3']);
      expect(result).toEqual({ code: 3, stdout: 'hi\n', stderr: 'oops\n' });
    });

    it('mounts host directories with -v: read-only refuses writes, read-write writes reach the host', async () => {
      const ro = mkdtempSync(join(work, 'ro-'));
      const rw = mkdtempSync(join(work, 'rw-'));
      writeFileSync(join(ro, 'in.txt'), 'from the host\n');
      const script = 'cat /ro/in.txt; echo no > /ro/new || echo refused; echo from the container > /rw/out.txt';
      const result = await runToEnd(runtime, ['sh', '-c', script], [`${ro}:/ro:ro`, `${rw}:/rw`]);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe('from the host\nrefused\n');
      expect(result.stderr).toMatch(/Read-only file system/);
      expect(existsSync(join(ro, 'new'))).toBe(false);
      expect(readFileSync(join(rw, 'out.txt'), 'utf8')).toBe('from the container\n');
    });

    describe('a running container', () => {
      let container: Docker.Container;

      beforeAll(async () => {
        container = await create(runtime, ['sh', '-c', 'echo started; echo to stderr >&2; exec sleep 1000']);
        await container.start();
      });

      afterAll(async () => {
        await container?.remove({ force: true });
      });

      it('keeps its output in the logs, stdout and stderr apart', async () => {
        const logs = await waitFor('both lines in the logs', async () => {
          const output = demuxOutput(await container.logs({ stdout: true, stderr: true, follow: false }));
          return output.stdout !== '' && output.stderr !== '' ? output : undefined;
        });
        expect(logs).toEqual({ stdout: 'started\n', stderr: 'to stderr\n' });
      });

      it('execs a command: its output and exit code', async () => {
        const result = await execIn(container, ['sh', '-c', 'echo out; echo err >&2; exit 4']);
        expect(result).toMatchObject({ code: 4, stdout: 'out\n', stderr: 'err\n' });
      });

      it('fails the exec of a missing binary at once, with the reason and exit code 126, and keeps running', async () => {
        const result = await within(EXEC_FAILURE_BOUND_MS, 'the failed exec', execIn(container, ['nosuch']));
        expect(result.code).toBe(126);
        expect(result.stdout).toMatch(NOT_FOUND);
        expect((await container.inspect()).State.Running).toBe(true);
        expect(await execIn(container, ['true'])).toMatchObject({ code: 0 });
      });
    });

    it('fails the start of a missing binary with the reason and exit code 127', async () => {
      const container = await create(runtime, ['nosuch']);
      try {
        const failure = await container.start().then(
          () => new Error('the start succeeded'),
          (err: unknown) => err as Error,
        );
        expect(failure.message).toMatch(NOT_FOUND);
        const state = (await container.inspect()).State;
        expect([state.Running, state.ExitCode]).toEqual([false, 127]);
      } finally {
        await container.remove({ force: true });
      }
    });
  });

  it('boots a vfs VM sized for --memory 256m --cpus 1: the base 512 MiB and 1 vCPU plus the limits', async () => {
    const limits = { Memory: 256 << 20, NanoCpus: 1e9 };
    const result = await runToEnd(VFS, ['sh', '-c', 'nproc; grep MemTotal /proc/meminfo'], [], limits);
    expect(result.code).toBe(0);
    const [nproc, memTotal] = result.stdout.split('\n');
    // 1 + 1 vCPUs, capped at the host's CPUs.
    expect(nproc).toBe(String(Math.min(2, availableParallelism())));
    const totalMiB = Number(/MemTotal:\s+(\d+) kB/.exec(memTotal ?? '')?.[1]) / 1024;
    expect(totalMiB).toBeGreaterThan(512 + 256 - 64);
    expect(totalMiB).toBeLessThanOrEqual(512 + 256);
  });

  it('stops everything by PID, leaving no process, mount, cgroup or directory behind', async () => {
    const { containerd } = docker;
    const pids = [docker.pid, containerd.pid, ...shimPidsServing(containerd.grpcAddress)];
    const recorded = containerd.recordedProcesses();
    const dirs = [docker.dir, containerd.dir];
    stopped = true;
    await docker.stop();
    expect(pids.filter((pid): pid is number => pid !== undefined && pidAlive(pid))).toEqual([]);
    expect(recorded.filter(stillRunning)).toEqual([]);
    expect(dirs.filter(existsSync)).toEqual([]);
    expect(dirs.flatMap(mountsUnder)).toEqual([]);
    expect(cgroupDirsUnder(docker.cgroupParent)).toEqual([]);
  });
});
