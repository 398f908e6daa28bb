import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSameProcess, processStartTime } from './process_identity';

describe('a process identity (pid and start time)', () => {
  it('names a running process, and no longer once it is reaped', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid as number;
    const startTime = processStartTime(pid);
    expect(startTime).toMatch(/^\d+$/);
    expect(isSameProcess({ pid, startTime: startTime as string })).toBe(true);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(processStartTime(pid)).toBeUndefined();
    expect(isSameProcess({ pid, startTime: startTime as string })).toBe(false);
  });

  it('is not the process that has its pid now when the start times differ (a recycled pid)', () => {
    const startTime = processStartTime(process.pid) as string;
    expect(isSameProcess({ pid: process.pid, startTime: String(Number(startTime) + 1) })).toBe(false);
  });

  it('reads the start time after the command name, whatever spaces and parentheses the name has', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfs-identity-'));
    const program = join(dir, 's) (p 1');
    symlinkSync('/bin/sleep', program);
    const child = spawn(program, ['30'], { stdio: 'ignore' });
    try {
      const startTime = processStartTime(child.pid as number);
      // Started after this process: a field counted from the first ')' would be another one.
      expect(startTime).toMatch(/^\d+$/);
      expect(Number(startTime)).toBeGreaterThanOrEqual(Number(processStartTime(process.pid)));
      expect(readFileSync(`/proc/${child.pid}/stat`, 'utf8')).toContain('(s) (p 1)');
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
