// Copies a guest process's stdio between the agent and containerd's streams (ProcessIo).
// Output: the agent's ReadStdout/ReadStderr server stream, chunk by chunk in order, into the
// frame's writable, waiting for 'drain'; what has been passed on is reported to the agent every
// OUTPUT_ACK_BYTES (OutputConsumed), which sends no more than a window ahead of it, so a slow
// reader throttles the process instead of growing the shim (contracts output_window.ts). The
// writable is ended at the stream's end, also when the stream failed (VM gone), so containerd
// sees EOF. Input: each chunk of the frame's stdin becomes one WriteStdin call, answered once
// the bytes are in the process's pipe; the stdin's end becomes CloseStdin.

import type { Readable, Writable } from 'node:stream';
import { errorMessage, OUTPUT_ACK_BYTES } from '@vfs/contracts';
import type { ReadStreamResponse } from '@vfs/proto/gen/agent/agent';
import type { ShimLogger } from '../logger';

/** Largest WriteStdin payload: well under ttrpc's 4 MiB message limit. */
const STDIN_CHUNK_MAX = 1 << 20;

function writable(sink: Writable): boolean {
  return !sink.destroyed && !sink.writableEnded;
}

/** Resolves when the sink can take more, or is gone (then writing stops). */
function drained(sink: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      sink.off('drain', done);
      sink.off('close', done);
      sink.off('error', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('close', done);
    sink.on('error', done);
  });
}

/** Resolves once everything written has been flushed (or the sink was destroyed). */
function finished(sink: Writable): Promise<void> {
  if (sink.writableFinished || sink.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    sink.once('finish', () => resolve());
    sink.once('close', () => resolve());
  });
}

/** Tells the agent how much more of the stream was passed on; must not throw. */
export type ReportConsumed = (bytes: number) => void;

/**
 * Relays one output stream; never rejects. Without a sink the stream is still read, so the
 * process never blocks on a full pipe nobody reads.
 */
export async function relayOutput(
  source: AsyncIterable<ReadStreamResponse>,
  sink: Writable | undefined,
  log: ShimLogger,
  what: string,
  reportConsumed: ReportConsumed,
): Promise<void> {
  let unreported = 0;
  try {
    for await (const chunk of source) {
      if (sink !== undefined && writable(sink) && chunk.data.length > 0 && !sink.write(chunk.data)) await drained(sink);
      unreported += chunk.data.length;
      if (unreported >= OUTPUT_ACK_BYTES) {
        reportConsumed(unreported);
        unreported = 0;
      }
    }
  } catch (err) {
    log.warn({ stream: what, err: errorMessage(err) }, 'output stream from the guest ended with an error');
  }
  if (sink === undefined) return;
  if (writable(sink)) sink.end();
  await finished(sink);
}

export interface StdinTarget {
  /** Returns the number of bytes the process accepted (fewer: it closed its stdin). */
  write(data: Buffer): Promise<number>;
  close(): Promise<void>;
}

function* slices(chunk: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < chunk.length; offset += STDIN_CHUNK_MAX)
    yield chunk.subarray(offset, offset + STDIN_CHUNK_MAX);
}

/** Copies stdin until it ends or the process stops taking it; never rejects. */
export async function relayStdin(source: Readable, target: StdinTarget, log: ShimLogger): Promise<void> {
  try {
    for await (const chunk of source) {
      for (const data of slices(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string))) {
        const accepted = await target.write(data);
        if (accepted < data.length) {
          log.debug({ accepted, offered: data.length }, 'the process closed its stdin');
          source.destroy();
          return;
        }
      }
    }
    await target.close();
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'stdin relay to the guest failed');
  }
}
