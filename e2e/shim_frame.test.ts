// The shim's frame against real containerd 1.6 (Debian's) and 2.x (forky's) and their ctr:
// bootstrap, the Task API call order, exit codes, events, stdio, execs, delete after kill -9 of the
// shim, a containerd restart, config errors at Create — and gRPC against containerd 1.7, refused
// with 2.x. Containers run through the
// host-process TEST DOUBLE runtime (harness/src/host_process_runtime.ts, run by the test shim):
// the frame is tested here without guests; the VM runtime has its own e2e tests.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  containerd17,
  containerd2,
  type ContainerdBinaries,
  mountsUnder,
  PrivateContainerd,
  SYSTEM_CONTAINERD,
} from '@vfs/harness/containerd';
import { recordedPid } from '@vfs/harness/vm_checks';
import { buildBusyboxImage, layerDigestOf } from '@vfs/harness/oci_image';
import { pidAlive, waitFor } from '@vfs/harness/process';
import { bundleTestShim } from '@vfs/harness/bundles';

jest.setTimeout(120_000);

const IMAGE = 'docker.io/library/busybox:vfs';
const RUNTIME = ['--runtime', 'io.containerd.vfs.v2'];
const NAMESPACE = 'vfs-e2e';

interface ShimLine {
  readonly msg: string;
  readonly sandbox?: string;
  readonly container?: string;
  readonly method?: string;
}

/** Our shim's JSON lines in containerd's log (containerd copies the bundle's log FIFO into it). */
function shimLines(containerd: PrivateContainerd): ShimLine[] {
  return readFileSync(containerd.logPath, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ShimLine);
}

/** `ctr events` in the background: topic and payload per line, for the namespace under test. */
class EventWatch {
  private output = '';
  private readonly child: ChildProcess;

  constructor(containerd: PrivateContainerd) {
    this.child = spawn(containerd.binaries.ctr, ['--address', containerd.grpcAddress, 'events'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      this.output += chunk;
    });
  }

  /** Task topics (in arrival order) whose payload names the container. */
  topicsFor(containerId: string): string[] {
    return this.output
      .split('\n')
      .filter(
        (line) => line.includes(`"container_id":"${containerId}"`) || line.includes(`"ContainerID":"${containerId}"`),
      )
      .map((line) => /\s(\/tasks\/[a-z-]+)\s/.exec(line)?.[1])
      .filter((topic): topic is string => topic !== undefined);
  }

  stop(): void {
    if (this.child.pid !== undefined && this.child.exitCode === null) process.kill(this.child.pid, 'SIGKILL');
  }
}

interface Fixture {
  readonly work: string;
  readonly shimDir: string;
  readonly image: string;
}

function prepareFixture(): Fixture {
  const work = mkdtempSync('/tmp/vfs-e2e-work-');
  return { work, shimDir: bundleTestShim(), image: buildBusyboxImage(work, IMAGE) };
}

async function startContainerd(
  fixture: Fixture,
  binaries?: ContainerdBinaries,
  env: Record<string, string> = {},
): Promise<PrivateContainerd> {
  const containerd = await PrivateContainerd.start({ binaries, env, shimDir: fixture.shimDir });
  const imported = await containerd.ctr(['images', 'import', fixture.image], { namespace: NAMESPACE });
  if (imported.code !== 0) throw new Error(`ctr images import failed: ${imported.stderr}`);
  return containerd;
}

/** After a test: no process recorded by a shim is alive, no mount is left under the temp dir. */
function expectNothingLeft(containerd: PrivateContainerd): void {
  expect(containerd.recordedStillRunning()).toEqual([]);
  expect(mountsUnder(containerd.dir)).toEqual([]);
}

// Debian's containerd 1.6, then forky's 2.x (ttrpc with both: shim/src/protocol.ts).
const TTRPC_CONTAINERDS: [string, () => ContainerdBinaries][] = [
  ['1.6', () => SYSTEM_CONTAINERD],
  ['2.x', containerd2],
];

describe.each(TTRPC_CONTAINERDS)('containerd-shim-vfs-v2 with containerd %s (ttrpc)', (_release, binaries) => {
  let fixture: Fixture;
  let containerd: PrivateContainerd;
  let events: EventWatch;

  beforeAll(async () => {
    fixture = prepareFixture();
    containerd = await startContainerd(fixture, binaries());
    events = new EventWatch(containerd);
    await sleep(200);
  });

  afterAll(async () => {
    events?.stop();
    await containerd?.stop();
    rmSync(fixture.work, { recursive: true, force: true });
  });

  it('builds the busybox image deterministically', () => {
    const again = buildBusyboxImage(join(fixture.work, 'again'), IMAGE);
    expect(layerDigestOf(again)).toBe(layerDigestOf(fixture.image));
  });

  it('runs `ctr run --rm`: output, exit code 7, call order, events, logs', async () => {
    const run = await containerd.ctr(
      [
        'run',
        '--rm',
        ...RUNTIME,
        IMAGE,
        'frame1',
        'sh',
        '-c',
        'echo hello from $(hostname -s 2>/dev/null || echo x); echo oops >&2; exit 7',
      ],
      {
        namespace: NAMESPACE,
      },
    );
    expect(run.stdout).toContain('hello from');
    expect(run.stderr).toContain('oops');
    expect(run.code).toBe(7);

    const calls = shimLines(containerd)
      .filter((l) => l.msg === 'task api call' && l.container === 'frame1')
      .map((l) => l.method);
    const [create, start, wait, del, shutdown] = ['Create', 'Start', 'Wait', 'Delete', 'Shutdown'].map((m) =>
      calls.indexOf(m),
    ) as [number, number, number, number, number];
    expect([create, start, wait, del, shutdown].every((index) => index >= 0)).toBe(true);
    // ctr sends Wait from a goroutine of its own, started before Start: either may come first.
    expect(create).toBeLessThan(Math.min(start, wait));
    expect(Math.max(start, wait)).toBeLessThan(del);
    expect(del).toBeLessThan(shutdown);

    const topics = await waitFor('the delete event', () => {
      const seen = events.topicsFor('frame1');
      return seen.includes('/tasks/delete') ? seen : undefined;
    });
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);

    const lines = shimLines(containerd).filter((l) => l.container === 'frame1');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.sandbox === 'frame1')).toBe(true);
    expectNothingLeft(containerd);
  });

  it('passes stdin through and ends it when ctr closes its FIFO', async () => {
    const input = join(fixture.work, 'stdin.txt');
    writeFileSync(input, 'line one\nline two\n');
    const run = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(
        containerd.binaries.ctr,
        [
          '--address',
          containerd.grpcAddress,
          '--namespace',
          NAMESPACE,
          'run',
          '--rm',
          ...RUNTIME,
          IMAGE,
          'stdin1',
          'wc',
          '-l',
        ],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      let stdout = '';
      child.stdout?.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stdin?.end(readFileSync(input));
      child.once('exit', (code) => resolve({ code, stdout }));
    });
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe('2');
  });

  it('runs an exec in a running task and propagates its exit code', async () => {
    expect(
      (await containerd.ctr(['run', '-d', ...RUNTIME, IMAGE, 'exec1', 'sleep', '300'], { namespace: NAMESPACE })).code,
    ).toBe(0);
    const exec = await containerd.ctr(
      ['task', 'exec', '--exec-id', 'e1', 'exec1', 'sh', '-c', 'echo in-exec; exit 3'],
      { namespace: NAMESPACE },
    );
    expect(exec.stdout).toContain('in-exec');
    expect(exec.code).toBe(3);
    const ps = await containerd.ctr(['task', 'ps', 'exec1'], { namespace: NAMESPACE });
    expect(ps.code).toBe(0);
    expect((await containerd.ctr(['task', 'kill', '-s', 'SIGKILL', 'exec1'], { namespace: NAMESPACE })).code).toBe(0);
    await waitFor('exec1 to stop', async () => {
      const ls = await containerd.ctr(['task', 'ls'], { namespace: NAMESPACE });
      return /exec1\s+\d+\s+STOPPED/.test(ls.stdout) ? true : undefined;
    });
    expect((await containerd.ctr(['task', 'rm', 'exec1'], { namespace: NAMESPACE })).code).toBe(0);
    expect((await containerd.ctr(['container', 'rm', 'exec1'], { namespace: NAMESPACE })).code).toBe(0);
    const topics = events.topicsFor('exec1');
    expect(topics.indexOf('/tasks/exec-added')).toBeLessThan(topics.indexOf('/tasks/exec-started'));
    expectNothingLeft(containerd);
  });

  it('keeps the task across a containerd restart (containerd reconnects from bundle/address)', async () => {
    expect(
      (await containerd.ctr(['run', '-d', ...RUNTIME, IMAGE, 'restart1', 'sleep', '300'], { namespace: NAMESPACE }))
        .code,
    ).toBe(0);
    const before = await containerd.ctr(['task', 'ls'], { namespace: NAMESPACE });
    const pid = /restart1\s+(\d+)\s+RUNNING/.exec(before.stdout)?.[1];
    expect(pid).toBeDefined();
    events.stop();
    await containerd.stopDaemon(false);
    await containerd.restart({ shimDir: fixture.shimDir });
    events = new EventWatch(containerd);
    const after = await containerd.ctr(['task', 'ls'], { namespace: NAMESPACE });
    expect(after.stdout).toMatch(new RegExp(`restart1\\s+${pid}\\s+RUNNING`));
    expect((await containerd.ctr(['task', 'kill', '-s', 'SIGTERM', 'restart1'], { namespace: NAMESPACE })).code).toBe(
      0,
    );
    await waitFor('restart1 to stop', async () => {
      const ls = await containerd.ctr(['task', 'ls'], { namespace: NAMESPACE });
      return /restart1\s+\d+\s+STOPPED/.test(ls.stdout) ? true : undefined;
    });
    expect((await containerd.ctr(['task', 'rm', 'restart1'], { namespace: NAMESPACE })).code).toBe(0);
    expect((await containerd.ctr(['container', 'rm', 'restart1'], { namespace: NAMESPACE })).code).toBe(0);
    expectNothingLeft(containerd);
  });

  it('cleans up with `delete` after kill -9 of the shim: processes killed, rootfs unmounted', async () => {
    expect(
      (await containerd.ctr(['run', '-d', ...RUNTIME, IMAGE, 'crash1', 'sleep', '300'], { namespace: NAMESPACE })).code,
    ).toBe(0);
    const stateDir = join(containerd.runDir, 'sandboxes', NAMESPACE, 'crash1');
    const shimPid = recordedPid(containerd, NAMESPACE, 'crash1', 'shim');
    const workload = recordedPid(containerd, NAMESPACE, 'crash1', 'proc-crash1-init');
    expect(pidAlive(workload)).toBe(true);
    expect(mountsUnder(containerd.dir).some((m) => m.endsWith('/crash1/rootfs'))).toBe(true);

    process.kill(shimPid, 'SIGKILL');
    await waitFor('delete to kill the workload', () => (pidAlive(workload) ? undefined : true));
    await waitFor('the state dir to go', () => (existsSync(stateDir) ? undefined : true));
    expect(mountsUnder(containerd.dir).filter((m) => m.includes('crash1'))).toEqual([]);
    await waitFor('crash1 to stop', async () => {
      const ls = await containerd.ctr(['task', 'ls'], { namespace: NAMESPACE });
      return ls.stdout.includes('crash1') ? undefined : true;
    });
    expect((await containerd.ctr(['container', 'rm', 'crash1'], { namespace: NAMESPACE })).code).toBe(0);
    expectNothingLeft(containerd);
  });

  it('reports a runtime-config error at Create with file, line and key, and leaves nothing behind', async () => {
    const config = join(fixture.work, 'bad.toml');
    writeFileSync(config, '# vfs\n[hypervisor]\nvcpus = 2\nmemory_mb = 512\n');
    const run = await containerd.ctr(
      ['run', '--rm', ...RUNTIME, '--runtime-config-path', config, IMAGE, 'badcfg1', 'true'],
      { namespace: NAMESPACE },
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`vfs config ${config}:4: key hypervisor.memory_mb: unknown key`);
    await waitFor('the sandbox state to go', () =>
      existsSync(join(containerd.runDir, 'sandboxes', NAMESPACE, 'badcfg1')) ? undefined : true,
    );
    await containerd.ctr(['container', 'rm', 'badcfg1'], { namespace: NAMESPACE });
    expectNothingLeft(containerd);
  });

  it('reports a bad OCI spec at Create', async () => {
    const spec = join(fixture.work, 'bad-spec.json');
    writeFileSync(
      spec,
      JSON.stringify({ ociVersion: '1.0.2', process: { args: [], cwd: 'relative' }, root: { path: 'rootfs' } }),
    );
    const run = await containerd.ctr(['run', '--rm', ...RUNTIME, '--config', spec, 'badspec1'], {
      namespace: NAMESPACE,
    });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('process.args must be a non-empty array of strings');
    await containerd.ctr(['container', 'rm', 'badspec1'], { namespace: NAMESPACE });
    expectNothingLeft(containerd);
  });
});

describe('containerd-shim-vfs-v2 with containerd 1.7 (gRPC)', () => {
  let fixture: Fixture;
  let containerd: PrivateContainerd;

  beforeAll(async () => {
    fixture = prepareFixture();
    containerd = await startContainerd(fixture, containerd17());
  });

  afterAll(async () => {
    await containerd?.stop();
    rmSync(fixture.work, { recursive: true, force: true });
  });

  it('answers start with the gRPC bootstrap JSON and serves containerd.task.v3.Task', async () => {
    expect(containerd.binaries.version).toMatch(/ 1\.7\./);
    const run = await containerd.ctr(
      ['run', '--rm', ...RUNTIME, IMAGE, 'grpc1', 'sh', '-c', 'echo over grpc; exit 7'],
      { namespace: NAMESPACE },
    );
    expect(run.stdout).toContain('over grpc');
    expect(run.code).toBe(7);
    const serving = shimLines(containerd).find((l) => l.msg === 'shim serving' && l.container === 'grpc1') as
      | (ShimLine & { protocol?: string })
      | undefined;
    expect(serving?.protocol).toBe('grpc');
    expectNothingLeft(containerd);
  });
});

describe('containerd-shim-vfs-v2 with containerd 2.x and [runtime] grpc', () => {
  let fixture: Fixture;
  let containerd: PrivateContainerd;

  beforeAll(async () => {
    fixture = prepareFixture();
    containerd = await startContainerd(fixture, containerd2());
  });

  afterAll(async () => {
    await containerd?.stop();
    rmSync(fixture.work, { recursive: true, force: true });
  });

  function servingProtocol(container: string): string | undefined {
    const serving = shimLines(containerd).find((l) => l.msg === 'shim serving' && l.container === container) as
      | (ShimLine & { protocol?: string })
      | undefined;
    return serving?.protocol;
  }

  it('serves ttrpc with grpc = "auto"', async () => {
    expect(containerd.binaries.version).toMatch(/ v?2\./);
    const run = await containerd.ctr(['run', '--rm', ...RUNTIME, IMAGE, 'auto2', 'sh', '-c', 'echo over ttrpc'], {
      namespace: NAMESPACE,
    });
    expect(run).toMatchObject({ code: 0, stdout: 'over ttrpc\n' });
    expect(servingProtocol('auto2')).toBe('ttrpc');
    expectNothingLeft(containerd);
  });

  it('refuses grpc = true at start with the reason, and leaves nothing behind', async () => {
    const config = join(fixture.work, 'grpc.toml');
    writeFileSync(config, '[runtime]\ngrpc = true\n');
    const run = await containerd.ctr(
      ['run', '--rm', ...RUNTIME, '--runtime-config-path', config, IMAGE, 'grpc2', 'true'],
      { namespace: NAMESPACE },
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/grpc = true: containerd 2\.\d+'s gRPC shim client counts a new connection as closed/);
    await containerd.ctr(['container', 'rm', 'grpc2'], { namespace: NAMESPACE });
    expect(existsSync(join(containerd.runDir, 'sandboxes', NAMESPACE, 'grpc2'))).toBe(false);
    expectNothingLeft(containerd);
  });
});
