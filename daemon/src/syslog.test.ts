// --syslog against a real datagram socket standing in for /dev/log: the messages' form, and what
// happens to a line the system log does not take.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { FakeSyslog } from '../test_support/fake_syslog';
import { SysError } from './sys/libc';
import { connectUnixDatagram } from './sys/socket';
import { openSyslog, severityOf, SyslogDestination, syslogMessage } from './syslog';

describe('--syslog', () => {
  let dir = '';
  let log: FakeSyslog;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-syslog-'));
    log = new FakeSyslog(join(dir, 'log'));
  });
  afterEach(() => {
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
    const destination = openSyslog(log.path);
    if (destination instanceof SysError) throw destination;
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
    const missing = openSyslog(join(dir, 'nothing-here'));
    expect(missing).toBeInstanceOf(SysError);
    expect((missing as SysError).message).toMatch(/connect\(.*nothing-here\): ENOENT/);
  });

  test('a line a full system log does not take goes to stderr; the next ones reach the log again', () => {
    const fallback: string[] = [];
    const destination = new SyslogDestination(connectUnixDatagram(log.path), (line) => fallback.push(line));
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
    const destination = new SyslogDestination(connectUnixDatagram(log.path), (line) => fallback.push(line));
    const gone = jest.fn();
    destination.onGone = gone;
    const long = `{"level":30,"blob":"${'x'.repeat(4 << 20)}"}\n`;
    destination.write(long);
    destination.write('{"level":30,"short":true}\n');
    expect(fallback).toEqual([long]);
    expect(log.drain()).toEqual([expect.stringContaining('"short":true')]);
    expect(gone).not.toHaveBeenCalled();
  });

  test('once the system log is gone, that line and every later one go to stderr, said once', () => {
    const fallback: string[] = [];
    const destination = new SyslogDestination(connectUnixDatagram(log.path), (line) => fallback.push(line));
    const gone = jest.fn();
    destination.onGone = gone;
    log.close();
    log = new FakeSyslog(join(dir, 'restarted'));
    destination.write('{"level":30,"first":true}\n');
    destination.write('{"level":40,"second":true}\n');
    expect(fallback).toEqual(['{"level":30,"first":true}\n', '{"level":40,"second":true}\n']);
    expect(gone).toHaveBeenCalledTimes(1);
    expect((gone.mock.calls[0] as [SysError])[0].message).toMatch(/write\(\d+\): (ECONNREFUSED|ENOTCONN)/);
  });
});
