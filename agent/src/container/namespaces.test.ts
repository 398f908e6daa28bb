import type { ContainerSpec } from '../oci/container_spec';
import {
  CLONE_NEWCGROUP,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUTS,
  planNamespaces,
} from './namespaces';

const ALWAYS = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;

function specWith(namespaces: NonNullable<ContainerSpec['linux']>['namespaces']): ContainerSpec {
  return {
    ociVersion: '1.1.0',
    process: { user: { uid: 0, gid: 0 }, args: ['true'], cwd: '/' },
    linux: { namespaces },
  };
}

describe('namespaces', () => {
  it('always isolates pid, mount, ipc and uts, and shares the VM network by default', () => {
    expect(planNamespaces(specWith([]), 'c')).toEqual({
      cloneFlags: ALWAYS,
      unshareFlags: 0,
      joins: [],
      joinFlags: ALWAYS,
    });
  });

  it('creates a network namespace only when asked without a path; cgroup is unshared later', () => {
    const plan = planNamespaces(specWith([{ type: 'network' }, { type: 'cgroup' }]), 'c');
    expect(plan).toEqual({
      cloneFlags: ALWAYS | CLONE_NEWNET,
      unshareFlags: CLONE_NEWCGROUP,
      joins: [],
      joinFlags: ALWAYS | CLONE_NEWNET | CLONE_NEWCGROUP,
    });
    expect(planNamespaces(specWith([{ type: 'network', path: '/var/run/netns/x' }]), 'c').cloneFlags).toBe(ALWAYS);
  });

  it("joins a pod's ipc, uts and pid namespaces by /proc path instead of making them", () => {
    const plan = planNamespaces(
      specWith([
        { type: 'ipc', path: '/proc/121/ns/ipc' },
        { type: 'uts', path: '/proc/121/ns/uts' },
        { type: 'pid', path: '/proc/121/ns/pid' },
        { type: 'mount' },
      ]),
      'c',
    );
    expect(plan.cloneFlags).toBe(CLONE_NEWNS);
    expect(plan.joins).toEqual([{ pid: 121, flags: CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID }]);
    expect(plan.joinFlags).toBe(ALWAYS);
  });

  it('refuses user namespaces, and joining by a path that names no process or another type', () => {
    expect(() => planNamespaces(specWith([{ type: 'user' }]), 'c')).toThrow(
      'container c: user namespaces are not supported in the guest',
    );
    expect(() => planNamespaces(specWith([{ type: 'ipc', path: '/var/run/ipc/x' }]), 'c')).toThrow(
      /joining an existing ipc namespace \(\/var\/run\/ipc\/x\) is not supported/,
    );
    expect(() => planNamespaces(specWith([{ type: 'ipc', path: '/proc/1/ns/uts' }]), 'c')).toThrow(
      /joining an existing ipc/,
    );
    expect(() => planNamespaces(specWith([{ type: 'mount', path: '/proc/1/ns/mnt' }]), 'c')).toThrow(
      /joining an existing mount/,
    );
  });
});
