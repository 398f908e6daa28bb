// VmSandboxRuntime against a fake guest agent: a ttrpc AgentService server on a unix socket
// stands in for the VM (the SandboxVmStarter seam), so the agent protocol, the stdio relays and
// the exit reporting are tested without QEMU. The real VM path is covered by e2e/vm_containers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { OUTPUT_ACK_BYTES } from '@vfs/contracts';
import {
  AgentServiceDefinition,
  CheckResponse_ServingStatus,
  type CreateContainerRequest,
} from '@vfs/proto/gen/agent/agent';
import { TtrpcClient, TtrpcServer, type ServiceImplementation } from '@vfs/proto/ttrpc';
import { defaultConfig } from '@vfs/runtime-config';
import type { ContainerRequest, ProcessIo, SandboxRuntimeContext } from '../sandbox_runtime';
import { SandboxState } from '../sandbox_state';
import { LOST_STATUS } from './guest_process';
import type { SandboxVm } from './sandbox_vm';
import { VmSandboxRuntime } from './vm_sandbox_runtime';

const log = pino({ level: 'silent' });

/** A process of the fake guest: `cat` semantics (stdin echoed to stdout) plus scripted output. */
class FakeProcess {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  exitStatus = 0;
  private finish: () => void = () => undefined;
  readonly done = new Promise<void>((resolve) => {
    this.finish = resolve;
  });

  exit(status: number): void {
    this.exitStatus = status;
    this.stdout.end();
    this.stderr.end();
    this.finish();
  }
}

async function* chunksOf(stream: PassThrough): AsyncGenerator<Buffer> {
  for await (const chunk of stream) yield chunk as Buffer;
}

class FakeAgent {
  readonly processes = new Map<string, FakeProcess>();
  readonly created: CreateContainerRequest[] = [];
  readonly calls: string[] = [];
  /** OutputConsumed calls: "<exec id>/<stream> <bytes>". */
  readonly consumed: string[] = [];
  /** ReadStdout's report_consumed, call by call. */
  readonly reportConsumedAsked: boolean[] = [];
  /** Container ids GetOOMEvent answers with, one per call; it blocks while none is queued. */
  readonly ooms: string[] = [];
  oomCalls = 0;
  private oomQueued: () => void = () => undefined;
  onStart: (p: FakeProcess) => void = (p) => {
    p.stdout.write('hello ');
    p.stdout.write('world\n');
    p.stderr.write('warning\n');
    p.exit(7);
  };

  reportOom(...containerIds: string[]): void {
    this.ooms.push(...containerIds);
    this.oomQueued();
  }

  private async nextOom(): Promise<{ containerId: string }> {
    this.oomCalls += 1;
    for (;;) {
      const containerId = this.ooms.shift();
      if (containerId !== undefined) return { containerId };
      await new Promise<void>((resolve) => (this.oomQueued = resolve));
    }
  }

  key(containerId: string, execId: string): string {
    return `${containerId}/${execId}`;
  }

  process(req: { containerId: string; execId: string }): FakeProcess {
    const p = this.processes.get(this.key(req.containerId, req.execId));
    if (p === undefined) throw new Error(`no process ${this.key(req.containerId, req.execId)}`);
    return p;
  }

  implementation(): ServiceImplementation<typeof AgentServiceDefinition> {
    const unary = (name: string) => async () => {
      this.calls.push(name);
      return {};
    };
    return {
      createSandbox: unary('createSandbox'),
      destroySandbox: unary('destroySandbox'),
      warmUp: async () => ({ containerId: 'vfs-warm-up-fake', pid: 2 }),
      createContainer: async (req) => {
        this.created.push(req);
        this.processes.set(this.key(req.containerId, ''), new FakeProcess());
        return { pid: 42 };
      },
      startContainer: async (req) => {
        this.onStart(this.process({ containerId: req.containerId, execId: '' }));
        return { pid: 42 };
      },
      removeContainer: unary('removeContainer'),
      pauseContainer: unary('pauseContainer'),
      resumeContainer: unary('resumeContainer'),
      updateContainer: async (req) => {
        this.calls.push(`update ${req.resourcesJson.toString()}`);
        return {};
      },
      statsContainer: async () => ({ metrics: { pids: { current: 3, limit: 0 } } }),
      execProcess: async (req) => {
        const p = new FakeProcess();
        this.processes.set(this.key(req.containerId, req.execId), p);
        return { pid: 43 };
      },
      signalProcess: async (req) => {
        this.process(req).exit(128 + req.signal);
        return {};
      },
      waitProcess: async (req) => {
        const p = this.process(req);
        await p.done;
        return { exitStatus: p.exitStatus, exitedAt: new Date(1000), exitReason: 0 };
      },
      listProcesses: async () => ({
        processes: [
          { pid: 42, execId: '', command: 'sh' },
          { pid: 43, execId: 'e1', command: 'cat' },
        ],
      }),
      getOOMEvent: () => this.nextOom(),
      writeStdin: async (req) => {
        this.process(req).stdout.write(req.data);
        return { len: req.data.length };
      },
      closeStdin: async (req) => {
        this.process(req).exit(0);
        return {};
      },
      readStdout: async (req, stream) => {
        this.reportConsumedAsked.push(req.reportConsumed);
        for await (const data of chunksOf(this.process(req).stdout)) await stream.send({ data });
      },
      readStderr: async (req, stream) => {
        for await (const data of chunksOf(this.process(req).stderr)) await stream.send({ data });
      },
      outputConsumed: async (req) => {
        this.consumed.push(`${req.execId}/${req.stderr ? 'stderr' : 'stdout'} ${req.bytes}`);
        return {};
      },
      ttyWinResize: unary('ttyWinResize'),
      mountShare: unary('mountShare'),
      unmountShare: unary('unmountShare'),
      addContainerMount: unary('addContainerMount'),
      removeContainerMount: unary('removeContainerMount'),
      check: async () => ({ status: CheckResponse_ServingStatus.SERVING }),
      getGuestDetails: async () => ({ kernelRelease: '6.1.0-fake' }),
    };
  }
}

async function waitUntil(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
}

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

describe('VmSandboxRuntime (fake agent)', () => {
  let dir: string;
  let server: TtrpcServer;
  let fake: FakeAgent;
  let client: TtrpcClient;
  let stops: number;
  let ooms: string[];
  let bound: string[];

  const context = (): SandboxRuntimeContext => ({
    sandboxId: 'sb',
    namespace: 'ns',
    config: { config: defaultConfig(), source: 'test' },
    state: new SandboxState(join(dir, 'state')),
    log,
    onOom: (id) => void ooms.push(id),
  });

  const runtime = (): VmSandboxRuntime =>
    new VmSandboxRuntime(context(), async () => {
      const vm: SandboxVm = {
        agent: client.service(AgentServiceDefinition),
        lost: client.closed,
        isLost: () => false,
        bindContainerDirs: async (id, dirs) => {
          bound.push(...dirs.map((d) => `+${id}:${d.target}`));
        },
        releaseContainerDirs: async (id, dirs) => {
          bound.push(...dirs.map((d) => `-${id}:${d.target}`));
        },
        volumes: {
          add: async () => Promise.reject(new Error('no hotplug in this test')),
          remove: async () => undefined,
          removeAll: async (id) => {
            bound.push(`volumes-${id}`);
          },
          list: () => [],
        },
        stop: async () => {
          stops += 1;
        },
      };
      return vm;
    });

  const request = (io: ProcessIo, id = 'c1'): ContainerRequest => ({
    containerId: id,
    bundle: dir,
    spec: {
      ociVersion: '1.0.2',
      root: { path: 'rootfs' },
      mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    },
    rootfs: [
      {
        type: 'overlay',
        source: 'overlay',
        target: '',
        options: ['index=off', `workdir=${dir}/s/2/work`, `upperdir=${dir}/s/2/fs`, `lowerdir=${dir}/s/1/fs`],
      },
    ],
    io,
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-vmrt-'));
    fake = new FakeAgent();
    server = new TtrpcServer({ logger: log }).register(AgentServiceDefinition, fake.implementation());
    await server.listen(join(dir, 'agent.sock'));
    client = await TtrpcClient.connect(join(dir, 'agent.sock'), { logger: log });
    stops = 0;
    bound = [];
    ooms = [];
  });

  afterEach(async () => {
    client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates with the planned rootfs, relays output in order and reports the exit after the output ended', async () => {
    const out = collect();
    const err = collect();
    const rt = runtime();
    const created = await rt.createContainer(
      request({ terminal: false, stdin: undefined, stdout: out.stream, stderr: err.stream }),
    );
    expect(created.pid).toBe(42);
    const sent = fake.created[0];
    expect(sent?.rootfs?.kind).toEqual({
      $case: 'overlay',
      overlay: {
        lower: [{ tag: 'vfslayers', path: 'c0-l0' }],
        upper: { tag: 'vfsdata', path: 'c0-up/fs' },
        work: { tag: 'vfsdata', path: 'c0-up/work' },
        options: ['index=off'],
      },
    });
    expect(JSON.parse(sent?.ociSpecJson.toString() ?? '{}').mounts).toEqual([
      { destination: '/proc', type: 'proc', source: 'proc' },
    ]);
    const started = Date.now();
    await rt.startContainer('c1');
    const exit = await created.exited;
    expect(exit.exitStatus).toBe(7);
    // The host's clock, not the guest's (the fake agent answers 1970).
    expect(exit.exitedAt.getTime()).toBeGreaterThanOrEqual(started);
    expect(out.stream.writableEnded && err.stream.writableEnded).toBe(true);
    expect(out.text()).toBe('hello world\n');
    expect(err.text()).toBe('warning\n');
  });

  it('reports to the agent every 256 KiB of output it passed on, and nothing for less', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    fake.onStart = (p) => {
      for (let i = 0; i < 9; i++) p.stdout.write(chunk);
      p.stderr.write('warning\n');
      p.exit(0);
    };
    const out = collect();
    const rt = runtime();
    const created = await rt.createContainer(
      request({ terminal: false, stdin: undefined, stdout: out.stream, stderr: collect().stream }),
    );
    await rt.startContainer('c1');
    await created.exited;
    expect(out.text().length).toBe(9 * chunk.length);
    // However the chunks came: each report at least OUTPUT_ACK_BYTES, all of them at most what was
    // passed on and within a step of it; stderr's 8 bytes stay under the step.
    const reports = (): number[] => fake.consumed.map((line) => Number(/^\/stdout (\d+)$/.exec(line)?.[1]));
    const reported = (): number => reports().reduce((a, b) => a + b, 0);
    await waitUntil(() => reported() > 9 * chunk.length - OUTPUT_ACK_BYTES);
    expect(reports().every((bytes) => bytes >= OUTPUT_ACK_BYTES)).toBe(true);
    expect(reported()).toBeLessThanOrEqual(9 * chunk.length);
    expect(fake.reportConsumedAsked).toEqual([true]);
  });

  it('relays stdin through WriteStdin and its end through CloseStdin', async () => {
    fake.onStart = () => undefined;
    const stdin = new PassThrough();
    const out = collect();
    const rt = runtime();
    const created = await rt.createContainer(request({ terminal: true, stdin, stdout: out.stream, stderr: undefined }));
    expect(fake.created[0]?.stdin).toBe(true);
    expect(fake.created[0]?.terminal).toBe(true);
    await rt.startContainer('c1');
    stdin.write('line one\n');
    stdin.end('two\n');
    await expect(created.exited).resolves.toMatchObject({ exitStatus: 0 });
    expect(out.text()).toBe('line one\ntwo\n');
  });

  it('maps exec, signal, stats, ps, update and pause to the agent', async () => {
    fake.onStart = () => undefined;
    const rt = runtime();
    await rt.createContainer(request({ terminal: false, stdin: undefined, stdout: undefined, stderr: undefined }));
    await rt.startContainer('c1');
    const execIo = collect();
    await rt.prepareExec({
      containerId: 'c1',
      execId: 'e1',
      process: { args: ['cat'], cwd: '/' },
      processJson: '{}',
      io: { terminal: false, stdin: undefined, stdout: execIo.stream, stderr: undefined },
    });
    const exec = await rt.startExec({ containerId: 'c1', execId: 'e1' });
    expect(exec.pid).toBe(43);
    await rt.signal({ containerId: 'c1', execId: 'e1' }, 9, false);
    await expect(exec.exited).resolves.toMatchObject({ exitStatus: 137 });
    expect((await rt.stats('c1')).pids?.current).toBe(3);
    expect(await rt.processes('c1')).toEqual([
      { pid: 42, execId: '' },
      { pid: 43, execId: 'e1' },
    ]);
    await rt.update('c1', '{"cpu":{"shares":512}}');
    await rt.pause('c1');
    await rt.resume('c1');
    expect(fake.calls).toEqual(['update {"cpu":{"shares":512}}', 'pauseContainer', 'resumeContainer']);
  });

  it('reports every process as exited with 255 and ends its output when the VM goes away', async () => {
    fake.onStart = () => undefined;
    const out = collect();
    const rt = runtime();
    const created = await rt.createContainer(
      request({ terminal: false, stdin: undefined, stdout: out.stream, stderr: undefined }),
    );
    await rt.startContainer('c1');
    await server.close();
    await expect(created.exited).resolves.toMatchObject({ exitStatus: LOST_STATUS });
    expect(out.stream.writableEnded).toBe(true);
  });

  it('publishes OOM kills of its own containers only, once per burst', async () => {
    const rt = runtime();
    await rt.createContainer(request({ terminal: false, stdin: undefined, stdout: undefined, stderr: undefined }));
    const reports = ['other-pod-container', ...Array<string>(200).fill('c1'), 'sb', 'c2'];
    fake.reportOom(...reports);
    // The watch asks for the next report only after handling the previous one.
    await waitUntil(() => fake.oomCalls === reports.length + 1);
    expect(ooms).toEqual(['c1']);
  });

  it('runs a second container in the same VM with directories of its own, released at its removal', async () => {
    const rt = runtime();
    const quiet = { terminal: false, stdin: undefined, stdout: undefined, stderr: undefined };
    await rt.createContainer(request(quiet));
    await rt.createContainer(request(quiet, 'c2'));
    expect(fake.created.map((c) => c.rootfs?.kind?.$case === 'overlay' && c.rootfs.kind.overlay.upper?.path)).toEqual([
      'c0-up/fs',
      'c1-up/fs',
    ]);
    await rt.removeContainer('c2');
    expect(bound).toEqual([
      '+c1:vfslayers/c0-l0',
      '+c1:vfsdata/c0-up',
      '+c2:vfslayers/c1-l0',
      '+c2:vfsdata/c1-up',
      'volumes-c2',
      '-c2:vfslayers/c1-l0',
      '-c2:vfsdata/c1-up',
    ]);
    await rt.removeContainer('c1');
    await rt.shutdown();
    expect(stops).toBe(1);
  });

  it("stops the VM instead of asking the guest when the sandbox's own container goes last, and takes no container after", async () => {
    const rt = runtime();
    const quiet = { terminal: false, stdin: undefined, stdout: undefined, stderr: undefined };
    await rt.createContainer(request(quiet, 'sb'));
    await rt.createContainer(request(quiet, 'c2'));
    await rt.removeContainer('c2');
    expect(fake.calls).toEqual(['removeContainer']);
    expect(stops).toBe(0);
    await rt.removeContainer('sb');
    expect(fake.calls).toEqual(['removeContainer']);
    expect(stops).toBe(1);
    expect(bound.slice(-2)).toEqual(['-sb:vfslayers/c0-l0', '-sb:vfsdata/c0-up']);
    await expect(rt.createContainer(request(quiet, 'c3'))).rejects.toThrow(/sandbox sb has ended/);
  });

  it("asks the guest to remove the sandbox's own container while another is still in it", async () => {
    const rt = runtime();
    const quiet = { terminal: false, stdin: undefined, stdout: undefined, stderr: undefined };
    await rt.createContainer(request(quiet, 'sb'));
    await rt.createContainer(request(quiet, 'c2'));
    await rt.removeContainer('sb');
    expect(fake.calls).toEqual(['removeContainer']);
    expect(stops).toBe(0);
  });
});
