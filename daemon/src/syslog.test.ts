// --syslog against a real datagram socket standing in for /dev/log: the messages' form, and what
// happens to a line the system log does not take.
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { FakeSyslog } from '../test_support/fake_syslog';
import { createDaemonLog, warnSyslogUnreachable } from './log';
import { tryClose } from './sys/fd';
import { SysError } from './sys/libc';
import { connectUnixDatagram } from './sys/socket';
import { openSyslog, severityOf, SyslogDestination, syslogMessage } from './syslog';

/** Longer than one datagram may be on this host: the socket's default send buffer, and then some. */
function longerThanADatagram(): number {
  return Number(readFileSync('/proc/sys/net/core/wmem_default', 'utf8')) + 64 * 1024;
}

describe('--syslog', () => {
  let dir = '';
  let log: FakeSyslog;
  const fds: number[] = [];
  const connect = (): number => {
    const fd = connectUnixDatagram(log.path);
    fds.push(fd);
    return fd;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-syslog-'));
    log = new FakeSyslog(join(dir, 'log'));
  });
  afterEach(() => {
    for (const fd of fds.splice(0)) tryClose(fd);
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a message has syslog(3)'s local form: facility daemon, pino's level as its severity, the JSON line", () => {
    const at = new Date(2026, 11, 7, 9, 5, 1);
    expect(syslogMessage('{"level":30,"msg":"hi"}\n', at, 42)).toBe(
      '<30>Dec  7 09:05:01 vfs-virtiofsd[42]: {"level":30,"msg":"hi"}',
    );
    expect(syslogMessage('{"level":50}', new Date(2026, 0, 17, 23, 59, 9), 7)).toBe(
      '<27>Jan 17 23:59:09 vfs-virtiofsd[7]: {"level":50}',
    );
    expect([60, 50, 40, 30, 20, 10].map(severityOf)).toEqual([2, 3, 4, 6, 7, 7]);
    expect(syslogMessage('not json', at, 1)).toMatch(/^<30>/);
  });

  test('each log line reaches the system log as one datagram, every field kept', () => {
    const destination = new SyslogDestination(connect(), () => {
      throw new Error('nothing should fall back to stderr');
    });
    const logger = pino({ base: { component: 'vfs-virtiofsd', tag: 'rootfs' } }, destination);
    logger.info({ sandbox: 'sb-1' }, 'sandbox ready');
    logger.error('export died');
    const got = log.drain();
    expect(got).toHaveLength(2);
    expect(got[0]).toMatch(
      new RegExp(`^<30>[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d vfs-virtiofsd\\[${process.pid}\\]: `),
    );
    expect(JSON.parse((got[0] as string).split(': ').slice(1).join(': '))).toMatchObject({
      component: 'vfs-virtiofsd',
      tag: 'rootfs',
      sandbox: 'sb-1',
      msg: 'sandbox ready',
    });
    expect(got[1]).toMatch(/^<27>.*"msg":"export died"/);
  });

  test('without a system log, opening it names the cause', () => {
    const missing = openSyslog(() => undefined, join(dir, 'nothing-here'));
    expect(missing).toBeInstanceOf(SysError);
    expect((missing as SysError).message).toMatch(/connect\(.*nothing-here\): ENOENT/);
  });

  test('a line a full system log does not take goes to stderr; the next ones reach the log again', () => {
    const fallback: string[] = [];
    const destination = new SyslogDestination(connect(), (line) => fallback.push(line));
    const lines = Array.from({ length: 2000 }, (_, i) => `{"level":30,"n":${i}}\n`);
    for (const line of lines) destination.write(line);
    const logged = log.drain();
    expect(fallback.length).toBeGreaterThan(0);
    expect(logged.length + fallback.length).toBe(lines.length);
    destination.write('{"level":30,"after":true}\n');
    expect(log.drain()).toEqual([expect.stringContaining('"after":true')]);
  });

  test('a line too long for a datagram goes to stderr, and the log stays in use', () => {
    const fallback: string[] = [];
    const destination = new SyslogDestination(connect(), (line) => fallback.push(line));
    const gone = jest.fn();
    destination.onGone = gone;
    const long = `{"level":30,"blob":"${'x'.repeat(longerThanADatagram())}"}\n`;
    destination.write(long);
    destination.write('{"level":30,"short":true}\n');
    expect(fallback.length).toBe(1);
    expect(fallback[0] === long).toBe(true);
    expect(log.drain()).toEqual([expect.stringContaining('"short":true')]);
    expect(gone).not.toHaveBeenCalled();
  });

  test('once the system log is gone, it is said once, then that line and every later one go to stderr', () => {
    const events: string[] = [];
    const destination = new SyslogDestination(connect(), (line) => events.push(line));
    destination.onGone = (error) => events.push(`gone: ${error.message}`);
    log.close();
    // A reader elsewhere, for afterEach to close: the old path has nobody behind it.
    log = new FakeSyslog(join(dir, 'elsewhere'));
    destination.write('{"level":30,"first":true}\n');
    destination.write('{"level":40,"second":true}\n');
    expect(events).toEqual([
      expect.stringMatching(/^gone: write\(\d+\): (ECONNREFUSED|ENOTCONN)$/),
      '{"level":30,"first":true}\n',
      '{"level":40,"second":true}\n',
    ]);
  });

  describe("the daemon's logger", () => {
    /** The daemon's log with --syslog on `socket`, its stderr a file; the file's lines as JSON. */
    function daemonLog(socket: string): { daemon: ReturnType<typeof createDaemonLog>; stderrLines: () => unknown[] } {
      const stderrPath = join(dir, 'stderr');
      const fd = openSync(stderrPath, 'w');
      fds.push(fd);
      const daemon = createDaemonLog(
        'info',
        { component: 'vfs-virtiofsd' },
        {
          syslog: true,
          syslogSocket: socket,
          stderrFd: fd,
        },
      );
      const stderrLines = (): unknown[] =>
        readFileSync(stderrPath, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as unknown);
      return { daemon, stderrLines };
    }

    test('says at error level when the system log went away, then logs to stderr', () => {
      const { daemon, stderrLines } = daemonLog(log.path);
      daemon.log.info('to the log');
      expect(log.drain()).toEqual([expect.stringContaining('"msg":"to the log"')]);
      log.close();
      log = new FakeSyslog(join(dir, 'elsewhere'));
      daemon.log.info('after');
      daemon.log.warn('later');
      expect(stderrLines()).toEqual([
        expect.objectContaining({
          level: 50,
          msg: 'the system log went away (a confined daemon cannot reconnect): logging to stderr from now on',
        }),
        expect.objectContaining({ level: 30, msg: 'after' }),
        expect.objectContaining({ level: 40, msg: 'later' }),
      ]);
    });

    test('without a system log, logs to stderr and says why when asked to', () => {
      const { daemon, stderrLines } = daemonLog(join(dir, 'nothing-here'));
      expect(daemon.syslogUnreachable).toBeInstanceOf(SysError);
      warnSyslogUnreachable(daemon);
      daemon.log.info('served');
      expect(stderrLines()).toEqual([
        expect.objectContaining({ level: 40, error: expect.stringMatching(/nothing-here\): ENOENT$/) }),
        expect.objectContaining({ msg: 'served' }),
      ]);
    });
  });
});
