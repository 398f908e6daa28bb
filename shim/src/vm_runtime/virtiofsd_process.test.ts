import { parseConfig } from '@vfs/runtime-config';
import { daemonArgs } from './virtiofsd_process';

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
