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
    expect(planNamespaces(specWith([]), 'c')).toEqual({ cloneFlags: ALWAYS, unshareFlags: 0, joinFlags: ALWAYS });
  });

  it('creates a network namespace only when asked without a path; cgroup is unshared later', () => {
    const plan = planNamespaces(specWith([{ type: 'network' }, { type: 'cgroup' }]), 'c');
    expect(plan).toEqual({
      cloneFlags: ALWAYS | CLONE_NEWNET,
      unshareFlags: CLONE_NEWCGROUP,
      joinFlags: ALWAYS | CLONE_NEWNET | CLONE_NEWCGROUP,
    });
    expect(planNamespaces(specWith([{ type: 'network', path: '/var/run/netns/x' }]), 'c').cloneFlags).toBe(ALWAYS);
  });

  it('refuses user namespaces and joining by path', () => {
    expect(() => planNamespaces(specWith([{ type: 'user' }]), 'c')).toThrow(
      'container c: user namespaces are not supported in the guest',
    );
    expect(() => planNamespaces(specWith([{ type: 'ipc', path: '/proc/1/ns/ipc' }]), 'c')).toThrow(
      /joining an existing ipc namespace/,
    );
  });
});
