/**
 * A QMP client: one connection to QEMU's monitor socket (`-mon chardev=…,mode=control`), kept
 * open for the VM's life. The protocol is newline-delimited JSON: QEMU greets with {"QMP": …},
 * commands are refused until `qmp_capabilities`, each command gets a {"return"} or an
 * {"error": {class, desc}} carrying the command's id, and asynchronous {"event"} messages
 * (SHUTDOWN, STOP, RESUME, DEVICE_DELETED, …) arrive in between. QEMU only closes the socket
 * when it exits, so a close means QEMU is gone.
 */
import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '@vfs/contracts';

export type JsonObject = { readonly [key: string]: unknown };

export interface QmpEvent {
  readonly event: string;
  readonly data: JsonObject;
  readonly timestamp: { readonly seconds: number; readonly microseconds: number };
}

export interface QmpGreeting {
  readonly version: {
    readonly qemu: { readonly major: number; readonly minor: number; readonly micro: number };
    readonly package: string;
  };
  readonly capabilities: readonly string[];
}

/** query-status: `prelaunch` before the guest first runs (-S), `running`, `paused`, `shutdown`, … */
export interface QmpStatus {
  readonly status: string;
  readonly running: boolean;
}

/** A command QEMU refused: its error class (GenericError, CommandNotFound, DeviceNotFound, …) and text. */
export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
    this.name = 'QmpError';
  }
}

export interface QmpConnectOptions {
  /** How long to keep retrying while QEMU has not created the socket yet, and to wait for the greeting. */
  readonly timeoutMs?: number;
  /** Stops the retries early, e.g. when the QEMU process already exited. */
  readonly signal?: AbortSignal;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const RETRY_INTERVAL_MS = 20;
/** Errors meaning "QEMU has not listened yet": the socket file is missing or not accepting. */
const NOT_YET = new Set(['ENOENT', 'ECONNREFUSED']);
/** How an exiting QEMU may end the connection besides a plain close. */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE']);

interface Pending {
  readonly command: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

type EventListener = (event: QmpEvent) => void;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class QmpClient {
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<EventListener>();
  private readonly decoder: StringDecoder;
  private buffer: string;
  private nextId = 1;
  private closeReason: string | undefined;
  private resolveClosed!: (reason: string) => void;
  readonly greeting: QmpGreeting;
  /** Resolves with why the connection ended; QEMU exiting is the usual reason. */
  readonly closed: Promise<string> = new Promise((resolve) => (this.resolveClosed = resolve));

  private constructor(
    private readonly socket: Socket,
    private readonly socketPath: string,
    start: GreetingRead,
  ) {
    this.greeting = start.greeting;
    this.decoder = start.decoder;
    this.buffer = start.rest;
    socket.on('data', (chunk: Buffer) => this.receive(this.decoder.write(chunk)));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.finish(
        PEER_GONE.has(err.code ?? '')
          ? `QMP socket ${socketPath} closed by QEMU (${err.code})`
          : `QMP socket ${socketPath} failed: ${err.message}`,
      ),
    );
    socket.on('close', () => this.finish(`QMP socket ${socketPath} closed by QEMU`));
    socket.resume();
    this.receive('');
  }

  /** Connects (retrying while QEMU starts), reads the greeting and negotiates capabilities. */
  static async connect(socketPath: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const socket = await dialWithRetry(socketPath, deadline, options.signal);
    try {
      const client = new QmpClient(socket, socketPath, await readGreeting(socket, socketPath, deadline));
      await beforeDeadline(
        client.execute('qmp_capabilities'),
        deadline,
        `QMP ${socketPath}: no answer to qmp_capabilities in time`,
      );
      return client;
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  get isClosed(): boolean {
    return this.closeReason !== undefined;
  }

  /** Sends one command; resolves with its `return`, rejects with a QmpError or when the connection ends. */
  execute<T = unknown>(command: string, args?: JsonObject): Promise<T> {
    if (this.closeReason !== undefined) return Promise.reject(new Error(`QMP ${command}: ${this.closeReason}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: (value) => resolve(value as T), reject });
      this.socket.write(
        `${JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id })}\n`,
      );
    });
  }

  async queryStatus(): Promise<QmpStatus> {
    const reply = await this.execute<unknown>('query-status');
    if (!isObject(reply) || typeof reply.status !== 'string' || typeof reply.running !== 'boolean') {
      throw new Error(`QMP query-status: unexpected reply ${JSON.stringify(reply)}`);
    }
    return { status: reply.status, running: reply.running };
  }

  /** Asks QEMU to exit; resolves once it closed the connection (its answer may be lost in the close). */
  async quit(): Promise<void> {
    await this.execute('quit').catch((err: unknown) => {
      if (err instanceof QmpError) throw err;
    });
    await this.closed;
  }

  /** Calls `listener` for every event until the returned function is called. */
  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The first event named `name` that `matches` (DEVICE_DELETED comes once without `device`, once with it). */
  waitForEvent(
    name: string,
    matches: (event: QmpEvent) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const stop = (): void => {
        clearTimeout(timer);
        unsubscribe();
      };
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`QMP: no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const unsubscribe = this.onEvent((event) => {
        if (event.event !== name || !matches(event)) return;
        stop();
        resolve(event);
      });
      void this.closed.then((reason) => {
        stop();
        reject(new Error(`QMP: waiting for ${name}: ${reason}`));
      });
    });
  }

  /** Closes our end; pending commands fail. */
  close(): void {
    this.finish(`QMP connection to ${this.socketPath} closed by the shim`);
    this.socket.destroy();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (let newline = this.buffer.indexOf('\n'); newline >= 0; newline = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line !== '') this.dispatch(line);
    }
  }

  private dispatch(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (err) {
      this.fail(`QMP: unparsable message from QEMU (${errorMessage(err)}): ${line.slice(0, 200)}`);
      return;
    }
    if (!isObject(message)) return this.fail(`QMP: unexpected message ${line.slice(0, 200)}`);
    if (typeof message.event === 'string') return this.emit(message);
    if ('return' in message || 'error' in message) return this.answer(message);
    this.fail(`QMP: unexpected message ${line.slice(0, 200)}`);
  }

  private emit(message: JsonObject): void {
    const timestamp = isObject(message.timestamp) ? message.timestamp : {};
    const event: QmpEvent = {
      event: message.event as string,
      data: isObject(message.data) ? message.data : {},
      timestamp: { seconds: Number(timestamp.seconds ?? 0), microseconds: Number(timestamp.microseconds ?? 0) },
    };
    for (const listener of [...this.listeners]) listener(event);
  }

  /** Answers carry our id; one without (QEMU could not parse the request) answers the oldest, as QMP replies in order. */
  private answer(message: JsonObject): void {
    const id = typeof message.id === 'number' ? message.id : this.pending.keys().next().value;
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (id === undefined || pending === undefined)
      return this.fail(`QMP: answer for no pending command: ${JSON.stringify(message).slice(0, 200)}`);
    this.pending.delete(id);
    if ('return' in message) return pending.resolve(message.return);
    const error = isObject(message.error) ? message.error : {};
    pending.reject(
      new QmpError(
        pending.command,
        String(error.class ?? 'unknown'),
        String(error.desc ?? JSON.stringify(message.error)),
      ),
    );
  }

  /** A protocol violation ends the connection: the stream can no longer be trusted. */
  private fail(reason: string): void {
    this.finish(reason);
    this.socket.destroy();
  }

  private finish(reason: string): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    for (const pending of this.pending.values()) pending.reject(new Error(`QMP ${pending.command}: ${reason}`));
    this.pending.clear();
    this.resolveClosed(reason);
  }
}

function dial(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

async function dialWithRetry(path: string, deadline: number, signal: AbortSignal | undefined): Promise<Socket> {
  for (;;) {
    try {
      return await dial(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (!NOT_YET.has(code)) throw new Error(`QMP: cannot connect to ${path}: ${errorMessage(err)}`);
      if (signal?.aborted === true) throw new Error(`QMP: gave up connecting to ${path}: ${String(signal.reason)}`);
      if (Date.now() >= deadline) throw new Error(`QMP: ${path} did not accept a connection in time (${code})`);
      await sleep(RETRY_INTERVAL_MS);
    }
  }
}

async function beforeDeadline<T>(promise: Promise<T>, deadline: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(message)), Math.max(0, deadline - Date.now()))),
  );
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface GreetingRead {
  readonly greeting: QmpGreeting;
  /** Text that arrived after the greeting line, and the decoder holding any split UTF-8 sequence. */
  readonly rest: string;
  readonly decoder: StringDecoder;
}

/**
 * The first line QEMU sends. The socket is left paused, so nothing after the greeting is lost
 * before the client's own listener takes over; `rest` is what already came with it.
 */
function readGreeting(socket: Socket, path: string, deadline: number): Promise<GreetingRead> {
  const decoder = new StringDecoder('utf8');
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (err: Error | undefined, greeting?: QmpGreeting): void => {
      clearTimeout(timer);
      socket.pause();
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      socket.removeListener('error', onError);
      if (err === undefined && greeting !== undefined)
        resolve({ greeting, rest: text.slice(text.indexOf('\n') + 1), decoder });
      else reject(err ?? new Error(`QMP ${path}: no greeting`));
    };
    const onData = (chunk: Buffer): void => {
      text += decoder.write(chunk);
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      const line = text.slice(0, newline);
      try {
        const message: unknown = JSON.parse(line);
        if (!isObject(message) || !isObject(message.QMP)) throw new Error('not a QMP greeting');
        done(undefined, message.QMP as unknown as QmpGreeting);
      } catch (err) {
        done(new Error(`QMP ${path}: bad greeting (${errorMessage(err)}): ${line.slice(0, 200)}`));
      }
    };
    const onClose = (): void =>
      done(new Error(`QMP ${path}: closed before the greeting (another client connected, or QEMU exited)`));
    const onError = (err: Error): void => done(new Error(`QMP ${path}: ${err.message}`));
    const timer = setTimeout(
      () => done(new Error(`QMP ${path}: no greeting in time`)),
      Math.max(0, deadline - Date.now()),
    );
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
  });
}
