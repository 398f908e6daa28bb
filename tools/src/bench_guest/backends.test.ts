import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DaemonPaths, daemonCommand } from './backends';

const dir = mkdtempSync(join(tmpdir(), 'vfs-backends-'));
const ours = join(dir, 'vfs-virtiofsd');
writeFileSync(ours, '#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node --max-semi-space-size=4\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const paths: DaemonPaths = { ours, c: '/c', rust: '/r', vmmQemu: '/q' };

describe('the command that starts each daemon', () => {
  test("ours runs as its shebang starts it (the variable it drops, Node's flags) with its own sandbox, as shipped", () => {
    expect(daemonCommand('ours', paths, 'auto', '/s.sock', '/share')).toEqual([
      '/usr/bin/env',
      [
        '-u',
        'NODE_EXTRA_CA_CERTS',
        process.execPath,
        '--max-semi-space-size=4',
        ours,
        '--socket-path=/s.sock',
        '--shared-dir=/share',
        '--cache=auto',
      ],
    ]);
  });

  test('profiled, ours runs with its shebang flags under node --cpu-prof, without the sandbox that would keep it from writing the profile', () => {
    const [file, args] = daemonCommand('ours-dax', { ...paths, oursCpuProf: '/prof' }, 'none', '/s.sock', '/share');
    expect(file).toBe('/usr/bin/env');
    expect(args.slice(2, 7)).toEqual([
      process.execPath,
      '--max-semi-space-size=4',
      '--cpu-prof',
      '--cpu-prof-dir=/prof',
      ours,
    ]);
    expect(args).toEqual(expect.arrayContaining(['--dax-window=256', '--sandbox=none', '--seccomp=none']));
  });

  test('the C and Rust daemons get the same cache mode in their own spelling', () => {
    expect(daemonCommand('c', paths, 'none', '/s', '/d')[1]).toContain('cache=none');
    expect(daemonCommand('rust', paths, 'none', '/s', '/d')[1]).toContain('--cache=never');
  });
});
