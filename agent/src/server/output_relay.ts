/**
 * ReadStdout / ReadStderr: one reader per stream of a process, chunks sent in the order the
 * process wrote them, each send awaited so a slow host stops the agent reading the pipe (the
 * process then blocks on a full pipe instead of filling guest RAM). The stream ends at EOF.
 *
 * EOF normally comes with the process's exit, but a daemonized grandchild of an exec may keep
 * the pipe open forever: once the process has exited, its output gets DRAIN_AFTER_EXIT_MS to
 * reach EOF (containerd's runc shim gives exec I/O the same 2 s), then the stream is ended and
 * the agent's end of the pipe closed. WaitProcess does not wait for the streams: it answers at
 * the exit, and the shim completes an exit once its relays have ended (shim guest_process.ts).
 * A reader cut off by a lost connection leaves the rest of the output for the next reader.
 */
import type { Readable } from 'node:stream';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import type { ContainerProcess } from '../container/container_process';
import type { AgentLogger } from './logger';

export const DRAIN_AFTER_EXIT_MS = 2000;

export type OutputName = 'stdout' | 'stderr';

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

export class OutputRelays {
  private readonly reading = new Set<Readable>();

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
    if (this.reading.has(stream)) throw new TtrpcError(Code.FailedPrecondition, `${name} already has a reader`);
    this.reading.add(stream);
    const stop = new AbortController();
    const onCancel = (): void => stop.abort();
    cancelled.addEventListener('abort', onCancel);
    let drainTimer: NodeJS.Timeout | undefined;
    let finished = false;
    // A launcher lost without an exit report (wait rejects) is an exit too.
    const onExit = (): void => {
      if (!finished) drainTimer = setTimeout(() => stop.abort(), DRAIN_AFTER_EXIT_MS);
    };
    proc.wait().then(onExit, onExit);
    try {
      for (
        let chunk = await nextChunk(stream, stop.signal);
        chunk !== null;
        chunk = await nextChunk(stream, stop.signal)
      ) {
        await send(chunk);
      }
      if (stop.signal.aborted && !cancelled.aborted) {
        this.log.warn(
          { pid: proc.pid, stream: name },
          `output still open ${DRAIN_AFTER_EXIT_MS} ms after the exit: ended (a descendant holds it)`,
        );
        stream.destroy();
      }
    } finally {
      finished = true;
      clearTimeout(drainTimer);
      cancelled.removeEventListener('abort', onCancel);
      this.reading.delete(stream);
    }
  }
}
