// The device rules: built as runc builds them, encoded for the launcher, and enforced for real by
// the launcher's BPF program on a cgroup of this host's cgroup2 hierarchy.
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
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
  });
  afterAll(() => {
    rmdirSync(parent);
    rmSync(scratch, { recursive: true, force: true });
    launcher.remove();
  });

  /** Runs `script` in a new cgroup with `rules`; its output. */
  async function underRules(name: string, rules: readonly OciDeviceRule[], script: string): Promise<string> {
    const cgroup = join(parent, name);
    mkdirSync(cgroup);
    try {
      const launch = new Launch({
        launcherPath: launcher.path,
        plan: [
          step('cgroup', cgroup),
          step('devices', encodeDeviceRules(rules)),
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
});
