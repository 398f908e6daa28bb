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

function stderrDestination(fd = 2): pino.DestinationStream {
  return pino.destination({ fd, sync: true });
}

export function createLogger(level: LogLevel, bindings: Record<string, string | number>): Logger {
  return pino(loggerOptions(level, bindings), stderrDestination());
}

/** Where the daemon's log goes besides its level and bindings; the defaults are the real ones. */
export interface DaemonLogOptions {
  /** --syslog */
  readonly syslog: boolean;
  readonly syslogSocket?: string;
  readonly stderrFd?: number;
}

/** The daemon's own logger: to the system log with --syslog, if it can be reached, else to stderr. */
export function createDaemonLog(
  level: LogLevel,
  bindings: Record<string, string | number>,
  { syslog, syslogSocket = SYSLOG_SOCKET, stderrFd = 2 }: DaemonLogOptions,
): DaemonLog {
  const stderr = stderrDestination(stderrFd);
  if (!syslog) return { log: pino(loggerOptions(level, bindings), stderr) };
  const destination = openSyslog((line) => stderr.write(line), syslogSocket);
  if (destination instanceof SysError) {
    return { log: pino(loggerOptions(level, bindings), stderr), syslogUnreachable: destination };
  }
  const log = pino(loggerOptions(level, bindings), destination);
  // At error: whatever the level, the operator learns where the log went.
  destination.onGone = (error) =>
    log.error(
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
