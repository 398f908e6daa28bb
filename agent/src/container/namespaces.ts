/**
 * Namespaces of a container. Every container gets its own pid, mount, ipc and uts namespaces
 * (the agent needs them for pivot_root, hostname and a private /dev/shm); network and cgroup
 * namespaces only when the spec lists them, otherwise the container shares the VM's network,
 * which is the sandbox's network. A network entry with a path names a host namespace (CRI's pod
 * netns): inside the VM the pod's network is the VM's own, so it is shared, as Kata does.
 */
import type { ContainerSpec } from '../oci/container_spec';
import { ContainerError } from './errors';

export const CLONE_NEWNS = 0x0002_0000;
export const CLONE_NEWCGROUP = 0x0200_0000;
export const CLONE_NEWUTS = 0x0400_0000;
export const CLONE_NEWIPC = 0x0800_0000;
export const CLONE_NEWPID = 0x2000_0000;
export const CLONE_NEWNET = 0x4000_0000;

export interface NamespacePlan {
  /** Created by clone3 with the child. */
  readonly cloneFlags: number;
  /** Unshared by the child once it is inside its cgroup, so the cgroup namespace is rooted there. */
  readonly unshareFlags: number;
  /** What an exec joins (setns through the init's pidfd). */
  readonly joinFlags: number;
}

const ALWAYS = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;

export function planNamespaces(spec: ContainerSpec, containerId: string): NamespacePlan {
  let cloneFlags = ALWAYS;
  let unshareFlags = 0;
  for (const ns of spec.linux?.namespaces ?? []) {
    if (ns.type === 'user') {
      throw new ContainerError('UNSUPPORTED', 'user namespaces are not supported in the guest', { containerId });
    }
    if (ns.type === 'network') {
      if (ns.path === undefined) cloneFlags |= CLONE_NEWNET;
      continue;
    }
    if (ns.path !== undefined) {
      throw new ContainerError(
        'UNSUPPORTED',
        `joining an existing ${ns.type} namespace (${ns.path}) is not supported`,
        {
          containerId,
        },
      );
    }
    if (ns.type === 'cgroup') unshareFlags |= CLONE_NEWCGROUP;
  }
  return { cloneFlags, unshareFlags, joinFlags: cloneFlags | unshareFlags };
}
