/**
 * The agent's reads and writes on a pty master, which must neither lose the terminal's last
 * output nor stop the agent's event loop.
 *
 * - Reading goes through a libuv tty stream, which ends at POLLHUP after a short read without
 *   reading again. A pty master polls HUP as soon as the last slave descriptor closes, while the
 *   slave's final writes may still sit in the tty's flip buffer, which a kernel work item moves
 *   to the master; a read(2) waits for that work. So libuv's end is followed here by reads until
 *   the master's own EOF, EIO: without them a process writing up to its exit lost kilobytes.
 * - Writing does not use that stream: libuv cannot reopen a master as it reopens a slave, so it
 *   writes a read-write master in blocking mode, and a terminal whose program reads nothing in
 *   raw mode (its input queue full) held the whole agent in write(2). The master is
 *   non-blocking; a write that finds no room is retried on a timer.
 */
import { readSync, writeSync } from 'node:fs';
import type { PassThrough } from 'node:stream';
import { Writable } from 'node:stream';
import { ContainerError, type ContainerErrorContext } from './errors';

/** What a drain reads past libuv's end at most: a pty holds ≈ 12 KiB, so more is a live writer. */
const DRAIN_LIMIT = 1 << 20;
const DRAIN_CHUNK = 64 * 1024;
/** A pty takes ≈ 12 KiB at a time: a program reading it is written again at once. */
const RETRY_FIRST_MS = 1;
/** One that stopped reading is tried less often. */
const RETRY_MAX_MS = 100;

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * Reads what the slave wrote before it closed, up to EIO (every slave closed, nothing left).
 * EAGAIN means a process opened the slave again; libuv has stopped reading, so its output ends.
 */
export function drainMaster(fd: number, output: PassThrough): void {
  const buf = Buffer.allocUnsafe(DRAIN_CHUNK);
  for (let total = 0; total < DRAIN_LIMIT; ) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EIO' || code === 'EAGAIN') return;
      throw err;
    }
    if (n === 0) return;
    output.write(Buffer.from(buf.subarray(0, n)));
    total += n;
  }
}

interface PendingWrite {
  readonly done: (err?: Error | null) => void;
  timer: NodeJS.Timeout;
}

/** Bytes typed into the terminal: non-blocking writes on the master, retried while it is full. */
export class MasterInput extends Writable {
  private pending: PendingWrite | undefined;

  /** `isOpen` says whether `fd` is still the master: the read stream owns and closes it. */
  constructor(
    private readonly fd: number,
    private readonly isOpen: () => boolean,
    private readonly context: ContainerErrorContext,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.writeFrom(chunk, 0, RETRY_FIRST_MS, done);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      pending.done(this.closedError());
    }
    callback(err);
  }

  private closedError(): ContainerError {
    return new ContainerError('BAD_STATE', 'the terminal was closed', this.context);
  }

  private writeFrom(chunk: Buffer, offset: number, delayMs: number, done: (err?: Error | null) => void): void {
    this.pending = undefined;
    if (!this.isOpen()) {
      done(this.closedError());
      return;
    }
    let at = offset;
    try {
      while (at < chunk.length) at += writeSync(this.fd, chunk, at);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'EAGAIN') {
        // EIO: no process holds the terminal any more, as EPIPE is for a pipe.
        done(code === 'EIO' ? this.closedError() : (err as Error));
        return;
      }
      const next = at > offset ? RETRY_FIRST_MS : Math.min(delayMs * 2, RETRY_MAX_MS);
      this.pending = { done, timer: setTimeout(() => this.writeFrom(chunk, at, next, done), next) };
      return;
    }
    done();
  }
}
