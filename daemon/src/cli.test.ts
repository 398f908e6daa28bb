import { parseArgs, UsageError } from './cli';

const base = ['--socket-path=/tmp/s.sock', '--shared-dir=/srv'];

describe('virtiofsd-compatible command line', () => {
  test('Rust-style flags set every option', () => {
    const o = parseArgs([
      ...base,
      '--cache=always',
      '--sandbox=chroot',
      '--seccomp=log',
      '--thread-pool-size=4',
      '--readonly',
      '--xattrmap=:map:trusted.:user.virtiofs.:',
      '--announce-submounts',
      '--log-level=debug',
      '-f',
    ]);
    expect(o).toMatchObject({
      socketPath: '/tmp/s.sock',
      sharedDir: '/srv',
      cache: 'always',
      sandbox: 'chroot',
      seccomp: 'log',
      threadPoolSize: 4,
      readonly: true,
      xattr: true,
      xattrmap: ':map:trusted.:user.virtiofs.:',
      announceSubmounts: true,
      logLevel: 'debug',
    });
  });

  test('sandboxed by default as virtiofsd: namespace mode and a seccomp filter that kills', () => {
    expect(parseArgs(base)).toMatchObject({ sandbox: 'namespace', seccomp: 'kill' });
    expect(parseArgs([...base, '-o', 'sandbox=none', '--seccomp=none'])).toMatchObject({
      sandbox: 'none',
      seccomp: 'none',
    });
    expect(parseArgs([...base, '--sandbox', 'chroot', '--seccomp', 'trap'])).toMatchObject({
      sandbox: 'chroot',
      seccomp: 'trap',
    });
  });

  test('C-style -o options map onto the same settings', () => {
    const o = parseArgs([
      '--socket-path',
      '/tmp/s',
      '-o',
      'source=/srv,cache=none,xattr,no_posix_lock',
      '-o',
      'log_level=warn',
    ]);
    expect(o).toMatchObject({ sharedDir: '/srv', cache: 'none', xattr: true, posixLocks: false, logLevel: 'warn' });
  });

  test('cache=none turns readdirplus off unless asked for, as virtiofsd does', () => {
    expect(parseArgs([...base, '--cache=none']).readdirplus).toBe(false);
    expect(parseArgs([...base, '--cache=none', '-o', 'readdirplus']).readdirplus).toBe(true);
    expect(parseArgs([...base, '--cache=never']).cache).toBe('none');
  });

  test('--dax-window sets the DAX window in MiB; off by default and with 0', () => {
    expect(parseArgs(base).daxWindowMiB).toBe(0);
    expect(parseArgs([...base, '--dax-window=256']).daxWindowMiB).toBe(256);
    expect(parseArgs([...base, '--readonly', '--dax-window', '2']).daxWindowMiB).toBe(2);
    expect(parseArgs([...base, '--dax-window=0']).daxWindowMiB).toBe(0);
  });

  test.each([
    [['--socket-path=/s'], /missing --shared-dir/],
    [['--shared-dir=/srv'], /missing --socket-path/],
    [[...base, '--fd=3'], /--socket-path and --fd conflict/],
    [[...base, '-o', 'source=/other'], /conflicts with --shared-dir=\/srv/],
    [[...base, '--cache=sometimes'], /--cache: invalid value 'sometimes'/],
    [[...base, '--sandbox=jail'], /--sandbox: invalid value 'jail'/],
    [[...base, '--seccomp=errno'], /--seccomp: invalid value 'errno'/],
    [[...base, '--bogus'], /--bogus: unknown option/],
    [[...base, '-o', 'frobnicate'], /-o frobnicate: unknown option/],
    [[...base, '--readonly', '--writeback'], /--readonly and --writeback conflict/],
    [[...base, '--fd'], /--fd: needs a value/],
    [[...base, '--thread-pool-size=-1'], /non-negative integer/],
    [[...base, '--syslog'], /--syslog: not supported/],
    [[...base, '--readonly=yes'], /--readonly: takes no value/],
    [[...base, '--dax-window=3'], /--dax-window: 3 MiB is not a multiple of the guest's 2 MiB DAX ranges/],
    [[...base, '--dax-window=1.5'], /--dax-window: expected a non-negative integer/],
    [[...base, '--dax-window=131072'], /--dax-window: 131072 MiB exceeds the limit/],
    [['--shared-dir=/srv', '--control-socket=/c', '--dax-window=64'], /--dax-window is for single-export mode/],
    [
      ['--shared-dir=/srv', '--socket-path=/s', '--xattrmap=:rename:all:a:b:'],
      /--xattrmap ':rename:all:a:b:': xattrmap: unknown type 'rename'/,
    ],
    [['--shared-dir=/srv', '--socket-path=/s', '-o', 'xattrmap=:prefix:everyone:a:b:'], /unknown scope 'everyone'/],
  ])('%j is refused with a clear error', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  test('--print-capabilities and --version need no share', () => {
    expect(parseArgs(['--print-capabilities']).printCapabilities).toBe(true);
    expect(parseArgs(['-V']).version).toBe(true);
  });
});
