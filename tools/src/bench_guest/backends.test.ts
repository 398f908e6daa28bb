import { type DaemonPaths, daemonCommand } from './backends';

const paths: DaemonPaths = { ours: '/b/vfs-virtiofsd', c: '/c', rust: '/r', vmmQemu: '/q' };

describe('the command that starts each daemon', () => {
  test('ours runs as shipped, under its own shebang and sandbox', () => {
    expect(daemonCommand('ours', paths, 'auto', '/s.sock', '/share')).toEqual([
      '/b/vfs-virtiofsd',
      ['--socket-path=/s.sock', '--shared-dir=/share', '--cache=auto'],
    ]);
  });

  test('profiled, ours runs under node --cpu-prof without the sandbox that would keep it from writing the profile', () => {
    const [file, args] = daemonCommand('ours-dax', { ...paths, oursCpuProf: '/prof' }, 'none', '/s.sock', '/share');
    expect(file).toBe(process.execPath);
    expect(args.slice(0, 3)).toEqual(['--cpu-prof', '--cpu-prof-dir=/prof', '/b/vfs-virtiofsd']);
    expect(args).toEqual(expect.arrayContaining(['--dax-window=256', '--sandbox=none', '--seccomp=none']));
  });

  test('the C and Rust daemons get the same cache mode in their own spelling', () => {
    expect(daemonCommand('c', paths, 'none', '/s', '/d')[1]).toContain('cache=none');
    expect(daemonCommand('rust', paths, 'none', '/s', '/d')[1]).toContain('--cache=never');
  });
});
