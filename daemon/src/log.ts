// The daemon's logger: JSON lines on stderr, written synchronously so nothing is lost when the
// process dies, and so worker threads (which never yield to an event loop) can log too; with
// --syslog, the same lines to the system log (syslog.ts).
import pino, { type Logger } from 'pino';
import { errorMessage } from '@vfs/contracts';
import type { LogLevel } from './cli';
import { SysError } from './sys/libc';
import { openSyslog, SYSLOG_SOCKET } from './syslog';

export type { Logger };

/** The logger, and why the system log was not reached when --syslog asked for it (then stderr). */
export interface DaemonLog {
  readonly log: Logger;
  readonly syslogUnreachable?: SysError;
}

function loggerOptions(level: LogLevel, bindings: Record<string, string | number>): pino.LoggerOptions {
  return { level: level === 'off' ? 'silent' : level, base: { pid: process.pid, ...bindings } };
}

export function createLogger(level: LogLevel, bindings: Record<string, string | number>): Logger {
  return pino(loggerOptions(level, bindings), pino.destination({ fd: 2, sync: true }));
}

/** The daemon's own logger: to the system log with --syslog, if it can be reached, else to stderr. */
export function createDaemonLog(
  level: LogLevel,
  bindings: Record<string, string | number>,
  syslog: boolean,
): DaemonLog {
  if (!syslog) return { log: createLogger(level, bindings) };
  const destination = openSyslog();
  if (destination instanceof SysError) return { log: createLogger(level, bindings), syslogUnreachable: destination };
  const log = pino(loggerOptions(level, bindings), destination);
  destination.onGone = (error) =>
    log.warn(
      { error: errorMessage(error) },
      'the system log went away (a confined daemon cannot reconnect): logging to stderr from now on',
    );
  return { log };
}

/** Said by the daemon that serves, not by the one that re-executes itself into its namespaces. */
export function warnSyslogUnreachable({ log, syslogUnreachable }: DaemonLog): void {
  if (syslogUnreachable === undefined) return;
  log.warn(
    { error: errorMessage(syslogUnreachable) },
    `--syslog: no system log at ${SYSLOG_SOCKET}: logging to stderr`,
  );
}
