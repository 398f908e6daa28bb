// A process's stdio from containerd's URIs, as streams for the runtime (ProcessIo):
// - a plain path: a FIFO that containerd (or ctr) created and opens its own end of, at a time of its
//   choosing. stdout/stderr are opened O_RDWR (never blocks, and a reader coming or going later
//   does not matter: runc's shim holds both ends for the same reason); stdin O_RDONLY|O_NONBLOCK,
//   whose poll reports no EOF until a writer has come and gone, so the end of containerd's writer
//   is the end of stdin. All I/O is through non-blocking sockets on the event loop.
//   A path that is not a FIFO is a regular file, appended to.
// - `binary:///path/to/logger?arg=value`: containerd's logging drivers (as its pkg/process/io.go
//   does it): the logger is spawned with args from the query (`arg value`), an environment of only
//   CONTAINER_ID and CONTAINER_NAMESPACE, the process's stdout on fd 3, stderr on fd 4, and fd 5,
//   which it closes (or writes a byte to) when it is ready. At the end it first gets EOF on both
//   streams and time to exit by itself, then SIGTERM, then SIGKILL.
// - `file:///path`: stdout and stderr appended to one file (0644; directories created, 0755).
// With a terminal there is one output stream (stdout); stderr is not opened.

import { spawn, type ChildProcess } from 'node:child_process';
import { constants, createWriteStream, mkdirSync, openSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { ShimLogger } from './logger';
import type { ProcessIo } from './sandbox_runtime';
import { Code, ShimError } from './shim_error';

export interface StdioRequest {
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly terminal: boolean;
}

export interface StdioOwner {
  readonly containerId: string;
  readonly namespace: string;
  readonly log: ShimLogger;
}

export interface OpenedStdio extends ProcessIo {
  /** CloseIO: ends the process's stdin even though containerd's writer is still open. */
  closeStdin(): void;
  /** Releases every descriptor and stops a logger binary; output already written is kept. */
  close(): void;
}

const LOGGER_READY_TIMEOUT_MS = 10_000;
/** After EOF a logger normally flushes and exits; SIGTERM only one that does not. */
const LOGGER_EXIT_GRACE_MS = 2_000;
const LOGGER_TERM_GRACE_MS = 10_000;
const OUTPUT_FLUSH_GRACE_MS = 2_000;

type Target =
  | { kind: 'none' }
  | { kind: 'path'; path: string }
  | { kind: 'binary'; url: URL }
  | { kind: 'file'; path: string };

function targetOf(uri: string): Target {
  if (uri === '') return { kind: 'none' };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'fifo')
    return { kind: 'path', path: scheme === undefined ? uri : new URL(uri).pathname };
  if (scheme === 'binary') return { kind: 'binary', url: new URL(uri) };
  if (scheme === 'file') return { kind: 'file', path: decodeURIComponent(new URL(uri).pathname) };
  throw new ShimError(
    Code.InvalidArgument,
    `unsupported stdio URI scheme "${scheme}" in ${uri} (expected a FIFO path, binary:// or file://)`,
  );
}

function isFifo(path: string): boolean {
  try {
    return statSync(path).isFIFO();
  } catch (err) {
    throw ShimError.wrap(err, `stdio ${path}`, Code.InvalidArgument);
  }
}

function fifoSocket(path: string, flags: number, readable: boolean): Socket {
  let fd: number;
  try {
    fd = openSync(path, flags | constants.O_NONBLOCK);
  } catch (err) {
    throw ShimError.wrap(err, `cannot open FIFO ${path}`, Code.InvalidArgument);
  }
  return new Socket({ fd, readable, writable: !readable });
}

/** stdout/stderr to a path: the FIFO socket, or an appended regular file. */
function outputToPath(path: string): Writable {
  if (isFifo(path)) return fifoSocket(path, constants.O_RDWR, false);
  return createWriteStream(path, { flags: 'a' });
}

/** One file, two writers: the file is closed when both have ended. */
function sharedFile(path: string, writers: number): Writable[] {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const file = createWriteStream(path, { flags: 'a', mode: 0o644 });
  let open = writers;
  return Array.from({ length: writers }, () => {
    const pass = new PassThrough();
    pass.pipe(file, { end: false });
    pass.on('end', () => {
      open -= 1;
      if (open === 0) file.end();
    });
    return pass;
  });
}

interface LoggerBinary {
  readonly child: ChildProcess;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

function loggerArgs(url: URL): string[] {
  const args: string[] = [];
  for (const key of new Set(url.searchParams.keys())) {
    args.push(key);
    const value = url.searchParams.get(key);
    if (value !== null && value !== '') args.push(value);
  }
  return args;
}

async function startLoggerBinary(url: URL, owner: StdioOwner): Promise<LoggerBinary> {
  const binary = decodeURIComponent(url.pathname);
  const child = spawn(binary, loggerArgs(url), {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    // containerd sets exactly these: nothing of the shim's own environment reaches the logger.
    env: { CONTAINER_ID: owner.containerId, CONTAINER_NAMESPACE: owner.namespace },
  });
  const ready = (child.stdio as readonly unknown[])[5] as Socket;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`did not close fd 5 within ${LOGGER_READY_TIMEOUT_MS} ms`)),
      LOGGER_READY_TIMEOUT_MS,
    );
    const settle = (err?: Error): void => {
      clearTimeout(timer);
      if (err === undefined) resolve();
      else reject(err);
    };
    child.once('error', settle);
    child.once('exit', (code, signal) => settle(new Error(`exited (${signal ?? code}) before it was ready`)));
    // Like containerd, a byte or EOF on fd 5 both mean ready.
    ready.once('data', () => settle());
    ready.once('close', () => settle());
    ready.resume();
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw ShimError.wrap(err, `logging binary ${binary}`, Code.InvalidArgument);
  });
  child.removeAllListeners('exit');
  ready.destroy();
  child.on('exit', (code, signal) => owner.log.debug({ binary, code, signal }, 'logging binary exited'));
  return { child, stdout: child.stdio[3] as Socket, stderr: child.stdio[4] as Socket };
}

/** Called once its streams are ended: time to exit on EOF, then SIGTERM so it can flush, then SIGKILL. */
function stopLoggerBinary(logger: LoggerBinary): void {
  const { child } = logger;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const term = setTimeout(() => child.kill('SIGTERM'), LOGGER_EXIT_GRACE_MS);
  const kill = setTimeout(() => child.kill('SIGKILL'), LOGGER_EXIT_GRACE_MS + LOGGER_TERM_GRACE_MS);
  for (const timer of [term, kill]) timer.unref();
  child.once('exit', () => {
    clearTimeout(term);
    clearTimeout(kill);
  });
}

interface Outputs {
  readonly stdout: Writable | undefined;
  readonly stderr: Writable | undefined;
  readonly logger: LoggerBinary | undefined;
}

async function openOutputs(request: StdioRequest, owner: StdioOwner): Promise<Outputs> {
  const out = targetOf(request.stdout);
  const wantsStderr = !request.terminal;
  if (out.kind === 'binary') {
    const logger = await startLoggerBinary(out.url, owner);
    return { stdout: logger.stdout, stderr: wantsStderr ? logger.stderr : undefined, logger };
  }
  if (out.kind === 'file') {
    const [stdout, stderr] = sharedFile(out.path, wantsStderr ? 2 : 1);
    return { stdout, stderr, logger: undefined };
  }
  const stdout = out.kind === 'path' ? outputToPath(out.path) : undefined;
  const err = wantsStderr ? targetOf(request.stderr) : ({ kind: 'none' } as const);
  if (err.kind !== 'path' && err.kind !== 'none') {
    throw new ShimError(
      Code.InvalidArgument,
      `stderr URI ${request.stderr}: ${err.kind}:// applies to stdout, stderr must be a path`,
    );
  }
  return { stdout, stderr: err.kind === 'path' ? outputToPath(err.path) : undefined, logger: undefined };
}

function openStdin(uri: string): { stream: PassThrough; source: Socket } | undefined {
  const target = targetOf(uri);
  if (target.kind === 'none') return undefined;
  if (target.kind !== 'path' || !isFifo(target.path)) {
    throw new ShimError(Code.InvalidArgument, `stdin ${uri} must be a FIFO`);
  }
  const source = fifoSocket(target.path, constants.O_RDONLY, true);
  const stream = new PassThrough();
  source.pipe(stream);
  return { stream, source };
}

function destroyAll(streams: readonly (Readable | Writable | undefined)[]): void {
  for (const stream of streams) stream?.destroy();
}

export async function openStdio(request: StdioRequest, owner: StdioOwner): Promise<OpenedStdio> {
  const stdin = openStdin(request.stdin);
  let outputs: Outputs;
  try {
    outputs = await openOutputs(request, owner);
  } catch (err) {
    destroyAll([stdin?.source, stdin?.stream]);
    throw err;
  }
  for (const stream of [stdin?.source, outputs.stdout, outputs.stderr]) {
    // containerd may go away (restart) while we copy: log it, the process keeps running.
    stream?.on('error', (err: Error) => owner.log.warn({ err: err.message }, 'stdio stream failed'));
  }
  return {
    terminal: request.terminal,
    stdin: stdin?.stream,
    stdout: outputs.stdout,
    stderr: outputs.stderr,
    closeStdin() {
      if (stdin === undefined) return;
      stdin.source.unpipe(stdin.stream);
      stdin.source.destroy();
      stdin.stream.end();
    },
    close() {
      destroyAll([stdin?.source, stdin?.stream]);
      for (const output of [outputs.stdout, outputs.stderr]) {
        if (output === undefined || output.destroyed) continue;
        output.end();
        // A FIFO nobody reads any more would keep the flush (and the fd) pending forever.
        setTimeout(() => output.destroy(), OUTPUT_FLUSH_GRACE_MS).unref();
      }
      if (outputs.logger !== undefined) stopLoggerBinary(outputs.logger);
    },
  };
}
