// TaskService's state rules, status codes and event order, against an in-memory fake runtime
// (a test double: processes are promises the test resolves).

import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Status } from '@vfs/proto/gen/containerd/types/task/task';
import { type CallContext, Code, TtrpcError } from '@vfs/proto/ttrpc';
import type { EventSink, Topic } from './events';
import { SandboxError } from './sandbox_error';
import type { ProcessExit, RuntimeProcess, SandboxRuntime } from './sandbox_runtime';
import { TaskService } from './task_service';

const ctx: CallContext = {
  service: 'containerd.task.v2.Task',
  method: 'Test',
  metadata: new Map(),
  signal: new AbortController().signal,
  deadline: undefined,
};

class FakeProcess {
  exit: (exit: ProcessExit) => void = () => undefined;
  readonly process: RuntimeProcess;
  constructor(pid: number) {
    this.process = { pid, exited: new Promise((resolve) => (this.exit = resolve)) };
  }
}

function fakeRuntime(inits: Map<string, FakeProcess>): SandboxRuntime {
  const unimplemented = async (): Promise<never> => {
    throw new TtrpcError(Code.Unimplemented, 'fake');
  };
  return {
    createContainer: async (request) => {
      const proc = new FakeProcess(100 + inits.size);
      inits.set(request.containerId, proc);
      return proc.process;
    },
    startContainer: async () => undefined,
    prepareExec: async () => undefined,
    startExec: unimplemented,
    signal: async (ref, signal) => {
      inits.get(ref.containerId)?.exit({ exitStatus: 128 + signal, exitedAt: new Date(5000), reason: 2 });
    },
    resizePty: unimplemented,
    pause: async () => undefined,
    resume: async () => undefined,
    update: async () => undefined,
    stats: unimplemented,
    processes: async () => [],
    removeExec: async () => undefined,
    removeContainer: async () => undefined,
    shutdown: async () => undefined,
  };
}

async function codeOf(call: Promise<unknown>): Promise<Code> {
  try {
    await call;
  } catch (err) {
    if (err instanceof TtrpcError) return err.code;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('TaskService', () => {
  let bundle: string;
  let topics: Topic[];
  let inits: Map<string, FakeProcess>;
  let service: TaskService;
  let lifecycle: string[];

  beforeEach(() => {
    bundle = mkdtempSync(join(tmpdir(), 'vfs-task-'));
    writeFileSync(
      join(bundle, 'config.json'),
      JSON.stringify({ ociVersion: '1.0.2', process: { args: ['true'], cwd: '/' } }),
    );
    topics = [];
    inits = new Map();
    lifecycle = [];
    const events: EventSink = { publish: (topic) => void topics.push(topic) };
    service = new TaskService({
      namespace: 'ns',
      runtime: async () => fakeRuntime(inits),
      events,
      log: pino({ level: 'silent' }),
      onStopped: async () => void lifecycle.push('stopped'),
      onShutdown: () => void lifecycle.push('shutdown'),
    });
  });
  afterEach(() => rmSync(bundle, { recursive: true, force: true }));

  const create = (id: string) =>
    service.create(
      {
        id,
        bundle,
        rootfs: [],
        terminal: false,
        stdin: '',
        stdout: '',
        stderr: '',
        checkpoint: '',
        parentCheckpoint: '',
        options: undefined,
        oomPath: '',
      },
      ctx,
    );

  it('runs the lifecycle with runc-compatible states, statuses and event order', async () => {
    expect(await create('c1')).toEqual({ pid: 100 });
    expect((await service.state({ id: 'c1', execId: '' })).status).toBe(Status.CREATED);
    await service.start({ id: 'c1', execId: '' });
    expect((await service.state({ id: 'c1', execId: '' })).status).toBe(Status.RUNNING);
    const waited = service.wait({ id: 'c1', execId: '' }, ctx);
    inits.get('c1')?.exit({ exitStatus: 7, exitedAt: new Date(1000), reason: 0 });
    expect(await waited).toEqual({ exitStatus: 7, exitedAt: new Date(1000) });
    expect(await codeOf(service.kill({ id: 'c1', execId: '', signal: 9, all: false }))).toBe(Code.NotFound);
    expect(await service.delete({ id: 'c1', execId: '' })).toEqual({
      pid: 100,
      exitStatus: 7,
      exitedAt: new Date(1000),
    });
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    await service.shutdown({ id: 'c1', now: false });
    // The shim's files go before the answer: containerd runs `delete` once the connection closes.
    expect(lifecycle).toEqual(['stopped']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lifecycle).toEqual(['stopped', 'shutdown']);
  });

  it('answers with the codes containerd maps', async () => {
    await create('c1');
    expect(await codeOf(create('c1'))).toBe(Code.AlreadyExists);
    expect(await codeOf(service.state({ id: 'nope', execId: '' }))).toBe(Code.NotFound);
    expect(await codeOf(service.pause({ id: 'c1' }))).toBe(Code.FailedPrecondition);
    await service.start({ id: 'c1', execId: '' });
    expect(await codeOf(service.start({ id: 'c1', execId: '' }))).toBe(Code.FailedPrecondition);
    expect(await codeOf(service.delete({ id: 'c1', execId: '' }))).toBe(Code.FailedPrecondition);
    expect(await codeOf(service.checkpoint({ id: 'c1', path: '', options: undefined }))).toBe(Code.Unimplemented);
    const spec = {
      typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process',
      value: Buffer.from(JSON.stringify({ args: [], cwd: '/' })),
    };
    expect(
      await codeOf(service.exec({ id: 'c1', execId: 'e1', terminal: false, stdin: '', stdout: '', stderr: '', spec })),
    ).toBe(Code.InvalidArgument);
  });

  it("answers a runtime's domain errors with the code of their kind and the runtime's message", async () => {
    const runtime: SandboxRuntime = {
      ...fakeRuntime(inits),
      pause: async () => {
        throw new SandboxError('unreachable', 'sandbox s1: its VM is gone');
      },
      signal: async () => {
        throw SandboxError.wrap(new TtrpcError(Code.NotFound, 'container c1 not found'), 'the agent');
      },
      stats: async () => {
        throw SandboxError.wrap(new Error('EIO'), 'read the cgroup');
      },
    };
    service = new TaskService({
      namespace: 'ns',
      runtime: async () => runtime,
      events: { publish: () => undefined },
      log: pino({ level: 'silent' }),
      onStopped: async () => undefined,
      onShutdown: () => undefined,
    });
    await create('c1');
    await service.start({ id: 'c1', execId: '' });
    const failure = (call: Promise<unknown>) =>
      call.then(
        () => 'resolved',
        (err: unknown) => err,
      );
    expect(await failure(service.pause({ id: 'c1' }))).toMatchObject({
      code: Code.Unavailable,
      message: 'sandbox s1: its VM is gone',
    });
    // Unclassified: the agent's own answer keeps its code; a plain cause is Unknown.
    expect(await failure(service.kill({ id: 'c1', execId: '', signal: 9, all: false }))).toMatchObject({
      code: Code.NotFound,
      message: 'kill task c1 with signal 9: the agent: container c1 not found',
    });
    expect(await failure(service.stats({ id: 'c1' }))).toMatchObject({
      code: Code.Unknown,
      message: 'read the cgroup: EIO',
    });
  });

  const process = { args: ['true'], cwd: '/' };
  const malformed: [string, Record<string, unknown>, string][] = [
    ['a null mount', { mounts: [null] }, 'mounts[0] must be an object'],
    ['mounts that are not an array', { mounts: { destination: '/x' } }, 'mounts must be an array'],
    ['a mount without destination', { mounts: [{ type: 'bind' }] }, 'mounts[0].destination must be a non-empty string'],
    ['a numeric mount type', { mounts: [{ destination: '/x', type: 1 }] }, 'mounts[0].type must be a string'],
    ['a numeric mount source', { mounts: [{ destination: '/x', source: 2 }] }, 'mounts[0].source must be a string'],
    [
      'a mount options object',
      { mounts: [{ destination: '/x', options: { bind: true } }] },
      'mounts[0].options must be an array of strings',
    ],
    [
      'a mount options string',
      {
        mounts: [{ destination: '/a' }, { destination: '/b' }, { destination: '/c', source: '/s', options: 'nobind' }],
      },
      'mounts[2].options must be an array of strings',
    ],
    ['a root that is a string', { root: 'rootfs' }, 'root must be an object'],
    ['a root without path', { root: { readonly: true } }, 'root.path must be a non-empty string'],
    ['a numeric hostname', { hostname: 7 }, 'hostname must be a string'],
    ['a user name instead of ids', { process: { ...process, user: 'root' } }, 'process.user must be an object'],
    ['a negative uid', { process: { ...process, user: { uid: -1, gid: 0 } } }, 'process.user.uid must be an integer'],
    [
      'a gid that is a string',
      { process: { ...process, user: { uid: 0, gid: '0' } } },
      'process.user.gid must be an integer',
    ],
    [
      'bad additional gids',
      { process: { ...process, user: { uid: 0, gid: 0, additionalGids: [1.5] } } },
      'process.user.additionalGids must be an array',
    ],
  ];

  it.each(malformed)('fails Create with InvalidArgument naming the field for %s', async (_what, fields, message) => {
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', process, ...fields }));
    const err: unknown = await create('c1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TtrpcError);
    expect((err as TtrpcError).code).toBe(Code.InvalidArgument);
    expect((err as TtrpcError).message).toContain(`${join(bundle, 'config.json')}: ${message}`);
    expect(inits.size).toBe(0);
  });

  it('keeps running while tasks remain: Shutdown is a no-op then', async () => {
    await create('c1');
    await service.shutdown({ id: 'c1', now: false });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lifecycle).toEqual([]);
  });

  it('reports a kill before start as exit 137 at Delete', async () => {
    await create('c1');
    await service.kill({ id: 'c1', execId: '', signal: 9, all: false });
    const deleted = await service.delete({ id: 'c1', execId: '' });
    expect(deleted.exitStatus).toBe(137);
  });

  it('closes the stdio of an exec whose start failed, so the FIFO reader sees EOF at once', async () => {
    await create('c1');
    await service.start({ id: 'c1', execId: '' });
    const stdout = join(bundle, 'e1-stdout');
    execFileSync('mkfifo', [stdout]);
    const spec = {
      typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process',
      value: Buffer.from(JSON.stringify({ args: ['nosuch'], cwd: '/' })),
    };
    await service.exec({ id: 'c1', execId: 'e1', terminal: false, stdin: '', stdout, stderr: '', spec });
    // containerd's end, opened after the shim's as it is: EOF comes only once no writer is left.
    const reader = new Socket({
      fd: openSync(stdout, constants.O_RDONLY | constants.O_NONBLOCK),
      readable: true,
      writable: false,
    });
    const eof = new Promise<string>((resolve) => reader.once('end', () => resolve('EOF')));
    reader.resume();
    await expect(service.start({ id: 'c1', execId: 'e1' })).rejects.toThrow();
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('no EOF within 1.5 s'), 1500).unref());
    expect(await Promise.race([eof, timeout])).toBe('EOF');
    reader.destroy();
  });
});
