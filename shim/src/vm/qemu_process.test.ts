import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killQemuByPid, launchQemu } from './qemu_process';

// /bin/sh stands in for QEMU: the launcher only spawns, watches and kills a process.
describe('launchQemu', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-qemu-proc-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reports the exit code with the tail of stderr, and removes the sockets and pid file after exit', async () => {
    const socket = join(dir, 'qmp.sock');
    const pidFile = join(dir, 'qemu.pid');
    writeFileSync(socket, '');
    const qemu = await launchQemu({
      binary: '/bin/sh',
      args: ['-c', 'sleep 0.1; echo "qemu-system-x86_64: bad option" >&2; exit 3'],
      stderrLogPath: join(dir, 'stderr.log'),
      pidFilePath: pidFile,
      cleanupPaths: [socket],
    });
    expect(readFileSync(pidFile, 'utf8')).toBe(`${qemu.pid}\n`);
    await expect(qemu.exited).resolves.toEqual({ code: 3, signal: null, stderrTail: 'qemu-system-x86_64: bad option' });
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
  });

  it('stops with SIGTERM, and with SIGKILL when the process ignores it', async () => {
    const polite = await launchQemu({ binary: '/bin/sh', args: ['-c', 'sleep 30'], stderrLogPath: join(dir, 'a.log') });
    await expect(polite.stop(5000)).resolves.toMatchObject({ signal: 'SIGTERM' });
    const stubborn = await launchQemu({
      binary: '/bin/sh',
      args: ['-c', 'trap "" TERM; while :; do sleep 0.05; done'],
      stderrLogPath: join(dir, 'b.log'),
    });
    await new Promise((r) => setTimeout(r, 100));
    await expect(stubborn.stop(100)).resolves.toMatchObject({ signal: 'SIGKILL' });
  });

  it('names the binary when it cannot be started', async () => {
    await expect(
      launchQemu({ binary: '/nonexistent/qemu', args: [], stderrLogPath: join(dir, 'c.log') }),
    ).rejects.toThrow(/cannot start QEMU \(\/nonexistent\/qemu\)/);
  });
});

describe('killQemuByPid', () => {
  it('reports a process that is already gone instead of throwing', () => {
    expect(killQemuByPid(2 ** 22 + 1, 'SIGKILL')).toBe(false);
  });
});
