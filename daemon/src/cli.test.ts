import { parseArgs, USAGE, UsageError } from './cli';

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

  test("Kata's command line for its virtiofsd is taken as it is (--syslog, --fd, its extra arguments)", () => {
    // kata-containers virtiofsd.go: --syslog --cache= --shared-dir= --fd=3, then
    // virtio_fs_extra_args (its configuration's defaults: --thread-pool-size=1 --announce-submounts).
    const kata = ['--syslog', '--cache=auto', '--shared-dir=/run/kata/shared', '--fd=3'];
    expect(parseArgs([...kata, '--thread-pool-size=1', '--announce-submounts'])).toMatchObject({
      syslog: true,
      cache: 'auto',
      sharedDir: '/run/kata/shared',
      fd: 3,
      threadPoolSize: 1,
      announceSubmounts: true,
    });
    expect(parseArgs(base).syslog).toBe(false);
  });

  test('--modcaps and -o modcaps change the capabilities the sandbox keeps', () => {
    expect(parseArgs([...base, '--modcaps=+sys_admin:-chown']).modcaps).toEqual({ add: [21], remove: [0] });
    expect(parseArgs([...base, '-o', 'modcaps=-mknod']).modcaps).toEqual({ add: [], remove: [27] });
    expect(parseArgs(base).modcaps).toEqual({ add: [], remove: [] });
    expect(() => parseArgs([...base, '--modcaps=+root'])).toThrow(
      new UsageError("--modcaps=+root: '+root' is not + or - and a capability name (e.g. +sys_admin:-chown)"),
    );
    expect(() => parseArgs([...base, '--modcaps=-dac_read_search', '--inode-file-handles=mandatory'])).toThrow(
      /--modcaps drops CAP_DAC_READ_SEARCH, which --inode-file-handles=mandatory needs to open handles/,
    );
    expect(() => parseArgs([...base, '--modcaps=-dac_read_search', '--inode-file-handles=prefer'])).toThrow(
      /--inode-file-handles=prefer needs/,
    );
    expect(parseArgs([...base, '--modcaps=-dac_read_search', '--inode-file-handles=never']).modcaps.remove).toEqual([
      2,
    ]);
    expect(() => parseArgs([...base, '--migration-mode=find-paths'])).toThrow(
      /--migration-mode: not supported: migrating the back end's state is not implemented/,
    );
    expect(() => parseArgs([...base, '--sandbox=none', '--modcaps=+sys_admin'])).toThrow(
      /--modcaps changes what the sandbox keeps: --sandbox=none changes no capability/,
    );
  });

  test("virtiofsd's --preserve-noatime states what the daemon always does", () => {
    expect(parseArgs([...base, '--preserve-noatime'])).toEqual(parseArgs(base));
  });

  test('--posix-acl and -o posix_acl turn POSIX ACLs on, and xattrs with them; off by default', () => {
    expect(parseArgs(base)).toMatchObject({ posixAcl: false, xattr: false });
    expect(parseArgs([...base, '--posix-acl'])).toMatchObject({ posixAcl: true, xattr: true });
    expect(parseArgs([...base, '-o', 'posix_acl'])).toMatchObject({ posixAcl: true, xattr: true });
    expect(parseArgs([...base, '-o', 'posix_acl,no_posix_acl'])).toMatchObject({ posixAcl: false, xattr: true });
  });

  test('--killpriv-v2 is the default; --no-killpriv-v2 turns it off', () => {
    expect(parseArgs(base).killprivV2).toBe(true);
    expect(parseArgs([...base, '--no-killpriv-v2']).killprivV2).toBe(false);
    expect(parseArgs([...base, '--no-killpriv-v2', '--killpriv-v2']).killprivV2).toBe(true);
    expect(parseArgs([...base, '-o', 'no_killpriv_v2']).killprivV2).toBe(false);
    expect(parseArgs([...base, '-o', 'no_killpriv_v2,killpriv_v2']).killprivV2).toBe(true);
  });

  test("virtiofsd's deprecated --socket and the default-restating --no-announce-submounts", () => {
    expect(parseArgs(['--socket=/tmp/old.sock', '--shared-dir=/srv'])).toMatchObject({ socketPath: '/tmp/old.sock' });
    expect(parseArgs([...base, '--announce-submounts', '--no-announce-submounts']).announceSubmounts).toBe(false);
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

  test('--dax-min-file-kib sets the per-inode DAX threshold; 0 (every file) by default', () => {
    expect(parseArgs([...base, '--dax-window=64']).daxMinFileKiB).toBe(0);
    expect(parseArgs([...base, '--dax-window=64', '--dax-min-file-kib=1024']).daxMinFileKiB).toBe(1024);
  });

  test('the resource bounds have defaults, and each --max-* flag sets its own', () => {
    expect(parseArgs(base).limits).toEqual({ maxOpenHandles: 262_144, maxLockOwners: 65_536, maxParkedLocks: 256 });
    expect(parseArgs(base).rlimitNofile).toBeUndefined();
    const o = parseArgs([...base, '--max-open-handles=10', '--max-lock-owners', '20', '--max-parked-locks=3']);
    expect(o.limits).toEqual({ maxOpenHandles: 10, maxLockOwners: 20, maxParkedLocks: 3 });
    expect(parseArgs([...base, '--rlimit-nofile=0']).rlimitNofile).toBe(0);
    expect(parseArgs([...base, '--max-parked-locks=1']).limits.maxOpenHandles).toBe(262_144);
  });

  test('--help lists every bound with its default and errno', () => {
    expect(USAGE).toMatch(/--max-open-handles=N[\s\S]*ENFILE; default 262144/);
    expect(USAGE).toMatch(/--max-lock-owners=N[\s\S]*ENOLCK; default 65536/);
    expect(USAGE).toMatch(/--max-parked-locks=N[\s\S]*ENOLCK; default 256/);
    expect(USAGE).toMatch(/--rlimit-nofile=N[\s\S]*1,000,000/);
    expect(USAGE).toMatch(/descriptor chains in flight by the queue size[\s\S]*DAX\s+mappings by the window/);
  });

  test('--inode-file-handles takes never, prefer or mandatory; unset, the daemon decides once confined', () => {
    expect(parseArgs(base).inodeFileHandles).toBeUndefined();
    expect(parseArgs([...base, '--inode-file-handles=never']).inodeFileHandles).toBe('never');
    expect(parseArgs([...base, '--inode-file-handles', 'prefer']).inodeFileHandles).toBe('prefer');
    expect(parseArgs([...base, '--inode-file-handles=mandatory']).inodeFileHandles).toBe('mandatory');
    expect(() => parseArgs([...base, '--inode-file-handles=always'])).toThrow(
      /--inode-file-handles: invalid value 'always' \(expected never\|prefer\|mandatory\)/,
    );
  });

  test('--translate-uid and --translate-gid accumulate their rules in order, none by default', () => {
    expect([parseArgs(base).translateUid, parseArgs(base).translateGid]).toEqual([[], []]);
    const o = parseArgs([
      ...base,
      '--translate-uid=squash-guest:0:1001:4294967295',
      '--translate-gid',
      'map:1000:101000:10',
      '--translate-uid',
      'host:1001:1000:1',
    ]);
    expect(o.translateUid).toEqual(['squash-guest:0:1001:4294967295', 'host:1001:1000:1']);
    expect(o.translateGid).toEqual(['map:1000:101000:10']);
  });

  test.each([
    [[...base, '--translate-uid=mapp:1:2:3'], /--translate-uid 'mapp:1:2:3': unknown type 'mapp'/],
    [[...base, '--translate-gid=map:1000:x:1'], /--translate-gid 'map:1000:x:1': host base 'x' is not a number/],
    [
      [...base, '--translate-uid=map:0:100000:65536', '--translate-uid=forbid-guest:0:1'],
      /--translate-uid 'forbid-guest:0:1': guest ids \[0, 1\) overlap \[0, 65536\) of 'map:0:100000:65536'/,
    ],
    [[...base, '--translate-uid'], /--translate-uid: needs a value/],
  ])('%j is refused naming the bad rule', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
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
    [[...base, '-o', 'posix_acl,no_xattr'], /--posix-acl needs xattrs, which -o no_xattr turned off/],
    [
      [...base, '--posix-acl', '--xattrmap=:ok:all:user.:user.: :unsupported:all:::'],
      /--posix-acl needs system.posix_acl_access and system.posix_acl_default passed through unchanged/,
    ],
    [[...base, '--syslog=yes'], /--syslog: takes no value/],
    [[...base, '--readonly=yes'], /--readonly: takes no value/],
    [[...base, '--max-open-handles=0'], /--max-open-handles: expected a whole number from 1 to 2147483647, got '0'/],
    [[...base, '--max-lock-owners=-5'], /--max-lock-owners: expected a whole number from 1 to 2147483647, got '-5'/],
    [[...base, '--max-parked-locks=lots'], /--max-parked-locks: expected a whole number from 1 .* got 'lots'/],
    [[...base, '--max-open-handles=4294967296'], /--max-open-handles: expected a whole number from 1 to 2147483647/],
    [[...base, '--max-lock-owners'], /--max-lock-owners: needs a value/],
    [[...base, '--rlimit-nofile=many'], /--rlimit-nofile: expected a non-negative integer, got 'many'/],
    [[...base, '--dax-window=3'], /--dax-window: 3 MiB is not a multiple of the guest's 2 MiB DAX ranges/],
    [[...base, '--dax-window=48'], /--dax-window: 48 MiB is not a power of two/],
    [[...base, '--dax-window=1.5'], /--dax-window: expected a non-negative integer/],
    [[...base, '--dax-window=131072'], /--dax-window: 131072 MiB exceeds the limit/],
    [['--shared-dir=/srv', '--control-socket=/c', '--dax-window=64'], /--dax-window is for single-export mode/],
    [[...base, '--dax-min-file-kib=1024'], /--dax-min-file-kib needs --dax-window/],
    [[...base, '--dax-window=64', '--dax-min-file-kib=-1'], /--dax-min-file-kib: expected a non-negative integer/],
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
