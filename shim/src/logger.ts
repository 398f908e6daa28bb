// The shim's logs: pino JSON lines into the bundle's `log` FIFO, which containerd copies into its
// own log (ARCHITECTURE.md, 'containerd and the shim'). The FIFO is opened O_RDWR: that never
// blocks, even before containerd's reader is there, and survives containerd restarts. The socket
// over it is non-blocking; while containerd is not reading, lines beyond a bounded backlog are
// dropped rather than kept in memory or allowed to stall the event loop. Every line carries the
// sandbox and container ids.

import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';

export type ShimLogger = pino.Logger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

const MAX_BACKLOG_BYTES = 1 << 20;

class BoundedFifoWriter extends Writable {
  private dropped = 0;

  constructor(private readonly socket: Socket) {
    super();
    // A reader that went away is not our failure: logs are best effort, the shim goes on.
    socket.on('error', () => socket.destroy());
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.socket.destroyed || this.socket.writableLength > MAX_BACKLOG_BYTES) {
      this.dropped += 1;
    } else {
      if (this.dropped > 0) {
        this.socket.write(
          `${JSON.stringify({ level: 40, msg: `${this.dropped} log lines dropped while containerd was not reading` })}\n`,
        );
        this.dropped = 0;
      }
      this.socket.write(chunk);
    }
    done();
  }
}

export interface LoggerTarget {
  readonly level: LogLevel;
  readonly sandboxId: string;
}

/**
 * The root logger binds only the sandbox: pino does not merge repeated keys, so the container id
 * is bound once, by containerLogger, on every logger that writes lines.
 */
function baseOptions(target: LoggerTarget): pino.LoggerOptions {
  return {
    level: target.level,
    base: { pid: process.pid, sandbox: target.sandboxId },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

/** The root logger on the bundle's `log` FIFO; write through containerLogger children. */
export function fifoLogger(fifoPath: string, target: LoggerTarget): ShimLogger {
  const fd = openSync(fifoPath, constants.O_RDWR | constants.O_NONBLOCK);
  const socket = new Socket({ fd, readable: false, writable: true });
  return pino(baseOptions(target), new BoundedFifoWriter(socket));
}

/** A root logger on stderr: for the short-lived `delete`, whose stdout is its answer. */
export function stderrLogger(target: LoggerTarget): ShimLogger {
  return pino(baseOptions(target), pino.destination({ fd: 2, sync: true }));
}

export function containerLogger(log: ShimLogger, containerId: string): ShimLogger {
  return log.child({ container: containerId });
}
