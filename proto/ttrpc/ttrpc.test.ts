import { setTimeout as sleep } from 'node:timers/promises';
import { AgentServiceDefinition } from '../gen/agent/agent';
import { Status as TaskStatus } from '../gen/containerd/types/task/task';
import { StateRequest, TaskDefinition } from '../gen/containerd/runtime/task/v2/shim';
import { TaskDefinition as TaskV3Definition } from '../gen/containerd/runtime/task/v3/shim';
import { Request, Response } from '../gen/ttrpc/request';
import { ReadStreamResponse, WriteStdinRequest } from '../gen/agent/agent';
import {
  duplexPair,
  RawConnection,
  RecordingLogger,
  SharedPort,
  type SocketFixture,
  socketFixture,
  unimplementedTask,
} from '../test_support/ttrpc_fixture';
import type { CallContext } from './call_context';
import { TtrpcClient } from './client';
import { Code } from './codes';
import { TtrpcError } from './errors';
import { FLAG_NO_DATA, FLAG_REMOTE_CLOSED, HEADER_LENGTH, MAX_PAYLOAD_LENGTH, MessageType } from './framing';
import { metadataValue } from './metadata';
import { TtrpcServer } from './server';
import type { ServiceImplementation } from './service';

const NAMESPACE_KEY = 'containerd-namespace-ttrpc';

/** Rejects with the TtrpcError a call failed with, or fails the test if it succeeded. */
async function failure(call: Promise<unknown>): Promise<TtrpcError> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(TtrpcError);
    return err as TtrpcError;
  }
  throw new Error('the call succeeded');
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) {
    items.push(item);
  }
  return items;
}

/** The Request envelope of a Task State call, for raw frames. */
function stateEnvelope(id: string): Uint8Array {
  return Request.encode({
    service: 'containerd.task.v2.Task',
    method: 'State',
    payload: Buffer.from(StateRequest.encode({ id, execId: '' }).finish()),
    timeoutNano: 0,
    metadata: [],
  }).finish();
}

/** The agent service with nothing implemented, for the stream tests to override. */
function unimplementedAgent(
  overrides: Partial<ServiceImplementation<typeof AgentServiceDefinition>>,
): ServiceImplementation<typeof AgentServiceDefinition> {
  const handlers: Record<string, unknown> = {};
  for (const key of Object.keys(AgentServiceDefinition.methods)) {
    handlers[key] = () => Promise.reject(new TtrpcError(Code.Unimplemented, key));
  }
  return { ...(handlers as ServiceImplementation<typeof AgentServiceDefinition>), ...overrides };
}

/** A hand-written definition with streamed requests (none of our protos has one) over real codecs. */
const EchoDefinition = {
  name: 'Echo',
  fullName: 'vfs.test.Echo',
  methods: {
    concat: {
      name: 'Concat',
      requestType: WriteStdinRequest,
      requestStream: true,
      responseType: ReadStreamResponse,
      responseStream: false,
      options: {},
    },
    echo: {
      name: 'Echo',
      requestType: WriteStdinRequest,
      requestStream: true,
      responseType: ReadStreamResponse,
      responseStream: true,
      options: {},
    },
  },
} as const;

describe('ttrpc over a unix socket', () => {
  let fixture: SocketFixture | undefined;

  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  async function serveTask(overrides: Parameters<typeof unimplementedTask>[0]): Promise<SocketFixture> {
    fixture = await socketFixture((server) => server.register(TaskDefinition, unimplementedTask(overrides)));
    return fixture;
  }

  it('round-trips a Task State call with its generated types', async () => {
    const exitedAt = new Date('2024-05-01T10:00:00.123Z');
    const f = await serveTask({
      state: async (request) => ({
        id: request.id,
        execId: request.execId,
        pid: 4242,
        status: TaskStatus.STOPPED,
        exitStatus: 3,
        exitedAt,
      }),
    });
    const task = (await f.client()).service(TaskDefinition);
    const state = await task.state({ id: 'c1', execId: 'e1' });
    expect(state).toEqual({
      id: 'c1',
      bundle: '',
      pid: 4242,
      status: TaskStatus.STOPPED,
      stdin: '',
      stdout: '',
      stderr: '',
      terminal: false,
      exitStatus: 3,
      exitedAt,
      execId: 'e1',
    });
  });

  it.each([
    [Code.NotFound, 'container c1 not found'],
    [Code.AlreadyExists, 'container c1 exists'],
    [Code.FailedPrecondition, 'container c1 is not running'],
    [Code.InvalidArgument, 'bad exec id'],
    [Code.Unavailable, 'agent is gone'],
  ])('hands a thrown TtrpcError with code %i to the client unchanged', async (code, message) => {
    const f = await serveTask({
      kill: async () => {
        throw new TtrpcError(code, message);
      },
    });
    const err = await failure((await f.client()).service(TaskDefinition).kill({ id: 'c1', signal: 9 }));
    expect([err.code, err.message]).toEqual([code, message]);
  });

  it('turns any other thrown error into Unknown with its message', async () => {
    const f = await serveTask({
      pids: async () => {
        throw new Error('cgroup.procs is unreadable');
      },
    });
    const err = await failure((await f.client()).service(TaskDefinition).pids({ id: 'c1' }));
    expect([err.code, err.message]).toEqual([Code.Unknown, 'cgroup.procs is unreadable']);
  });

  it('answers an unknown service or method with Unimplemented naming it', async () => {
    const f = await serveTask({});
    const client = await f.client();
    const service = await failure(client.service(TaskV3Definition).connect({ id: 'c1' }));
    expect(service.code).toBe(Code.Unimplemented);
    expect(service.message).toContain('containerd.task.v3.Task');

    const bogus = {
      fullName: 'containerd.task.v2.Task',
      methods: { bogus: { ...TaskDefinition.methods.state, name: 'Bogus' } },
    } as const;
    const method = await failure(client.service(bogus).bogus({ id: 'c1' }));
    expect(method.code).toBe(Code.Unimplemented);
    expect(method.message).toContain('Bogus');
  });

  it('fails a call past its timeout with DeadlineExceeded and aborts the handler', async () => {
    let seen: CallContext | undefined;
    const f = await serveTask({
      wait: async (_request, ctx) => {
        seen = ctx;
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        return {};
      },
    });
    const err = await failure((await f.client()).service(TaskDefinition).wait({ id: 'c1' }, { timeoutMs: 50 }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.message).toContain('containerd.task.v2.Task/Wait');
    await sleep(20);
    expect(seen?.deadline).toBeGreaterThan(0);
    expect(seen?.signal.aborted).toBe(true);
    expect((seen?.signal.reason as TtrpcError | undefined)?.code).toBe(Code.DeadlineExceeded);
  });

  it('honours timeout_nano on the server even when the client does not enforce it', async () => {
    const f = await serveTask({ wait: () => new Promise(() => undefined) });
    const raw = await RawConnection.open(f.socketPath);
    const request = Request.encode({
      service: 'containerd.task.v2.Task',
      method: 'Wait',
      payload: Buffer.alloc(0),
      timeoutNano: 30e6,
      metadata: [],
    }).finish();
    raw.send(1, MessageType.Request, 0, request);
    const frame = await raw.nextFrame();
    expect(frame.header.type).toBe(MessageType.Response);
    expect(Response.decode(frame.payload).status?.code).toBe(Code.DeadlineExceeded);
    raw.close();
  });

  it('passes metadata from the client to the handler', async () => {
    const f = await serveTask({
      connect: async (_request, ctx) => ({
        version: [...ctx.metadata.entries()].map(([key, values]) => `${key}=${values.join('|')}`).join(','),
      }),
    });
    const response = await (await f.client())
      .service(TaskDefinition)
      .connect({ id: 'c1' }, { metadata: { [NAMESPACE_KEY]: 'k8s.io', multi: ['a', 'b'] } });
    expect(response.version).toBe(`${NAMESPACE_KEY}=k8s.io,multi=a|b`);
  });

  it('serves concurrent calls on one connection, answering each as it finishes', async () => {
    const f = await serveTask({
      start: async (request) => {
        const n = Number(request.id);
        await sleep((20 - n) * 2);
        return { pid: n * 10 };
      },
    });
    const task = (await f.client()).service(TaskDefinition);
    const ids = Array.from({ length: 20 }, (_, i) => i);
    const pids = await Promise.all(ids.map((i) => task.start({ id: String(i) })));
    expect(pids.map((r) => r.pid)).toEqual(ids.map((i) => i * 10));
  });

  it('rejects pending calls with Unavailable naming the call when the connection drops', async () => {
    const f = await serveTask({ wait: () => new Promise(() => undefined) });
    const client = await f.client();
    const pending = failure(client.service(TaskDefinition).wait({ id: 'c1' }));
    await sleep(20);
    await f.server.close();
    const err = await pending;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.message).toContain('containerd.task.v2.Task/Wait');
    expect(await client.closed).toContain('peer closed the connection');
    const after = await failure(client.service(TaskDefinition).state({ id: 'c1' }));
    expect(after.code).toBe(Code.Unavailable);
  });

  it('streams server responses and ends the stream when the handler returns', async () => {
    fixture = await socketFixture((server) =>
      server.register(
        AgentServiceDefinition,
        unimplementedAgent({
          readStdout: async (request, stream) => {
            for (const word of ['hello ', 'from ', request.containerId]) {
              await stream.send({ data: Buffer.from(word) });
            }
          },
        }),
      ),
    );
    const agent = (await fixture.client()).service(AgentServiceDefinition);
    const chunks = await collect(agent.readStdout({ containerId: 'c1', execId: '' }));
    expect(Buffer.concat(chunks.map((c) => c.data)).toString()).toBe('hello from c1');
  });

  it('delivers an error raised in the middle of a stream after the messages before it', async () => {
    fixture = await socketFixture((server) =>
      server.register(
        AgentServiceDefinition,
        unimplementedAgent({
          readStderr: async (_request, stream) => {
            await stream.send({ data: Buffer.from('partial') });
            throw new TtrpcError(Code.NotFound, 'exec e1 not found');
          },
        }),
      ),
    );
    const agent = (await fixture.client()).service(AgentServiceDefinition);
    const seen: string[] = [];
    const err = await failure(
      (async () => {
        for await (const chunk of agent.readStderr({ containerId: 'c1', execId: 'e1' })) {
          seen.push(chunk.data.toString());
        }
      })(),
    );
    expect(seen).toEqual(['partial']);
    expect([err.code, err.message]).toEqual([Code.NotFound, 'exec e1 not found']);
  });

  it('serves a stream whose request is Empty (the v3 Events method)', async () => {
    fixture = await socketFixture((server) =>
      server.register(TaskV3Definition, {
        ...(unimplementedTask({}) as unknown as ServiceImplementation<typeof TaskV3Definition>),
        events: async (_request, stream) => {
          await stream.send({ topic: '/tasks/start', namespace: 'default' });
          await stream.send({ topic: '/tasks/exit', namespace: 'default' });
        },
      }),
    );
    const task = (await fixture.client()).service(TaskV3Definition);
    const topics = (await collect(task.events({}))).map((e) => e.topic);
    expect(topics).toEqual(['/tasks/start', '/tasks/exit']);
  });

  it('streams requests from the client, alone or together with streamed responses', async () => {
    fixture = await socketFixture((server) =>
      server.register(EchoDefinition, {
        concat: async (requests) => {
          const parts: Buffer[] = [];
          for await (const request of requests) {
            parts.push(request.data);
          }
          return { data: Buffer.concat(parts) };
        },
        echo: async (requests, stream) => {
          for await (const request of requests) {
            await stream.send({ data: Buffer.from(request.data.toString().toUpperCase()) });
          }
        },
      }),
    );
    const echo = (await fixture.client()).service(EchoDefinition);
    const inputs = ['a', 'b', 'c'].map((s) => ({ containerId: 'c1', data: Buffer.from(s) }));
    expect((await echo.concat(inputs)).data.toString()).toBe('abc');
    const echoed = await collect(echo.echo(inputs));
    expect(echoed.map((r) => r.data.toString())).toEqual(['A', 'B', 'C']);
  });

  it('answers malformed frames on their stream and keeps serving', async () => {
    const f = await serveTask({ state: async (request) => ({ id: request.id }) });
    const raw = await RawConnection.open(f.socketPath);
    const statusOf = async (): Promise<[number, number | undefined]> => {
      const frame = await raw.nextFrame();
      return [frame.header.streamId, Response.decode(frame.payload).status?.code];
    };

    raw.send(1, MessageType.Request, 0, Buffer.from([0xff, 0xff, 0xff]));
    expect(await statusOf()).toEqual([1, Code.InvalidArgument]);

    const garbageInner = Request.encode({
      service: 'containerd.task.v2.Task',
      method: 'State',
      payload: Buffer.from([0x0a, 0x10, 0x41]),
      timeoutNano: 0,
      metadata: [],
    }).finish();
    raw.send(3, MessageType.Request, 0, garbageInner);
    expect(await statusOf()).toEqual([3, Code.InvalidArgument]);

    raw.send(4, MessageType.Request, 0, garbageInner);
    expect(await statusOf()).toEqual([4, Code.InvalidArgument]);

    const oversize = Buffer.alloc(HEADER_LENGTH);
    oversize.writeUInt32BE(MAX_PAYLOAD_LENGTH + 1, 0);
    oversize.writeUInt32BE(5, 4);
    oversize.writeUInt8(MessageType.Request, 8);
    raw.sendBytes(Buffer.concat([oversize, Buffer.alloc(MAX_PAYLOAD_LENGTH + 1)]));
    expect(await statusOf()).toEqual([5, Code.ResourceExhausted]);

    const good = Request.encode({
      service: 'containerd.task.v2.Task',
      method: 'State',
      payload: Buffer.from(StateRequest.encode({ id: 'after', execId: '' }).finish()),
      timeoutNano: 0,
      metadata: [],
    }).finish();
    raw.send(7, MessageType.Request, 0, good);
    const frame = await raw.nextFrame();
    const response = Response.decode(frame.payload);
    expect([frame.header.streamId, response.status?.code]).toEqual([7, Code.OK]);

    const other = (await f.client()).service(TaskDefinition);
    expect((await other.state({ id: 'other' })).id).toBe('other');
    expect(f.logger.lines.some((l) => l.level === 'warn' && l.message.includes('exceeds the maximum'))).toBe(true);
    raw.close();
  });

  it('does not answer a late close of a finished stream', async () => {
    const f = await serveTask({ state: async (request) => ({ id: request.id }) });
    const raw = await RawConnection.open(f.socketPath);
    raw.send(1, MessageType.Request, 0, stateEnvelope('one'));
    await raw.nextFrame();
    raw.send(1, MessageType.Data, FLAG_REMOTE_CLOSED | FLAG_NO_DATA, Buffer.alloc(0));
    raw.send(3, MessageType.Request, 0, stateEnvelope('two'));
    const next = await raw.nextFrame();
    expect(next.header.streamId).toBe(3);
    raw.close();
  });

  it('refuses a stream id that does not increase, except stream 1: a new client on the connection', async () => {
    const f = await serveTask({ state: async (request) => ({ id: request.id }) });
    const raw = await RawConnection.open(f.socketPath);
    const answer = async (streamId: number, id: string): Promise<[number, number | undefined, string | undefined]> => {
      raw.send(streamId, MessageType.Request, 0, stateEnvelope(id));
      const frame = await raw.nextFrame();
      const response = Response.decode(frame.payload);
      return [frame.header.streamId, response.status?.code, response.status?.message];
    };
    expect((await answer(1, 'a')).slice(0, 2)).toEqual([1, Code.OK]);
    expect((await answer(5, 'b')).slice(0, 2)).toEqual([5, Code.OK]);
    expect(await answer(3, 'c')).toEqual([
      3,
      Code.InvalidArgument,
      'ttrpc: stream id 3 cannot be reused and must increase',
    ]);
    expect((await answer(5, 'd')).slice(0, 2)).toEqual([5, Code.InvalidArgument]);
    expect((await answer(1, 'e')).slice(0, 2)).toEqual([1, Code.OK]);
    expect((await answer(3, 'f')).slice(0, 2)).toEqual([3, Code.OK]);
    expect((await answer(3, 'g')).slice(0, 2)).toEqual([3, Code.InvalidArgument]);
    raw.close();
  });
});

describe('ttrpc over a plain Duplex', () => {
  it('serves a connection that is not a socket, as the agent does on its virtio-serial port', async () => {
    const [serverEnd, clientEnd] = duplexPair();
    const logger = new RecordingLogger();
    const server = new TtrpcServer({ logger }).register(
      TaskDefinition,
      unimplementedTask({
        state: async (request, ctx) => ({ id: request.id, bundle: metadataValue(ctx.metadata, NAMESPACE_KEY) }),
      }),
    );
    server.serveConnection(serverEnd);
    const client = new TtrpcClient(clientEnd, { logger });
    const state = await client
      .service(TaskDefinition)
      .state({ id: 'c9' }, { metadata: { [NAMESPACE_KEY]: 'default' } });
    expect([state.id, state.bundle]).toEqual(['c9', 'default']);
    client.close();
    await server.close();
    expect(await client.closed).toBe('client closed the connection');
  });
});

describe('ttrpc over a port that outlives its host connections', () => {
  it('serves a new client that starts again at stream id 1 and abandons the calls of the previous one', async () => {
    const port = new SharedPort();
    const logger = new RecordingLogger();
    let waitCtx: CallContext | undefined;
    const server = new TtrpcServer({ logger }).register(
      TaskDefinition,
      unimplementedTask({
        state: async (request) => ({ id: request.id }),
        wait: async (_request, ctx) => {
          waitCtx = ctx;
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          return {};
        },
      }),
    );
    server.serveConnection(port.guestEnd);

    const first = new TtrpcClient(port.connect(), { logger });
    const before = first.service(TaskDefinition);
    expect((await before.state({ id: 'stream-1' })).id).toBe('stream-1');
    const cutOff = failure(before.wait({ id: 'stream-3' }));
    while (waitCtx === undefined) await sleep(1);
    first.close();
    expect((await cutOff).code).toBe(Code.Unavailable);
    expect(waitCtx.signal.aborted).toBe(false);

    const second = new TtrpcClient(port.connect(), { logger });
    const after = second.service(TaskDefinition);
    expect((await after.state({ id: 'again-1' })).id).toBe('again-1');
    expect((await after.state({ id: 'again-3' })).id).toBe('again-3');
    expect(waitCtx.signal.aborted).toBe(true);
    expect(waitCtx.signal.reason).toMatchObject({
      code: Code.Unavailable,
      message: 'ttrpc: a new client took over the connection',
    });
    expect(
      logger.lines.some((l) => l.level === 'warn' && l.message.includes('a new client took over the connection')),
    ).toBe(true);
    expect(logger.lines.filter((l) => l.level === 'warn' && l.message.includes('never opened'))).toEqual([]);
    second.close();
    await server.close();
  });
});
