import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from '@vfs/harness/process';
import { COMMAND_MAX_BYTES, commandOf } from './process_list';

/** Within jest's 5 s, so that a child that never shows sleep's command line says so. */
const SLEEP_WAIT_MS = 4000;

/**
 * 'spawn' can come before the exec has replaced the child's command line: wait for sleep's. A
 * spawn that failed (no pid) fails at once, with its error, rather than as jest's timeout; a
 * child that never shows sleep's command line fails with what it showed and how it ended.
 */
async function commandOnceSleeping(child: ChildProcess): Promise<string> {
  const failed = new Promise<never>((_, reject) => child.once('error', reject));
  let seen: string | undefined;
  const sleeping = waitFor(
    `pid ${child.pid} to run sleep`,
    () => {
      seen = commandOf(child.pid as number);
      return seen?.startsWith('sleep') === true ? seen : undefined;
    },
    SLEEP_WAIT_MS,
  ).catch((err: unknown) => {
    const ended = child.exitCode ?? child.signalCode ?? 'still running';
    throw new Error(`${String(err)}: its command line was ${JSON.stringify(seen)}, exit ${ended}`);
  });
  return Promise.race([failed, sleeping]);
}

describe("a listed process's command line", () => {
  it('is argv joined by spaces', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      expect(await commandOnceSleeping(child)).toBe('sleep 30');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('is cut at 4 KiB, however long the argv a process gave itself', async () => {
    // Arguments sleep takes (it adds them up): one it refuses ends it at once, before it is seen.
    const child = spawn('sleep', ['30', ...Array<string>(50_000).fill('0')], { stdio: 'ignore' });
    try {
      const command = await commandOnceSleeping(child);
      expect(command.length).toBe(COMMAND_MAX_BYTES);
      expect(command.startsWith('sleep 30 0 0 0')).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('is undefined once the process is gone', async () => {
    const child = spawn('true', { stdio: 'ignore' });
    const pid = child.pid as number;
    await new Promise((resolve) => child.once('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(commandOf(pid)).toBeUndefined();
  });
});
