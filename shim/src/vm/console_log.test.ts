import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileTail, fileTailOrError, waitForConsole } from './console_log';
import type { QemuExit } from './qemu_exit';

describe('fileTail', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-tail-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the last lines, and nothing for a file not written yet', () => {
    appendFileSync(join(dir, 'log'), 'one\ntwo\nthree\n\n');
    expect(fileTail(join(dir, 'log'), 2)).toBe('two\nthree');
    expect(fileTail(join(dir, 'absent'), 2)).toBe('');
  });

  it('throws other read errors, which fileTailOrError turns into the text', () => {
    mkdirSync(join(dir, 'a-dir'));
    expect(() => fileTail(join(dir, 'a-dir'), 2)).toThrow(/EISDIR/);
    expect(fileTailOrError(join(dir, 'a-dir'), 2)).toMatch(/^\(cannot read .*a-dir: .*EISDIR/);
  });
});

describe('waitForConsole', () => {
  let dir: string;
  let log: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-console-test-'));
    log = join(dir, 'console.log');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves with the match once the line is written, even if the file appears late', async () => {
    const waiting = waitForConsole(log, /vfs-init: start ([\d.]+)/, { timeoutMs: 2000, pollMs: 5 });
    setTimeout(() => appendFileSync(log, 'noise\nvfs-init: start 0.91\n'), 30);
    await expect(waiting).resolves.toEqual(expect.arrayContaining(['vfs-init: start 0.91', '0.91']));
  });

  it('fails after the timeout, showing the console tail', async () => {
    appendFileSync(log, 'Kernel panic\n');
    await expect(waitForConsole(log, /never/, { timeoutMs: 50, pollMs: 5 })).rejects.toThrow(
      /no match within 50 ms[\s\S]*Kernel panic/,
    );
  });

  it('fails as soon as the VM exits without the line, saying how QEMU ended', async () => {
    const exited = new Promise<QemuExit>((resolve) =>
      setTimeout(() => resolve({ code: 1, signal: null, stderrTail: 'qemu: could not open kernel' }), 20),
    );
    await expect(waitForConsole(log, /never/, { timeoutMs: 5000, abortOn: exited })).rejects.toThrow(
      /the VM exited: QEMU exited \(code 1\): qemu: could not open kernel before/,
    );
  });
});
