// The daemon's logger: JSON lines on stderr, written synchronously so nothing is lost when the
// process dies, and so worker threads (which never yield to an event loop) can log too.
import pino, { type Logger } from 'pino';
import type { LogLevel } from './cli';

export type { Logger };

export function createLogger(level: LogLevel, bindings: Record<string, string | number>): Logger {
  return pino(
    { level: level === 'off' ? 'silent' : level, base: { pid: process.pid, ...bindings } },
    pino.destination({ fd: 2, sync: true }),
  );
}
