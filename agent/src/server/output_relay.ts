/**
 * ReadStdout / ReadStderr: one reader per stream of a process, chunks sent in the order the
 * process wrote them, each send awaited, and for a reader that reports what it passed on, at
 * most OUTPUT_WINDOW_BYTES sent ahead of it (OutputConsumed; contracts output_window.ts): a slow
 * host stops the agent reading the pipe, and the process then blocks on a full pipe instead of
 * filling guest RAM or the shim. The stream ends at EOF.
 *
 * EOF normally comes with the process's exit, but a daemonized grandchild of an exec may keep
 * the pipe open forever: DRAIN_AFTER_EXIT_MS after the exit (containerd's runc shim gives exec
 * I/O the same 2 s) the stream is ended and the agent's end of the pipe closed. Time spent
 * waiting for the host does not count, so a slow host loses nothing. WaitProcess does not wait
 * for the streams: it answers at the exit, and the shim completes an exit once its relays have
 * ended (shim guest_process.ts). A reader cut off by a lost connection leaves the rest of the
 * output for the next reader.
 */
import type { Readable } from 'node:stream';
import { OUTPUT_WINDOW_BYTES } from '@vfs/contracts';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import type { ContainerProcess } from '../container/container_process';
import type { AgentLogger } from './logger';

export const DRAIN_AFTER_EXIT_MS = 2000;

export type OutputName = 'stdout' | 'stderr';

/** With a terminal both outputs are the terminal's, on stdout: its stderr is undefined. */
function streamOf(proc: ContainerProcess, name: OutputName): Readable | undefined {
  return name === 'stdout' ? proc.io.stdout : proc.io.stderr;
}

/** Resolves at `signal`'s abort, or once `wait` calls its wake. */
function unlessAborted(wait: (wake: () => void) => void, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const wake = (): void => {
      signal.removeEventListener('abort', wake);
      resolve();
    };
    signal.addEventListener('abort', wake);
    wait(wake);
  });
}

/** The next chunk, or null at EOF or once `stop` is aborted. */
function nextChunk(stream: Readable, stop: AbortSignal): Promise<Buffer | null> {
  const ready = stream.read() as Buffer | null;
  if (ready !== null) return Promise.resolve(ready);
  if (stream.readableEnded || stream.destroyed || stop.aborted) return Promise.resolve(null);
  return new Promise((resolve) => {
    const finish = (chunk: Buffer | null): void => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stop.removeEventListener('abort', onEnd);
      resolve(chunk);
    };
    const onReadable = (): void => {
      const chunk = stream.read() as Buffer | null;
      if (chunk !== null) finish(chunk);
    };
    const onEnd = (): void => finish(null);
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stop.addEventListener('abort', onEnd);
  });
}

/** What the host has yet to report consumed of one stream. */
class OutputCredit {
  private unreported = 0;
  private wake: (() => void) | undefined;

  /** Counts a chunk sent; resolves once the host is within the window again, or at `stop`. */
  async spend(bytes: number, stop: AbortSignal): Promise<void> {
    this.unreported += bytes;
    while (this.unreported >= OUTPUT_WINDOW_BYTES && !stop.aborted) {
      await unlessAborted((wake) => {
        this.wake = wake;
      }, stop);
    }
    this.wake = undefined;
  }

  /** The host passed on `bytes`; more than was sent counts as all of it. */
  grant(bytes: number): void {
    this.unreported = Math.max(0, this.unreported - bytes);
    this.wake?.();
  }
}

/**
 * DRAIN_AFTER_EXIT_MS from the exit, for the whole stream, then `expire`: counted while the
 * relay reads or waits for output, not while it waits for the host (`pause`), so a slow host
 * loses nothing and a descendant that keeps writing is still cut off.
 */
class DrainAfterExit {
  expired = false;
  private exited = false;
  private paused = false;
  private remainingMs = DRAIN_AFTER_EXIT_MS;
  private since = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    proc: ContainerProcess,
    private readonly expire: () => void,
  ) {
    // A launcher lost without an exit report (wait rejects) is an exit too.
    const onExit = (): void => {
      this.exited = true;
      if (!this.paused) this.run();
    };
    proc.wait().then(onExit, onExit);
  }

  pause(): void {
    this.paused = true;
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remainingMs -= performance.now() - this.since;
  }

  resume(): void {
    this.paused = false;
    if (this.exited) this.run();
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  private run(): void {
    if (this.timer !== undefined || this.expired) return;
    this.since = performance.now();
    this.timer = setTimeout(
      () => {
        this.expired = true;
        this.expire();
      },
      Math.max(0, this.remainingMs),
    );
  }
}

export class OutputRelays {
  private readonly credits = new Map<Readable, OutputCredit>();

  constructor(private readonly log: AgentLogger) {}

  /** `flowControl`: the reader reports what it passed on (OutputConsumed). */
  async relay(
    proc: ContainerProcess,
    name: OutputName,
    send: (data: Buffer) => Promise<void>,
    opts: { readonly cancelled: AbortSignal; readonly flowControl: boolean },
  ): Promise<void> {
    const stream = streamOf(proc, name);
    // A terminal's stderr ends at once.
    if (stream === undefined) return;
    if (this.credits.has(stream)) throw new TtrpcError(Code.FailedPrecondition, `${name} already has a reader`);
    const credit = new OutputCredit();
    this.credits.set(stream, credit);
    // Ends the relay: the reader gone, the stream closed (its container removed), or the drain.
    const stop = new AbortController();
    const onStop = (): void => stop.abort();
    opts.cancelled.addEventListener('abort', onStop);
    stream.once('close', onStop);
    const drain = new DrainAfterExit(proc, onStop);
    const next = (): Promise<Buffer | null> =>
      stop.signal.aborted ? Promise.resolve(null) : nextChunk(stream, stop.signal);
    try {
      for (let chunk = await next(); chunk !== null; chunk = await next()) {
        drain.pause();
        await send(chunk);
        if (opts.flowControl) await credit.spend(chunk.length, stop.signal);
        drain.resume();
      }
      if (drain.expired && !opts.cancelled.aborted) {
        this.log.warn(
          { pid: proc.pid, stream: name },
          `output still open ${DRAIN_AFTER_EXIT_MS} ms after the exit: ended (a descendant holds it)`,
        );
        stream.destroy();
      }
    } finally {
      drain.dispose();
      opts.cancelled.removeEventListener('abort', onStop);
      stream.off('close', onStop);
      this.credits.delete(stream);
    }
  }

  /** OutputConsumed: credit for the stream's reader; none reading, nothing to credit. */
  consumed(proc: ContainerProcess, name: OutputName, bytes: number): void {
    const stream = streamOf(proc, name);
    if (stream !== undefined) this.credits.get(stream)?.grant(bytes);
  }
}
