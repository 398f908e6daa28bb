/**
 * ReadStdout / ReadStderr: one reader per stream of a process, chunks sent in the order the
 * process wrote them, each send awaited, and at most OUTPUT_WINDOW_BYTES sent ahead of what the
 * host reported consumed (OutputConsumed; contracts output_window.ts): a slow host stops the
 * agent reading the pipe, and the process then blocks on a full pipe instead of filling guest
 * RAM or the shim. The stream ends at EOF.
 *
 * EOF normally comes with the process's exit, but a daemonized grandchild of an exec may keep
 * the pipe open forever: once the process has exited, a wait for more output that lasts
 * DRAIN_AFTER_EXIT_MS (containerd's runc shim gives exec I/O the same 2 s) ends the stream, and
 * the agent's end of the pipe is closed. Only waiting for output counts, not waiting for the
 * host, so a slow host loses nothing. WaitProcess does not wait for the streams: it answers at
 * the exit, and the shim completes an exit once its relays have ended (shim guest_process.ts).
 * A reader cut off by a lost connection leaves the rest of the output for the next reader.
 */
import type { Readable } from 'node:stream';
import { OUTPUT_WINDOW_BYTES } from '@vfs/contracts';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import type { ContainerProcess } from '../container/container_process';
import type { AgentLogger } from './logger';

export const DRAIN_AFTER_EXIT_MS = 2000;

export type OutputName = 'stdout' | 'stderr';

/** Resolves at `signal`'s abort, or with `wait`. */
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

  /** Counts a chunk sent; resolves once the host is within the window again (or gone). */
  async spend(bytes: number, cancelled: AbortSignal): Promise<void> {
    this.unreported += bytes;
    while (this.unreported >= OUTPUT_WINDOW_BYTES && !cancelled.aborted) {
      await unlessAborted((wake) => {
        this.wake = wake;
      }, cancelled);
    }
    this.wake = undefined;
  }

  /** The host passed on `bytes`; more than was sent counts as all of it. */
  grant(bytes: number): void {
    this.unreported = Math.max(0, this.unreported - bytes);
    this.wake?.();
  }
}

/** Ends a wait for output that lasts DRAIN_AFTER_EXIT_MS once the process has exited. */
class DrainAfterExit {
  expired = false;
  private exited = false;
  private waiting: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(proc: ContainerProcess) {
    // A launcher lost without an exit report (wait rejects) is an exit too.
    const onExit = (): void => {
      this.exited = true;
      this.arm();
    };
    proc.wait().then(onExit, onExit);
  }

  /** The signal of one wait for output, with the caller's cancellation in it. */
  begin(cancelled: AbortSignal): AbortSignal {
    this.waiting = new AbortController();
    this.arm();
    return AbortSignal.any([this.waiting.signal, cancelled]);
  }

  end(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting = undefined;
  }

  private arm(): void {
    const waiting = this.waiting;
    if (!this.exited || waiting === undefined || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.expired = true;
      waiting.abort();
    }, DRAIN_AFTER_EXIT_MS);
  }
}

export class OutputRelays {
  private readonly credits = new Map<Readable, OutputCredit>();

  constructor(private readonly log: AgentLogger) {}

  async relay(
    proc: ContainerProcess,
    name: OutputName,
    send: (data: Buffer) => Promise<void>,
    cancelled: AbortSignal,
  ): Promise<void> {
    const stream = name === 'stdout' ? proc.io.stdout : proc.io.stderr;
    // With a terminal both outputs are the terminal's, on stdout: stderr ends at once.
    if (stream === undefined) return;
    if (this.credits.has(stream)) throw new TtrpcError(Code.FailedPrecondition, `${name} already has a reader`);
    const credit = new OutputCredit();
    this.credits.set(stream, credit);
    const drain = new DrainAfterExit(proc);
    const next = async (): Promise<Buffer | null> => {
      const ready = stream.read() as Buffer | null;
      if (ready !== null) return ready;
      try {
        return await nextChunk(stream, drain.begin(cancelled));
      } finally {
        drain.end();
      }
    };
    try {
      for (let chunk = await next(); chunk !== null; chunk = await next()) {
        await send(chunk);
        await credit.spend(chunk.length, cancelled);
      }
      if (drain.expired && !cancelled.aborted) {
        this.log.warn(
          { pid: proc.pid, stream: name },
          `output still open ${DRAIN_AFTER_EXIT_MS} ms after the exit: ended (a descendant holds it)`,
        );
        stream.destroy();
      }
    } finally {
      drain.end();
      this.credits.delete(stream);
    }
  }

  /** OutputConsumed: credit for the stream's reader; none reading, nothing to credit. */
  consumed(proc: ContainerProcess, name: OutputName, bytes: number): void {
    const stream = name === 'stdout' ? proc.io.stdout : proc.io.stderr;
    if (stream !== undefined) this.credits.get(stream)?.grant(bytes);
  }
}
