// --syslog, as virtiofsd has it (Kata starts its virtiofsd with it): each log line goes to the
// system log as one datagram on /dev/log, in the form glibc's syslog(3) sends locally,
// `<PRI>Mmm dd hh:mm:ss vfs-virtiofsd[PID]: MESSAGE`, where MESSAGE is the pino JSON line (every
// field kept), the facility daemon's (the C virtiofsd's) and the severity pino's level. The socket
// is connected at start, before the sandbox takes /dev/log out of reach; a /dev/log that is not a
// datagram socket (EPROTOTYPE) is refused like a missing one. A line the system log does not take
// goes to stderr instead, so nothing is lost: when it is full (EAGAIN), the line too long for a
// datagram (EMSGSIZE) or the kernel short of buffers, that line; once the log is gone (its daemon
// restarted, which a confined daemon cannot reconnect to), every line from then on.
import { constants } from 'node:os';
import { tryClose, writeNonBlocking } from './sys/fd';
import { SysError } from './sys/libc';
import { connectUnixDatagram } from './sys/socket';

export const SYSLOG_SOCKET = '/dev/log';
const IDENT = 'vfs-virtiofsd';
const LOG_DAEMON = 3 << 3;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** What a send answers once nobody reads /dev/log any more. */
const LOG_GONE = new Set([constants.errno.ECONNREFUSED, constants.errno.ENOTCONN, constants.errno.EPIPE]);

/** syslog(3)'s severity for a pino level: fatal crit, error err, warn warning, info info, below debug. */
export function severityOf(pinoLevel: number): number {
  if (pinoLevel >= 60) return 2;
  if (pinoLevel >= 50) return 3;
  if (pinoLevel >= 40) return 4;
  if (pinoLevel >= 30) return 6;
  return 7;
}

/** pino's line begins `{"level":N,`; a line that does not is logged as info. */
function pinoLevelOf(line: string): number {
  const prefix = '{"level":';
  return line.startsWith(prefix) ? Number.parseInt(line.slice(prefix.length, prefix.length + 3), 10) || 30 : 30;
}

function twoDigits(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** RFC 3164's timestamp in local time, as glibc writes it: `Dec  7 09:05:01`. */
function timestamp(at: Date): string {
  const day = at.getDate();
  const time = `${twoDigits(at.getHours())}:${twoDigits(at.getMinutes())}:${twoDigits(at.getSeconds())}`;
  return `${MONTHS[at.getMonth()]} ${day < 10 ? ` ${day}` : day} ${time}`;
}

/** The datagram for one pino line (its newline dropped). */
export function syslogMessage(line: string, at: Date, pid: number): string {
  const text = line.endsWith('\n') ? line.slice(0, -1) : line;
  const priority = LOG_DAEMON | severityOf(pinoLevelOf(text));
  return `<${priority}>${timestamp(at)} ${IDENT}[${pid}]: ${text}`;
}

/** A pino destination writing to the system log, falling back to stderr line by line. */
export class SyslogDestination {
  /** Called once, before the line that found it gone, when every later line goes to stderr. */
  onGone: (error: SysError) => void = () => undefined;

  constructor(
    private fd: number | undefined,
    /** Where a line goes that the system log did not take (pino's stderr destination). */
    private readonly fallback: (line: string) => void,
  ) {}

  write(line: string): void {
    if (this.fd === undefined) return this.fallback(line);
    let sent: number;
    try {
      sent = writeNonBlocking(this.fd, Buffer.from(syslogMessage(line, new Date(), process.pid)));
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      if (LOG_GONE.has(err.errno)) this.gone(err);
      return this.fallback(line);
    }
    if (sent < 0) this.fallback(line);
  }

  private gone(error: SysError): void {
    const fd = this.fd as number;
    this.fd = undefined;
    // Nothing more can be done with a socket whose reader left; its close cannot fail otherwise.
    tryClose(fd);
    this.onGone(error);
  }
}

/**
 * The system log's destination, or the SysError that says why /dev/log cannot be reached. Local
 * time is looked up here, while /etc/localtime can still be read: V8 reads the zone the first time
 * it needs it, which inside the sandbox would be never, and every timestamp UTC.
 */
export function openSyslog(
  fallback: (line: string) => void,
  path: string = SYSLOG_SOCKET,
): SyslogDestination | SysError {
  new Date().getTimezoneOffset();
  try {
    return new SyslogDestination(connectUnixDatagram(path), fallback);
  } catch (err) {
    if (err instanceof SysError) return err;
    throw err;
  }
}
