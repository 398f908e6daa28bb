import { GUEST_DEVICE_PROGRAMS_DIR } from '@vfs/contracts';
import type { ContainerSpec } from '../oci/container_spec';
import { execPlan, initPlan } from './container_plan';
import { deviceRules, encodeDeviceRules } from './device_rules';
import { step } from './launch_plan';
import { planNamespaces } from './namespaces';

const spec: ContainerSpec = {
  ociVersion: '1.1.0',
  hostname: 'h',
  root: { path: 'rootfs', readonly: true },
  process: {
    user: { uid: 1000, gid: 1000 },
    args: ['sh', '-c', 'true'],
    env: ['A=1'],
    cwd: '/work',
    noNewPrivileges: true,
  },
  mounts: [{ destination: '/data', type: 'bind', source: '/run/vfs/shares/d', options: ['rbind'] }],
  linux: { namespaces: [{ type: 'cgroup' }], maskedPaths: ['/proc/kcore'] },
};

const names = (steps: readonly (readonly unknown[])[]): string[] => steps.map((s) => String(s[0]));

describe('container plans', () => {
  it('orders the init set-up: rootfs, bind sources, pivot, mounts, devices, paths, ro root, process', () => {
    const ns = planNamespaces(spec, 'c');
    const plan = initPlan(spec, { kind: 'bind', source: '/run/vfs/rw/c' }, ns, '/sys/fs/cgroup/vfs/c');
    expect(names(plan.parentSteps)).toEqual(['ns', 'cgroup', 'devices']);
    // The rules' program comes from the device programs' bpffs when another container had them.
    expect(plan.parentSteps[2]).toEqual(
      step('devices', encodeDeviceRules(deviceRules(spec.linux)), GUEST_DEVICE_PROGRAMS_DIR),
    );
    const order = names(plan.childSteps);
    const at = (name: string): number => order.indexOf(name);
    expect(order[0]).toBe('unshare');
    expect(at('bindopen')).toBeLessThan(at('pivot'));
    expect(at('pivot')).toBeLessThan(at('bindmove'));
    expect(at('bindmove')).toBeLessThan(at('mknod'));
    expect(at('mknod')).toBeLessThan(at('mask'));
    expect(at('mask')).toBeLessThan(at('hostname'));
    expect(at('user')).toBeLessThan(at('chdir'));
    expect(order.slice(-6)).toEqual(['env', 'arg', 'arg', 'arg', 'barrier', 'exec']);
  });

  it('execs join the init after opening the cgroup, and skip the barrier', () => {
    const ns = planNamespaces(spec, 'c');
    const plan = execPlan(spec.process, 42, ns, '/sys/fs/cgroup/vfs/c');
    expect(plan.parentSteps).toEqual([
      ['cgroup', '/sys/fs/cgroup/vfs/c'],
      ['join', 42, ns.joinFlags],
    ]);
    expect(names(plan.childSteps)).not.toContain('barrier');
    expect(names(plan.childSteps)).not.toContain('mkdirp');
    expect(names(plan.childSteps)).not.toContain('console');
    expect(plan.terminal).toBe(false);
  });

  it('attaches a terminal inside the container: after its /dev is set up, before the credentials', () => {
    const ns = planNamespaces(spec, 'c');
    const withTty = { ...spec, process: { ...spec.process, terminal: true, consoleSize: { height: 30, width: 100 } } };
    const init = initPlan(withTty, { kind: 'bind', source: '/run/vfs/rw/c' }, ns, '/sys/fs/cgroup/vfs/c');
    expect(init.terminal).toBe(true);
    expect(init.parentSteps).toContainEqual(['tty', 30, 100]);
    const order = names(init.childSteps);
    expect(order.indexOf('console')).toBeGreaterThan(order.lastIndexOf('mount'));
    expect(order.indexOf('console')).toBeGreaterThan(order.lastIndexOf('symlink'));
    expect(order.indexOf('console')).toBeLessThan(order.indexOf('user'));
    const exec = execPlan({ ...spec.process, terminal: true }, 42, ns, '/sys/fs/cgroup/vfs/c');
    expect(exec.parentSteps.at(-1)).toEqual(['tty', 24, 80]);
    expect(names(exec.childSteps)[0]).toBe('console');
  });
});
