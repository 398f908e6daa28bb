/**
 * Namespaces of a container. Every container gets its own mount namespace (the agent needs it for
 * pivot_root), and its own pid, ipc and uts namespaces unless the spec names another process's
 * (`/proc/<pid>/ns/<type>`: a Kubernetes pod's containers share their pause container's ipc and
 * uts, and pid when the pod asks): those are joined with setns before the clone. Network and
 * cgroup namespaces are new only when the spec lists them without a path; otherwise the container
 * shares the VM's network, which is the sandbox's network. A network entry with a path names a
 * host namespace (CRI's pod netns): inside the VM the pod's network is the VM's own, so it is
 * shared, as Kata does.
 */
import type { ContainerSpec } from '../oci/container_spec';
import { ContainerError } from './errors';

export const CLONE_NEWNS = 0x0002_0000;
export const CLONE_NEWCGROUP = 0x0200_0000;
export const CLONE_NEWUTS = 0x0400_0000;
export const CLONE_NEWIPC = 0x0800_0000;
export const CLONE_NEWPID = 0x2000_0000;
export const CLONE_NEWNET = 0x4000_0000;

/** Namespaces of a running process the new container enters instead of making its own. */
export interface NamespaceJoin {
  readonly pid: number;
  readonly flags: number;
}

export interface NamespacePlan {
  /** Created by clone3 with the child. */
  readonly cloneFlags: number;
  /** Unshared by the child once it is inside its cgroup, so the cgroup namespace is rooted there. */
  readonly unshareFlags: number;
  /** Entered by the launcher before the clone (a pod's shared namespaces). */
  readonly joins: readonly NamespaceJoin[];
  /** What an exec joins (setns through the init's pidfd). */
  readonly joinFlags: number;
}

/** The types a container may share with another process by path, and their clone flags. */
const JOINABLE: Readonly<Record<string, number>> = { pid: CLONE_NEWPID, ipc: CLONE_NEWIPC, uts: CLONE_NEWUTS };
const OWN = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
const PROC_NS_PATH = /^\/proc\/(\d+)\/ns\/(pid|ipc|uts)$/;

function joinOf(type: string, path: string, containerId: string): NamespaceJoin {
  const match = PROC_NS_PATH.exec(path);
  const flags = JOINABLE[type];
  if (match === null || flags === undefined || match[2] !== type) {
    throw new ContainerError('UNSUPPORTED', `joining an existing ${type} namespace (${path}) is not supported`, {
      containerId,
    });
  }
  return { pid: Number(match[1]), flags };
}

/** One join per process, with every type taken from it. */
function merge(joins: readonly NamespaceJoin[]): NamespaceJoin[] {
  const byPid = new Map<number, number>();
  for (const join of joins) byPid.set(join.pid, (byPid.get(join.pid) ?? 0) | join.flags);
  return [...byPid].map(([pid, flags]) => ({ pid, flags }));
}

export function planNamespaces(spec: ContainerSpec, containerId: string): NamespacePlan {
  let cloneFlags = OWN;
  let unshareFlags = 0;
  const joins: NamespaceJoin[] = [];
  for (const ns of spec.linux?.namespaces ?? []) {
    if (ns.type === 'user') {
      throw new ContainerError('UNSUPPORTED', 'user namespaces are not supported in the guest', { containerId });
    }
    if (ns.type === 'network') {
      if (ns.path === undefined) cloneFlags |= CLONE_NEWNET;
      continue;
    }
    if (ns.path !== undefined) {
      const join = joinOf(ns.type, ns.path, containerId);
      joins.push(join);
      cloneFlags &= ~join.flags;
      continue;
    }
    if (ns.type === 'cgroup') unshareFlags |= CLONE_NEWCGROUP;
  }
  const joined = joins.reduce((flags, join) => flags | join.flags, 0);
  return { cloneFlags, unshareFlags, joins: merge(joins), joinFlags: cloneFlags | unshareFlags | joined };
}
