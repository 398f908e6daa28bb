// --syslog, as virtiofsd has it (Kata starts its virtiofsd with it): each log line goes to the
// system log as one datagram on /dev/log, in the form glibc's syslog(3) sends locally,
// `<PRI>Mmm dd hh:mm:ss vfs-virtiofsd[PID]: MESSAGE`, where MESSAGE is the pino JSON line (every
// field kept), the facility daemon's (the C virtiofsd's) and the severity pino's level. The socket
// is connected at start, before the sandbox takes /dev/log out of reach. A line the system log
// does not take goes to stderr instead, so nothing is lost: a full log (EAGAIN) or a line too long
// for a datagram (EMSGSIZE) that once; a log gone (its daemon restarted, which a confined daemon
// cannot reconnect to) from then on.
import { writeSync } from 'node:fs';
import { close, writeNonBlocking } from './sys/fd';
import { SysError } from './sys/libc';
import { connectUnixDatagram } from './sys/socket';

export const SYSLOG_SOCKET = '/dev/log';
const IDENT = 'vfs-virtiofsd';
const LOG_DAEMON = 3 << 3;
const EMSGSIZE = 90;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

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

function toStderr(line: string): void {
  writeSync(2, line.endsWith('\n') ? line : `${line}\n`);
}

/** A pino destination writing to the system log, falling back to stderr line by line. */
export class SyslogDestination {
  /** Called once when the system log is gone and every later line goes to stderr. */
  onGone: (error: SysError) => void = () => undefined;

  constructor(
    private fd: number | undefined,
    private readonly fallback: (line: string) => void = toStderr,
  ) {}

  write(line: string): void {
    if (this.fd === undefined) return this.fallback(line);
    let sent: number;
    try {
      sent = writeNonBlocking(this.fd, Buffer.from(syslogMessage(line, new Date(), process.pid)));
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      this.fallback(line);
      if (err.errno !== EMSGSIZE) this.gone(err);
      return;
    }
    if (sent < 0) this.fallback(line);
  }

  private gone(error: SysError): void {
    close(this.fd as number);
    this.fd = undefined;
    this.onGone(error);
  }
}

/** The system log's destination, or the SysError that says why /dev/log cannot be reached. */
export function openSyslog(path: string = SYSLOG_SOCKET): SyslogDestination | SysError {
  try {
    return new SyslogDestination(connectUnixDatagram(path));
  } catch (err) {
    if (err instanceof SysError) return err;
    throw err;
  }
}
