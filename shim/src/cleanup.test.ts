// killAndWait, as `delete` runs it after a shim crash: a recorded process that leads a process
// group (the daemon's unshare) goes with its group, so a child that would outlive it does not.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { processStartTime } from '@vfs/contracts';
import pino from 'pino';
import { killAndWait } from './cleanup';
import type { ShimLogger } from './logger';
import { DAEMON_RECORD } from './sandbox_state';

const log = pino({ level: 'silent' }) as unknown as ShimLogger;

const gone = (pid: number): boolean =>
  !existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

test('a recorded group leader is killed with its group: its child, which would outlive it, goes too', async () => {
  // As unshare and the daemon: a session leader whose child is in its group.
  const leader = spawn('sh', ['-c', 'sleep 600 & echo $!; wait'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const child = await new Promise<number>((resolve) =>
    leader.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
  );
  try {
    const pid = leader.pid as number;
    await killAndWait([{ name: DAEMON_RECORD, pid, startTime: processStartTime(pid) as string }], log);
    for (let i = 0; i < 100 && !gone(child); i++) await new Promise((r) => setTimeout(r, 20));
    expect(gone(child)).toBe(true);
  } finally {
    if (!gone(child)) process.kill(child, 'SIGKILL');
  }
});

test.each([DAEMON_RECORD, 'qemu'])('a recorded %s that leads no group is killed by its pid', async (name) => {
  const proc = spawn('sleep', ['600'], { stdio: 'ignore' });
  const pid = proc.pid as number;
  await killAndWait([{ name, pid, startTime: processStartTime(pid) as string }], log);
  expect(gone(pid)).toBe(true);
});
