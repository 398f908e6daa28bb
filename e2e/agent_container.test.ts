/**
 * The guest agent over its REAL channel, in ONE boot (a TCG boot plus Node's start cost
 * seconds): OUR daemon (vfs-virtiofsd, multi-export) serves the runtime share, a read-only
 * busybox layer and a read-write share (overlay uppers, a bind rootfs, a volume); QEMU boots the
 * guest in agent mode; the test drives AgentService through QEMU's agent chardev socket with our
 * ttrpc client, as the shim does.
 *
 * Checked: output and exit status (7 propagates), stdout/stderr separate, stdin through `cat`
 * with EOF, a terminal (isatty, size, resize), PID 1 in its own pid namespace, hostname, execs
 * into the namespaces, SIGTERM → 143 and SIGKILL → 137, pause/resume, stats, update, process
 * lists, cgroup limits, user/groups/capabilities/no_new_privs/rlimits, a write landing in the
 * host's upper dir while the read-only layer stays untouched (and a whiteout for a deletion),
 * bind and read-only roots, a volume mount, a share mounted and unmounted at run time, typed
 * errors (malformed spec, missing binary, unknown id) after which the agent keeps serving, a
 * host reconnect, guest details, the pool's warm-up container, and DestroySandbox.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ReadStreamResponse, Rootfs, WarmUpResponse } from '@vfs/proto/gen/agent/agent';
import { CheckResponse_ServingStatus } from '@vfs/proto/gen/agent/agent';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import { buildBusyboxRootfs } from '@vfs/harness/busybox_rootfs';
import { AgentVm, type AgentClient, type BootTimings } from '@vfs/harness/agent_vm';
import { waitFor } from '@vfs/harness/process';
import { guestKernelRelease } from '@vfs/harness/guest_vm';
import { type WarmUpPlace, warmUpVm } from '@vfs/shim/pool';

jest.setTimeout(120_000);

const SHARES = '/run/vfs/shares';
/** The host time CreateSandbox sends: a day ahead, so that a guest clock set from it shows. */
const SANDBOX_CLOCK_MS = Date.now() + 86_400_000;
const OVERLAY_CONTAINERS = [
  'c1',
  'c2',
  'c3',
  'c4',
  'c6',
  'c7',
  'c9',
  'c10',
  'c11',
  'c12',
  'c14',
  'c15',
  'c16',
  'c17',
  'c18',
  'c19',
  'c20',
  'keeper',
];

type Json = Record<string, unknown>;

function proc(args: string[], extra: Json = {}): Json {
  return { user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin', 'TERM=xterm'], cwd: '/', ...extra };
}

const NAMESPACES = [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'cgroup' }];

function spec(args: string[], extra: { process?: Json; linux?: Json; [key: string]: unknown } = {}): Json {
  const { process: procExtra, linux, ...rest } = extra;
  return {
    ociVersion: '1.1.0',
    process: proc(args, procExtra),
    root: { path: 'rootfs' },
    hostname: 'vfs-test',
    linux: { namespaces: NAMESPACES, ...linux },
    ...rest,
  };
}

function overlay(name: string): Rootfs {
  return {
    kind: {
      $case: 'overlay',
      overlay: {
        lower: [{ tag: 'lower0', path: '' }],
        upper: { tag: 'rw', path: `${name}/upper` },
        work: { tag: 'rw', path: `${name}/work` },
        options: [],
      },
    },
  };
}

function prepare(root: string): void {
  buildBusyboxRootfs(join(root, 'lower'), { files: { 'etc/motd': 'original\n', 'etc/deleteme': 'doomed\n' } });
  for (const name of OVERLAY_CONTAINERS) {
    mkdirSync(join(root, 'rw', name, 'upper'), { recursive: true });
    mkdirSync(join(root, 'rw', name, 'work'));
  }
  buildBusyboxRootfs(join(root, 'rw', 'bindroot'));
  buildBusyboxRootfs(join(root, 'rw', 'fifo-passwd-root'));
  rmSync(join(root, 'rw', 'fifo-passwd-root', 'etc', 'passwd'), { force: true });
  execFileSync('mkfifo', [join(root, 'rw', 'fifo-passwd-root', 'etc', 'passwd')]);
  mkdirSync(join(root, 'rw', 'volume'));
  mkdirSync(join(root, 'extra'));
  mkdirSync(join(root, 'layers'));
}

let vm: AgentVm;
let timings: BootTimings;
let agent: AgentClient;
let warmedUp: WarmUpResponse;

beforeAll(async () => {
  ({ vm, timings } = await AgentVm.start({
    prepare,
    exports: [
      { tag: 'lower0', dir: 'lower', readonly: true, cache: 'always' },
      { tag: 'rw', dir: 'rw', readonly: false, xattr: true },
      { tag: 'extra', dir: 'extra', readonly: false },
      // Empty, as a pool VM's layers share is: the pool's warm-up container puts its lower dir here.
      { tag: 'layers', dir: 'layers', readonly: true, cache: 'always' },
    ],
  }));
  agent = vm.agent;
  // What the warm pool does before it offers a VM: the container shares mounted ahead, then a
  // throwaway container, created and removed.
  for (const share of [
    { tag: 'lower0', mountPoint: `${SHARES}/lower0`, readonly: true },
    { tag: 'rw', mountPoint: `${SHARES}/rw`, readonly: false },
    { tag: 'layers', mountPoint: `${SHARES}/layers`, readonly: true },
  ]) {
    await agent.mountShare({ share });
  }
  warmedUp = await agent.warmUp({});
  // Then what the adopting shim sends: with no share left to mount, the sandbox's set-up (clock,
  // entropy, hostname) waits for the first container's launch.
  await agent.createSandbox({
    sandboxId: 'agent-e2e',
    hostname: 'vfs-sandbox',
    dns: ['10.0.2.3'],
    hostTimeMs: SANDBOX_CLOCK_MS,
    entropy: Buffer.alloc(32, 0x5a),
    shares: [],
  });
  process.stdout.write(
    `agent VM: launch → init ${Math.round(timings.bootToInitMs)} ms, → agent serving ${Math.round(timings.agentReadyMs)} ms\n`,
  );
});

afterAll(async () => {
  await vm?.stop();
});

// ---- helpers --------------------------------------------------------------------------------

async function text(stream: AsyncIterable<ReadStreamResponse>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.data.toString('utf8');
  return out;
}

interface Outputs {
  readonly stdout: Promise<string>;
  readonly stderr: Promise<string>;
}

function outputs(containerId: string, execId = '', terminal = false): Outputs {
  const ref = { containerId, execId };
  return { stdout: text(agent.readStdout(ref)), stderr: terminal ? Promise.resolve('') : text(agent.readStderr(ref)) };
}

interface Finished {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function finish(containerId: string, out: Outputs, execId = ''): Promise<Finished> {
  const exit = await agent.waitProcess({ containerId, execId });
  return { status: exit.exitStatus, stdout: await out.stdout, stderr: await out.stderr };
}

interface RunOptions {
  readonly rootfs?: Rootfs;
  readonly stdin?: string;
  readonly terminal?: boolean;
  readonly mounts?: Parameters<AgentClient['createContainer']>[0]['mounts'];
}

/** create → start → (stdin) → wait → remove; the container's overlay is named after its id. */
async function run(containerId: string, ociSpec: Json, opts: RunOptions = {}): Promise<Finished> {
  await agent.createContainer({
    containerId,
    ociSpecJson: Buffer.from(JSON.stringify(ociSpec)),
    rootfs: opts.rootfs ?? overlay(containerId),
    mounts: opts.mounts,
    stdin: opts.stdin !== undefined,
    terminal: opts.terminal ?? false,
  });
  const out = outputs(containerId, '', opts.terminal);
  await agent.startContainer({ containerId });
  if (opts.stdin !== undefined) {
    const written = await agent.writeStdin({ containerId, execId: '', data: Buffer.from(opts.stdin) });
    expect(written.len).toBe(Buffer.byteLength(opts.stdin));
    await agent.closeStdin({ containerId, execId: '' });
  }
  const done = await finish(containerId, out);
  await agent.removeContainer({ containerId });
  return done;
}

async function rejection(call: Promise<unknown>): Promise<TtrpcError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof TtrpcError)) throw new Error(`expected a TtrpcError, got ${String(err)}`);
  return err;
}

async function waitForOutput(
  stream: AsyncIterator<ReadStreamResponse>,
  seen: { text: string },
  wanted: string,
): Promise<void> {
  while (!seen.text.includes(wanted)) {
    const next = await stream.next();
    if (next.done) throw new Error(`stream ended before "${wanted}"; got ${JSON.stringify(seen.text)}`);
    seen.text += next.value.data.toString('utf8');
  }
}

// ---- checks ---------------------------------------------------------------------------------

describe('the vfs agent in a TCG guest, over its virtio-serial channel', () => {
  // First: the set-up CreateSandbox left pending goes to whichever container is created first.
  it("gives the sandbox's clock and hostname to its first container, even after a create that failed", async () => {
    const refused = await rejection(
      agent.createContainer({
        containerId: 'c19',
        ociSpecJson: Buffer.from(
          JSON.stringify(spec(['true'], { process: { capabilities: { bounding: ['CAP_NO_SUCH_THING'] } } })),
        ),
        rootfs: overlay('c19'),
        stdin: false,
        terminal: false,
      }),
    );
    expect(refused.code).toBe(Code.InvalidArgument);
    // No hostname of its own: the one its UTS namespace started with, the sandbox's.
    const noHostname = (args: string[]): Json => {
      const s = spec(args);
      delete s.hostname;
      return s;
    };
    const done = await run('c19', noHostname(['sh', '-c', 'hostname; date +%s']));
    expect(done.status).toBe(0);
    const [hostname, seconds] = done.stdout.trim().split('\n');
    expect(hostname).toBe('vfs-sandbox');
    // Set from the host's time a day ahead (the guest's own clock came from the host's RTC).
    expect(Number(seconds)).toBeGreaterThanOrEqual(Math.floor(SANDBOX_CLOCK_MS / 1000) - 5);
    // The set-up ran in the agent's namespaces, not in that container's: the next one starts with it too.
    expect(await run('c20', noHostname(['hostname']))).toMatchObject({ status: 0, stdout: 'vfs-sandbox\n' });
  });

  it('leaves nothing of its warm-up container in the cgroup tree, and refuses a warm-up once the sandbox exists', async () => {
    const done = await run(
      'c12',
      spec(['ls', '/sys/fs/cgroup/vfs'], {
        mounts: [
          {
            destination: '/sys/fs/cgroup',
            type: 'cgroup',
            source: 'cgroup',
            options: ['ro', 'nosuid', 'noexec', 'nodev'],
          },
        ],
        // No cgroup namespace: the mount shows the guest's whole tree, every container's cgroup.
        linux: { namespaces: NAMESPACES.filter((ns) => ns.type !== 'cgroup') },
      }),
    );
    expect(done.status).toBe(0);
    // It ran: a container of its own, whose init ran `true` to its exit.
    expect(warmedUp.containerId).toMatch(/^vfs-warm-up-[0-9a-f]{12}$/);
    expect(warmedUp.pid).toBeGreaterThan(1);
    expect(warmedUp.exitStatus).toBe(0);
    const cgroups = done.stdout.split('\n').filter((name) => name !== '');
    expect(cgroups).toContain('c12');
    expect(cgroups).not.toContain(warmedUp.containerId);
    const refused = await rejection(agent.warmUp({}));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.message).toMatch(/sandbox agent-e2e exists/);
  });

  it("runs the pool's warm-up container through the agent's API, and releases its dirs however it ends", async () => {
    const calls: string[] = [];
    // Dirs made straight in the shares' host dirs (the pool binds them in as a shim does:
    // shim/src/pool/warm_up.test.ts); `layers` names the read-only share holding the lower dir.
    const place = (layers: string): WarmUpPlace => ({
      prepare: async (id) => {
        calls.push(`prepare ${id}`);
        mkdirSync(join(vm.sharedRoot, layers, id));
        for (const sub of ['upper', 'work']) mkdirSync(join(vm.sharedRoot, 'rw', id, sub), { recursive: true });
        return {
          lower: { tag: layers, path: id },
          upper: { tag: 'rw', path: `${id}/upper` },
          work: { tag: 'rw', path: `${id}/work` },
        };
      },
      release: async (id) => {
        calls.push(`release ${id}`);
      },
    });
    const warmed = await warmUpVm(agent, place('layers'), 30_000);
    expect(warmed.containerId).toMatch(/^vfs-warm-up-[0-9a-f]{12}$/);
    expect(warmed.pid).toBeGreaterThan(1);
    expect(calls).toEqual([`prepare ${warmed.containerId}`, `release ${warmed.containerId}`]);
    // The agent removed it.
    const gone = await rejection(agent.waitProcess({ containerId: warmed.containerId, execId: '' }));
    expect(gone.code).toBe(Code.NotFound);
    // A share the guest has not mounted: the agent refuses the container, and its dirs are released all the same.
    calls.length = 0;
    await expect(warmUpVm(agent, place('extra'), 30_000)).rejects.toThrow(/share extra is not mounted/);
    expect(calls.map((call) => call.split(' ')[0])).toEqual(['prepare', 'release']);
  });

  it('lists, kills and removes the processes of a cgroup the container made below its own', async () => {
    const id = 'c14';
    const script =
      'mkdir /sys/fs/cgroup/nested && sh -c "echo \\$\\$ >/sys/fs/cgroup/nested/cgroup.procs && exec sleep 1001" & exec sleep 1000';
    const ociSpec = spec(['sh', '-c', script], {
      mounts: [
        {
          destination: '/sys/fs/cgroup',
          type: 'cgroup',
          source: 'cgroup',
          options: ['rw', 'nosuid', 'noexec', 'nodev'],
        },
      ],
    });
    await agent.createContainer({
      containerId: id,
      ociSpecJson: Buffer.from(JSON.stringify(ociSpec)),
      rootfs: overlay(id),
    });
    await agent.startContainer({ containerId: id });
    const commands = async (): Promise<string[]> =>
      (await agent.listProcesses({ containerId: id })).processes.map((p) => p.command).sort();
    await waitFor('the nested sleep is listed', async () =>
      (await commands()).includes('sleep 1001') ? true : undefined,
    );
    expect(await commands()).toEqual(expect.arrayContaining(['sleep 1000', 'sleep 1001']));
    // Its cgroup can go only after the nested one: the removal used to fail with EBUSY.
    await agent.removeContainer({ containerId: id });
    expect((await rejection(agent.listProcesses({ containerId: id }))).code).toBe(Code.NotFound);
  });

  it("enforces device rules: runc's defaults when the spec has none, and the spec's own", async () => {
    const script =
      'mknod /dev/vfs-console c 5 1 && echo made; (echo x >/dev/vfs-console) 2>/dev/null && echo console-open || echo console-refused; head -c1 /dev/zero >/dev/null && echo zero-open';
    // Without rules a process with CAP_MKNOD could open any guest device, the agent's console too.
    expect(await run('c15', spec(['sh', '-c', script]))).toMatchObject({
      status: 0,
      stdout: 'made\nconsole-refused\nzero-open\n',
    });
    const console = { allow: true, type: 'c', major: 5, minor: 1, access: 'rw' };
    const allowing = spec(['sh', '-c', script], {
      linux: { namespaces: NAMESPACES, resources: { devices: [{ allow: false, access: 'rwm' }, console] } },
    });
    expect(await run('c16', allowing)).toMatchObject({ status: 0, stdout: 'made\nconsole-open\nzero-open\n' });
    // Again each way: now from the programs pinned for each rule set (launcher/devices.c), which
    // must not be each other's.
    expect(await run('c17', spec(['sh', '-c', script]))).toMatchObject({
      status: 0,
      stdout: 'made\nconsole-refused\nzero-open\n',
    });
    expect(await run('c18', allowing)).toMatchObject({ status: 0, stdout: 'made\nconsole-open\nzero-open\n' });
  });

  it('runs a container: output, separate stderr, exit status 7, PID 1, its hostname', async () => {
    const done = await run(
      'c1',
      spec([
        'sh',
        '-c',
        'echo out-1; echo err-1 >&2; echo pid=$$; hostname; echo written >/newfile; echo appended >>/etc/motd; rm /etc/deleteme; echo out-2; exit 7',
      ]),
    );
    expect(done).toEqual({ status: 7, stdout: 'out-1\npid=1\nvfs-test\nout-2\n', stderr: 'err-1\n' });
  });

  it('writes into the host upper dir; the read-only layer stays untouched; a delete leaves a whiteout', () => {
    const upper = join(vm.sharedRoot, 'rw', 'c1', 'upper');
    const lower = join(vm.sharedRoot, 'lower');
    expect(readFileSync(join(upper, 'newfile'), 'utf8')).toBe('written\n');
    expect(readFileSync(join(upper, 'etc', 'motd'), 'utf8')).toBe('original\nappended\n');
    expect(readFileSync(join(lower, 'etc', 'motd'), 'utf8')).toBe('original\n');
    expect(existsSync(join(lower, 'newfile'))).toBe(false);
    expect(existsSync(join(lower, 'etc', 'deleteme'))).toBe(true);
    const whiteout = lstatSync(join(upper, 'etc', 'deleteme'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
  });

  it('pipes stdin through cat and delivers EOF', async () => {
    expect(
      await run('c2', spec(['sh', '-c', 'cat; echo; cat /dev/stdin; echo done']), { stdin: 'line-1\nline-2\n' }),
    ).toEqual({
      status: 0,
      stdout: 'line-1\nline-2\n\ndone\n',
      stderr: '',
    });
  });

  it('gives a terminal with the spec size, and resizes it', async () => {
    const id = 'c3';
    const ociSpec = spec(
      ['sh', '-c', 'tty; [ -t 0 ] && echo tty-yes; stty size; read line; echo got-$line; stty size'],
      {
        process: { consoleSize: { height: 30, width: 100 } },
      },
    );
    await agent.createContainer({
      containerId: id,
      ociSpecJson: Buffer.from(JSON.stringify(ociSpec)),
      rootfs: overlay(id),
      terminal: true,
      stdin: true,
    });
    const stream = agent.readStdout({ containerId: id, execId: '' })[Symbol.asyncIterator]();
    await agent.startContainer({ containerId: id });
    const seen = { text: '' };
    await waitForOutput(stream, seen, '30 100');
    await agent.ttyWinResize({ containerId: id, execId: '', rows: 40, columns: 120 });
    await agent.writeStdin({ containerId: id, execId: '', data: Buffer.from('abc\n') });
    // Up to the line's end: the pty may relay '40 120' and its CRLF in separate chunks.
    await waitForOutput(stream, seen, '40 120\r\n');
    expect((await agent.waitProcess({ containerId: id, execId: '' })).exitStatus).toBe(0);
    // A /dev/pts/N of the container's own devpts, and no NUL (echoed as "^@") anywhere.
    expect(seen.text).toMatch(/^\/dev\/pts\/\d+\r\ntty-yes\r\n30 100\r\n/);
    expect(seen.text).not.toMatch(/\0|\^@/);
    expect(seen.text).toContain('got-abc\r\n40 120\r\n');
    await agent.removeContainer({ containerId: id });
  });

  describe('a long-running container', () => {
    const id = 'c4';
    let initPid = 0;

    beforeAll(async () => {
      const ociSpec = spec(['sleep', '1000'], {
        mounts: [
          {
            destination: '/sys/fs/cgroup',
            type: 'cgroup',
            source: 'cgroup',
            options: ['ro', 'nosuid', 'noexec', 'nodev'],
          },
        ],
        linux: {
          resources: {
            memory: { limit: 64 * 1024 * 1024 },
            pids: { limit: 50 },
            cpu: { quota: 50000, period: 100000 },
          },
          // From Docker's default list; not /proc/kcore, which the guest kernel does not have (no PROC_KCORE).
          maskedPaths: ['/proc/timer_list', '/sys/firmware'],
          readonlyPaths: ['/proc/sys'],
        },
      });
      initPid = (
        await agent.createContainer({
          containerId: id,
          ociSpecJson: Buffer.from(JSON.stringify(ociSpec)),
          rootfs: overlay(id),
        })
      ).pid;
      expect((await agent.startContainer({ containerId: id })).pid).toBe(initPid);
    });

    async function exec(execId: string, process: Json, terminal = false): Promise<Outputs> {
      await agent.execProcess({ containerId: id, execId, processJson: Buffer.from(JSON.stringify(process)), terminal });
      return outputs(id, execId, terminal);
    }

    it('execs into its namespaces: pid, mount, uts, cgroup; masked and read-only paths', async () => {
      const script =
        'echo exec-pid=$$; tr "\\0" " " </proc/1/cmdline; echo; hostname; cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max; (echo x >/proc/sys/kernel/hostname) 2>/dev/null || echo proc-sys-ro; wc -c </proc/timer_list';
      const done = await finish(id, await exec('e1', proc(['sh', '-c', script])), 'e1');
      expect(done.status).toBe(0);
      const lines = done.stdout.split('\n');
      expect(lines[0]).toMatch(/^exec-pid=\d+$/);
      expect(lines[0]).not.toBe('exec-pid=1');
      expect(lines.slice(1, 7)).toEqual([
        'sleep 1000 ',
        'vfs-test',
        '0::/',
        String(64 * 1024 * 1024),
        'proc-sys-ro',
        '0',
      ]);
    });

    it('lists its processes with exec ids, and ends an exec with SIGTERM → 143', async () => {
      const out = await exec('e2', proc(['sleep', '1000']));
      const listed = (await agent.listProcesses({ containerId: id })).processes;
      expect(listed).toContainEqual({ pid: initPid, execId: '', command: 'sleep 1000' });
      expect(listed.find((p) => p.execId === 'e2')?.command).toBe('sleep 1000');
      await agent.signalProcess({ containerId: id, execId: 'e2', signal: 15 });
      expect((await finish(id, out, 'e2')).status).toBe(143);
    });

    it('pauses and resumes, reports cgroup stats, applies an update', async () => {
      await agent.pauseContainer({ containerId: id });
      expect((await rejection(agent.pauseContainer({ containerId: id }))).code).toBe(Code.FailedPrecondition);
      await agent.resumeContainer({ containerId: id });
      await agent.updateContainer({
        containerId: id,
        resourcesJson: Buffer.from(JSON.stringify({ pids: { limit: 40 } })),
      });
      const metrics = (await agent.statsContainer({ containerId: id })).metrics;
      expect(metrics?.memory?.usage).toBeGreaterThan(0);
      expect(metrics?.memory?.usageLimit).toBe(64 * 1024 * 1024);
      expect(metrics?.pids).toEqual({ current: 1, limit: 40 });
      expect(metrics?.cpu?.usageUsec).toBeGreaterThan(0);
    });

    it('execs with a terminal', async () => {
      const done = await finish(
        id,
        await exec('e4', proc(['sh', '-c', 'tty; stty size'], { consoleSize: { height: 11, width: 22 } }), true),
        'e4',
      );
      expect(done.status).toBe(0);
      expect(done.stdout).toMatch(/^\/dev\/pts\/\d+\r\n11 22\r\n$/);
    });

    it('fails an exec of a missing binary with ENOENT, and keeps the container', async () => {
      const err = await rejection(
        agent.execProcess({
          containerId: id,
          execId: 'e3',
          processJson: Buffer.from(JSON.stringify(proc(['/nonexistent']))),
        }),
      );
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.message).toMatch(/exec \/nonexistent.*ENOENT/);
      expect((await agent.listProcesses({ containerId: id })).processes.map((p) => p.pid)).toContain(initPid);
    });

    it('ends with SIGKILL → 137 and is removed', async () => {
      const out = outputs(id);
      await agent.signalProcess({ containerId: id, execId: '', signal: 9 });
      expect((await finish(id, out)).status).toBe(137);
      await agent.removeContainer({ containerId: id });
      expect((await rejection(agent.statsContainer({ containerId: id }))).code).toBe(Code.NotFound);
    });
  });

  it('rejects a malformed spec, a missing binary and an unknown id; stays healthy and runs the next container', async () => {
    const malformed = { ...spec(['true']), process: { ...proc(['true']), args: 'true' } };
    const bad = await rejection(
      agent.createContainer({
        containerId: 'c5',
        ociSpecJson: Buffer.from(JSON.stringify(malformed)),
        rootfs: overlay('c5'),
      }),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.message).toContain('$.process.args');

    await agent.createContainer({
      containerId: 'c6',
      ociSpecJson: Buffer.from(JSON.stringify(spec(['/nonexistent']))),
      rootfs: overlay('c6'),
    });
    const missing = await rejection(agent.startContainer({ containerId: 'c6' }));
    expect(missing.code).toBe(Code.FailedPrecondition);
    expect(missing.message).toMatch(/container c6.*ENOENT/);
    expect((await agent.waitProcess({ containerId: 'c6', execId: '' })).exitStatus).toBe(127);
    await agent.removeContainer({ containerId: 'c6' });

    const unknown = await rejection(agent.startContainer({ containerId: 'nope' }));
    expect(unknown.code).toBe(Code.NotFound);
    expect(unknown.message).toContain('container nope');

    expect((await agent.check({ service: '' })).status).toBe(CheckResponse_ServingStatus.SERVING);
    expect(await run('c7', spec(['echo', 'still-alive']))).toMatchObject({ status: 0, stdout: 'still-alive\n' });
  });

  it('runs on a directory rootfs, honours a read-only root, and mounts a volume', async () => {
    const bind: Rootfs = {
      kind: { $case: 'directory', directory: { dir: { tag: 'rw', path: 'bindroot' }, readonly: false } },
    };
    expect(
      await run('c8', spec(['sh', '-c', 'echo bind-ok >/bindfile; cat /bindfile']), { rootfs: bind }),
    ).toMatchObject({ status: 0, stdout: 'bind-ok\n' });
    expect(readFileSync(join(vm.sharedRoot, 'rw', 'bindroot', 'bindfile'), 'utf8')).toBe('bind-ok\n');

    const ro = await run(
      'c9',
      spec(['sh', '-c', 'touch /ro-test || echo ro-refused'], { root: { path: 'rootfs', readonly: true } }),
    );
    expect(ro.stdout).toBe('ro-refused\n');
    expect(ro.stderr).toContain('Read-only file system');

    const mounts = [{ source: { tag: 'rw', path: 'volume' }, destination: '/data', readonly: false, options: [] }];
    expect(await run('c11', spec(['sh', '-c', 'echo in-volume >/data/file']), { mounts })).toMatchObject({ status: 0 });
    expect(readFileSync(join(vm.sharedRoot, 'rw', 'volume', 'file'), 'utf8')).toBe('in-volume\n');
  });

  it('defaults HOME to / when the container made its /etc/passwd a FIFO, instead of waiting on it', async () => {
    const rootfs: Rootfs = {
      kind: { $case: 'directory', directory: { dir: { tag: 'rw', path: 'fifo-passwd-root' }, readonly: true } },
    };
    expect(await run('c13', spec(['sh', '-c', 'echo home=$HOME']), { rootfs })).toMatchObject({
      status: 0,
      stdout: 'home=/\n',
    });
  });

  it('applies user, groups, capabilities, no_new_privs, rlimits, cwd and HOME', async () => {
    const caps = ['CAP_NET_BIND_SERVICE'];
    const done = await run(
      'c10',
      spec(
        [
          'sh',
          '-c',
          'id -u; id -G; grep -E "^(CapEff|CapBnd|CapAmb|NoNewPrivs)" /proc/self/status; ulimit -n; pwd; echo home=$HOME',
        ],
        {
          process: {
            user: { uid: 1000, gid: 1000, additionalGids: [2000] },
            capabilities: { bounding: caps, effective: caps, permitted: caps, ambient: caps, inheritable: caps },
            noNewPrivileges: true,
            rlimits: [{ type: 'RLIMIT_NOFILE', soft: 256, hard: 512 }],
            cwd: '/home/user',
          },
        },
      ),
    );
    expect(done.status).toBe(0);
    expect(done.stdout).toBe(
      [
        '1000',
        '1000 2000',
        'CapEff:\t0000000000000400',
        'CapBnd:\t0000000000000400',
        'CapAmb:\t0000000000000400',
        'NoNewPrivs:\t1',
        '256',
        '/home/user',
        'home=/home/user',
        '',
      ].join('\n'),
    );
  });

  it('mounts and unmounts a share at run time', async () => {
    const share = { tag: 'extra', mountPoint: `${SHARES}/extra`, readonly: false };
    await agent.mountShare({ share });
    expect((await rejection(agent.mountShare({ share }))).code).toBe(Code.AlreadyExists);
    const mounts = [{ source: { tag: 'extra', path: '' }, destination: '/extra', readonly: false, options: [] }];
    const bind: Rootfs = {
      kind: { $case: 'directory', directory: { dir: { tag: 'rw', path: 'bindroot' }, readonly: false } },
    };
    expect(await run('c12', spec(['sh', '-c', 'echo hot >/extra/hot']), { rootfs: bind, mounts })).toMatchObject({
      status: 0,
    });
    expect(readFileSync(join(vm.sharedRoot, 'extra', 'hot'), 'utf8')).toBe('hot\n');
    await agent.unmountShare({ tag: 'extra', lazy: false });
    expect((await rejection(agent.unmountShare({ tag: 'extra', lazy: false }))).code).toBe(Code.NotFound);
  });

  it('keeps its containers across a host reconnect', async () => {
    await agent.createContainer({
      containerId: 'keeper',
      ociSpecJson: Buffer.from(JSON.stringify(spec(['sleep', '1000']))),
      rootfs: overlay('keeper'),
    });
    await agent.startContainer({ containerId: 'keeper' });
    await vm.reconnect();
    agent = vm.agent;
    expect((await agent.listProcesses({ containerId: 'keeper' })).processes.map((p) => p.command)).toContain(
      'sleep 1000',
    );
  });

  it('reports the guest kernel and boot milestones', async () => {
    const details = await agent.getGuestDetails({});
    expect(details.kernelRelease).toBe(guestKernelRelease());
    // /init ran the runtime's agent.blob: a guest back on agent.js would start ≈0.2 s later.
    expect(details.agentFromSnapshot).toBe(true);
    expect(details.marks.map((m) => m.name)).toEqual(['start', 'agent']);
    const agentLaunchNs = details.marks.find((m) => m.name === 'agent')?.sinceBootNs;
    if (agentLaunchNs === undefined) throw new Error('no agent mark');
    expect(details.agentStartedNs).toBeGreaterThanOrEqual(agentLaunchNs - 10_000_000);
    expect(details.agentReadyNs).toBeGreaterThan(details.agentStartedNs);
    process.stdout.write(
      `agent in guest: node start → serving ${Math.round((details.agentReadyNs - details.agentStartedNs) / 1e6)} ms\n`,
    );
  });

  it('destroys the sandbox: running containers are killed and removed', async () => {
    const exit = agent.waitProcess({ containerId: 'keeper', execId: '' });
    await agent.destroySandbox({});
    expect((await exit).exitStatus).toBe(137);
    expect((await rejection(agent.listProcesses({ containerId: 'keeper' }))).code).toBe(Code.NotFound);
    expect((await agent.check({ service: '' })).status).toBe(CheckResponse_ServingStatus.SERVING);
  });
});
