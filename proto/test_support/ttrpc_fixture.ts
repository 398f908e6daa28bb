// Test fixtures for ttrpc: a server on a unix socket in a temp dir, a client connected to it, a
// logger that records instead of printing, a raw frame connection, an in-memory Duplex pair, and
// a port shared by successive host connections.

import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, PassThrough, Writable } from 'node:stream';
import { TaskDefinition } from '../gen/containerd/runtime/task/v2/shim';
import { TtrpcClient } from '../ttrpc/client';
import { Code } from '../ttrpc/codes';
import { TtrpcError } from '../ttrpc/errors';
import { encodeFrame, FrameDecoder, type FrameHeader, type MessageType } from '../ttrpc/framing';
import type { LogFields, TtrpcLogger } from '../ttrpc/logger';
import { TtrpcServer } from '../ttrpc/server';
import type { ServiceDefinition, ServiceImplementation } from '../ttrpc/service';

export interface LogLine {
  readonly level: 'debug' | 'warn' | 'error';
  readonly message: string;
  readonly fields: LogFields;
}

export class RecordingLogger implements TtrpcLogger {
  readonly lines: LogLine[] = [];
  debug(fields: LogFields, message: string): void {
    this.lines.push({ level: 'debug', message, fields });
  }
  warn(fields: LogFields, message: string): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  error(fields: LogFields, message: string): void {
    this.lines.push({ level: 'error', message, fields });
  }
}

export type TaskImplementation = ServiceImplementation<typeof TaskDefinition>;

/** A service whose every method answers Unimplemented, to be overridden per test. */
export function unimplemented<D extends ServiceDefinition>(
  definition: D,
  overrides: Partial<ServiceImplementation<D>>,
): ServiceImplementation<D> {
  const handlers: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(definition.methods)) {
    handlers[key] = () => Promise.reject(new TtrpcError(Code.Unimplemented, `${method.name} is not part of this test`));
  }
  return { ...(handlers as unknown as ServiceImplementation<D>), ...overrides };
}

/** A Task service whose every method answers Unimplemented, to be overridden per test. */
export function unimplementedTask(overrides: Partial<TaskImplementation>): TaskImplementation {
  return unimplemented(TaskDefinition, overrides);
}

export interface SocketFixture {
  readonly server: TtrpcServer;
  readonly socketPath: string;
  readonly logger: RecordingLogger;
  /** Clients made here are closed by `close`. */
  client(): Promise<TtrpcClient>;
  close(): Promise<void>;
}

export async function socketFixture(register: (server: TtrpcServer) => void): Promise<SocketFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'vfs-ttrpc-'));
  const socketPath = join(dir, 'ttrpc.sock');
  const logger = new RecordingLogger();
  const server = new TtrpcServer({ logger });
  register(server);
  await server.listen(socketPath);
  const clients: TtrpcClient[] = [];
  return {
    server,
    socketPath,
    logger,
    async client() {
      const client = await TtrpcClient.connect(socketPath, { logger });
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) {
        client.close();
      }
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ReceivedFrame {
  readonly header: FrameHeader;
  readonly payload: Buffer;
}

/** A connection that speaks frames directly, to send what a well-behaved client never would. */
export class RawConnection {
  private readonly received: ReceivedFrame[] = [];
  private waiting: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    const decoder = new FrameDecoder({
      frame: (header, payload) => this.arrive({ header, payload }),
      oversize: (header) => this.arrive({ header, payload: Buffer.alloc(0) }),
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  }

  static open(socketPath: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  send(streamId: number, type: MessageType, flags: number, payload: Uint8Array): void {
    this.socket.write(encodeFrame(streamId, type, flags, payload));
  }

  /** Writes bytes as they are, e.g. a header that announces an oversized payload. */
  sendBytes(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  async nextFrame(): Promise<ReceivedFrame> {
    while (this.received.length === 0) {
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
    return this.received.shift() as ReceivedFrame;
  }

  close(): void {
    this.socket.destroy();
  }

  private arrive(frame: ReceivedFrame): void {
    this.received.push(frame);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}

/** Two Duplex ends joined by in-memory pipes: what one writes, the other reads. */
export function duplexPair(): [Duplex, Duplex] {
  const aToB = new PassThrough();
  const bToA = new PassThrough();
  return [Duplex.from({ readable: bToA, writable: aToB }), Duplex.from({ readable: aToB, writable: bToA })];
}

/**
 * A virtio-serial port whose guest has not noticed that the host went away: the guest end never
 * ends, and what it writes goes to whichever host end is connected (nowhere in between).
 */
export class SharedPort {
  private readonly toGuest = new PassThrough();
  private readonly fromGuest = new PassThrough();
  private host: PassThrough | undefined;
  readonly guestEnd: Duplex = Duplex.from({ readable: this.toGuest, writable: this.fromGuest });

  constructor() {
    this.fromGuest.on('data', (chunk: Buffer) => {
      if (this.host !== undefined && !this.host.destroyed) this.host.write(chunk);
    });
  }

  /** A new host end; closing it leaves the guest end as it is. */
  connect(): Duplex {
    const toHost = new PassThrough();
    this.host = toHost;
    const fromHost = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.toGuest.write(chunk);
        done();
      },
    });
    return Duplex.from({ readable: toHost, writable: fromHost });
  }
}
