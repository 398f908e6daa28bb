// The device rules: built as runc builds them, encoded for the launcher, and enforced for real by
// the launcher's BPF program on a cgroup of this host's cgroup2 hierarchy.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OciDeviceRule } from '@vfs/contracts';
import { buildHostLauncher, type HostLauncher } from '../../test_support/host_launcher';
import { DEFAULT_DEVICE_RULES, deviceRules, encodeDeviceRules } from './device_rules';
import { step } from './launch_plan';
import { Launch } from './process_launcher';

describe('device rules', () => {
  it("come as the spec gives them, then runc's defaults; a device node gets no rule of its own", () => {
    const rules = deviceRules({
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      devices: [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229 }],
    });
    expect(rules).toEqual([{ allow: false, access: 'rwm' }, ...DEFAULT_DEVICE_RULES]);
  });

  it('are encoded a rule per comma, -1 and absent numbers as any, an absent access as rwm, type a as all', () => {
    expect(
      encodeDeviceRules([
        { allow: false, type: 'a', major: 1, minor: 3, access: 'r' },
        { allow: true, type: 'c', major: 1, minor: -1, access: 'r' },
        { allow: true, type: 'b', major: 8, minor: 0 },
        { allow: false, type: 'c', major: 5, access: '' },
      ]),
    ).toBe('n:a:*:*:rwm,y:c:1:*:r,y:b:8:0:rwm,n:c:5:*:');
  });
});

describe("the launcher's device program", () => {
  let launcher: HostLauncher;
  let parent: string;
  let scratch: string;
  /** A bpffs of this test's, for the programs' pins. */
  let pins: string;
  beforeAll(() => {
    launcher = buildHostLauncher('vfs-devices-');
    const mount = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .find((fields) => fields[2] === 'cgroup2');
    if (mount?.[1] === undefined) throw new Error('this host has no cgroup2 hierarchy');
    parent = join(mount[1], `vfs-devices-test-${process.pid}`);
    mkdirSync(parent);
    scratch = mkdtempSync(join(tmpdir(), 'vfs-devices-nodes-'));
    pins = join(scratch, 'pins');
    mkdirSync(pins);
    execFileSync('mount', ['-t', 'bpf', '-o', 'mode=0700', 'bpf', pins]);
  });
  afterAll(() => {
    try {
      execFileSync('umount', [pins]);
    } finally {
      rmdirSync(parent);
      rmSync(scratch, { recursive: true, force: true });
      launcher.remove();
    }
  });

  /** Runs `script` in a new cgroup with `rules`, their program shared through `cache` unless ""; its output. */
  async function underRules(
    name: string,
    rules: readonly OciDeviceRule[],
    script: string,
    cache = '',
  ): Promise<string> {
    const cgroup = join(parent, name);
    mkdirSync(cgroup);
    try {
      const launch = new Launch({
        launcherPath: launcher.path,
        plan: [
          step('cgroup', cgroup),
          step('devices', encodeDeviceRules(rules), cache),
          step('spawn'),
          step('env', 'PATH=/usr/bin:/bin'),
          step('arg', '/bin/sh'),
          step('arg', '-c'),
          step('arg', script),
          step('exec', '/bin/sh'),
        ],
        context: {},
      });
      const { stdout } = await launch.pipes;
      let out = '';
      for await (const chunk of stdout) out += (chunk as Buffer).toString();
      await launch.exited;
      return out;
    } finally {
      rmdirSync(cgroup);
    }
  }

  const probe = (path: string): string => `(head -c1 ${path} >/dev/null 2>&1 && echo open) || echo refused`;

  it('refuses what no rule allows and allows what one does', async () => {
    const out = await underRules(
      'a',
      [{ allow: false }, { allow: true, type: 'c', major: 1, minor: 3 }],
      `cat /dev/null && echo null; ${probe('/dev/zero')}`,
    );
    expect(out).toBe('null\nrefused\n');
  });

  it('lets a later rule win: a deny after an allow, an allow after a deny', async () => {
    const zeroRead = (allowFirst: boolean): OciDeviceRule[] => {
      const allow: OciDeviceRule = { allow: true, type: 'c', major: 1, minor: 5, access: 'r' };
      const deny: OciDeviceRule = { allow: false, type: 'c', major: 1, minor: 5, access: 'r' };
      return [{ allow: true, type: 'c', major: 1, minor: 3 }, ...(allowFirst ? [allow, deny] : [deny, allow])];
    };
    expect(await underRules('b', zeroRead(true), probe('/dev/zero'))).toBe('refused\n');
    expect(await underRules('c', zeroRead(false), probe('/dev/zero'))).toBe('open\n');
  });

  it('checks mknod (m) apart from opening (r, w), per device type and number', async () => {
    const node = join(scratch, 'zero');
    const rules: OciDeviceRule[] = [
      { allow: true, type: 'c', major: 1, minor: 3 },
      { allow: true, type: 'c', access: 'm' },
      { allow: true, type: 'c', major: 1, minor: 5, access: 'w' },
    ];
    const script = `mknod ${node} c 1 5 && echo made; ${probe(node)}; (echo x >${node}) 2>/dev/null && echo written; mknod ${scratch}/b b 7 0 2>/dev/null || echo no-block`;
    expect(await underRules('d', rules, script)).toBe('made\nrefused\nwritten\nno-block\n');
  });
  /** The pins the launcher made (a bpffs may hold the kernel's own iterators, maps.debug and the like). */
  const pinned = (): string[] => readdirSync(pins).filter((name) => name.startsWith('d'));
  /** A rule set's pin: behind the version of the launcher's program generator (PROGRAM_VERSION). */
  const pinOf = (rules: readonly OciDeviceRule[]): string => join(pins, `d1-${encodeDeviceRules(rules)}=`);

  const zeroRules = (allowZero: boolean): OciDeviceRule[] => [
    { allow: true, type: 'c', major: 1, minor: 3 },
    { allow: allowZero, type: 'c', major: 1, minor: 5, access: 'r' },
  ];

  it("pins a rule set's program under the rules themselves, and enforces it from there", async () => {
    expect(await underRules('e', zeroRules(false), probe('/dev/zero'), pins)).toBe('refused\n');
    expect(await underRules('f', zeroRules(false), probe('/dev/zero'), pins)).toBe('refused\n');
    expect(pinned().map((name) => join(pins, name))).toEqual([pinOf(zeroRules(false))]);
    rmSync(pinOf(zeroRules(false)));
  });

  it('takes the program pinned under its rules instead of loading them', async () => {
    expect(await underRules('g', zeroRules(true), probe('/dev/zero'), pins)).toBe('open\n');
    // The program that allows /dev/zero, now under the name of rules that refuse it: a launch
    // with those rules runs the pinned program, so it is the name that decides.
    const refusing = pinOf(zeroRules(false));
    renameSync(pinOf(zeroRules(true)), refusing);
    expect(await underRules('h', zeroRules(false), probe('/dev/zero'), pins)).toBe('open\n');
    rmSync(refusing);
    expect(await underRules('i', zeroRules(false), probe('/dev/zero'), pins)).toBe('refused\n');
    rmSync(refusing);
  });

  it('loads the program when the cache is no bpffs, and pins nothing there', async () => {
    const plain = mkdtempSync(join(scratch, 'plain-'));
    expect(await underRules('k', zeroRules(false), probe('/dev/zero'), plain)).toBe('refused\n');
    expect(readdirSync(plain)).toEqual([]);
  });

  it('pins a rule set longer than a file name under a chain of directories, apart from one it starts with', async () => {
    // Rules that match no device and encode to exactly 240 bytes, one path component's worth.
    const block = (minor: number): OciDeviceRule => ({ allow: true, type: 'b', major: 200, minor });
    const short = [...Array.from({ length: 14 }, (_, i) => block(100 + i)), block(1000)];
    const long = [...short, { allow: true, type: 'c', major: 1, minor: 5, access: 'r' } as OciDeviceRule];
    expect(encodeDeviceRules(short)).toHaveLength(240);
    // Bytes read from /dev/zero, with no other device used (the probe above writes to /dev/null).
    const zeroRead = 'head -c1 /dev/zero 2>&- | wc -c';
    for (let round = 0; round < 2; round++) {
      expect(await underRules(`s${round}`, short, zeroRead, pins)).toBe('0\n');
      expect(await underRules(`l${round}`, long, zeroRead, pins)).toBe('1\n');
    }
    const first = join(pins, `d1-${encodeDeviceRules(short)}`);
    expect(
      pinned()
        .map((name) => join(pins, name))
        .sort(),
    ).toEqual([`${first}+`, `${first}=`]);
    expect(readdirSync(`${first}+`)).toEqual([',y:c:1:5:r=']);
    // The short rules' program where the long rules' was: a long launch looks it up through the chain.
    renameSync(`${first}=`, join(`${first}+`, ',y:c:1:5:r='));
    expect(await underRules('l2', long, zeroRead, pins)).toBe('0\n');
    rmSync(`${first}+`, { recursive: true });
  });
});
