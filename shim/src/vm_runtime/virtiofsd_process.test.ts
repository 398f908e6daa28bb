import { spawn } from 'node:child_process';
import { parseConfig } from '@vfs/runtime-config';
import { daemonArgs, daemonKiller, daemonStopper } from './virtiofsd_process';

const launch = (toml: string): string[] =>
  daemonArgs({ controlSocket: '/run/c.sock', sharedDir: '/run/shares', config: parseConfig(toml, 'f.toml').daemon });

test("[daemon]'s uid/gid translation rules reach the daemon as its flags, in order", () => {
  const args = launch(
    '[daemon]\ntranslate_uid = ["squash-guest:0:1001:4294967295", "host:1001:1000:1"]\ntranslate_gid = ["map:1000:101000:1"]\n',
  );
  expect(args.filter((a) => a.startsWith('--translate-'))).toEqual([
    '--translate-uid=squash-guest:0:1001:4294967295',
    '--translate-uid=host:1001:1000:1',
    '--translate-gid=map:1000:101000:1',
  ]);
});

test('without rules the daemon gets no translation flag', () => {
  expect(launch('').filter((a) => a.startsWith('--translate-'))).toEqual([]);
  expect(launch('')).toContain('--control-socket=/run/c.sock');
});

test('[daemon] allow_mmap reaches the daemon as --allow-mmap, and only when set', () => {
  expect(launch('[daemon]\ncache = "none"\nallow_mmap = true\n')).toContain('--allow-mmap');
  expect(launch('[daemon]\ncache = "none"\n')).not.toContain('--allow-mmap');
});

test('[daemon] posix_acl reaches the daemon as --posix-acl, and only when set', () => {
  expect(launch('[daemon]\nposix_acl = true\n')).toContain('--posix-acl');
  expect(launch('')).not.toContain('--posix-acl');
});

test('kill SIGKILLs the daemon at once, and neither kill nor stop signals it once it exited', async () => {
  // A group leader that ignores SIGTERM, as unshare does while it waits for the daemon.
  const leader = spawn('sh', ['-c', 'trap "" TERM; while :; do sleep 1; done'], { detached: true, stdio: 'ignore' });
  const pid = leader.pid as number;
  const exited = new Promise<string>((resolve) => leader.once('exit', (_, signal) => resolve(String(signal))));
  const kill = daemonKiller(pid, exited);
  const stop = daemonStopper(pid, exited);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const started = Date.now();
  await kill();
  expect(Date.now() - started).toBeLessThan(1000);
  await expect(exited).resolves.toBe('SIGKILL');
  const signals = jest.spyOn(process, 'kill');
  await stop();
  await kill();
  expect(signals).not.toHaveBeenCalled();
  signals.mockRestore();
});
