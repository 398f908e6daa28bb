// The sandbox's host cgroups, as Kata's sandbox_cgroup_only: the VM's processes (the shim, the
// daemon, QEMU) live in the cgroup the sandbox's spec names (linux.cgroupsPath: for a CRI pod its
// pause container's, under the pod cgroup kubelet made; for ctr `/<namespace>/<id>`), in every
// hierarchy, where runc would have put the container. The host then charges the VM to the pod:
// kubelet's pod limits and eviction, and CRI's PodSandboxStats (which reads the pod's cgroup), see
// what the sandbox costs. The shim enters them before it starts the daemon and QEMU, so those are
// born there; a pooled VM's processes are moved in when adopted (memory they touched before stays
// charged where it was). The shim leaves, and removes them, once the VM is gone. cgroupfs paths
// only: a systemd driver's `slice:prefix:name` is left alone (logged).

import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupsOf, mountinfoFields, mountOf } from '../cgroup_hierarchies';
import type { ShimLogger } from '../logger';
import type { ShimSpec } from '../oci_spec';
import type { PidRecord } from '../sandbox_state';
import { SandboxError } from '../sandbox_error';

/** The spec's cgroupsPath when it is a cgroupfs path (absolute, no `..`); undefined otherwise. */
export function specCgroupPath(spec: ShimSpec): string | undefined {
  const path = (spec.linux as { cgroupsPath?: unknown } | undefined)?.cgroupsPath;
  return typeof path === 'string' && path.startsWith('/') && !path.split('/').includes('..') ? path : undefined;
}

/** One hierarchy's side of the sandbox cgroup. */
interface Placement {
  readonly mount: string;
  readonly controllers: readonly string[];
  /** Where the shim was in this hierarchy. */
  readonly previous: string;
}

function writeProcs(dir: string, pid: number): void {
  try {
    writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  } catch (err) {
    // Gone meanwhile: nothing to place.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * A new level's settings runc gives it too: a v1 cpuset takes no task before it has CPUs and memory
 * nodes (its parent's); a v2 level passes its controllers down to the next.
 */
function prepareLevel(dir: string, parent: string, placement: Placement, isLeaf: boolean): void {
  if (placement.controllers.includes('cpuset')) {
    // Read and written, not copied: cgroup files report a size of 0.
    for (const file of ['cpuset.cpus', 'cpuset.mems'])
      writeFileSync(join(dir, file), readFileSync(join(parent, file), 'utf8'));
  }
  if (placement.controllers.length === 0 && !isLeaf) {
    const available = readFileSync(join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
    if (available.length > 0)
      writeFileSync(join(dir, 'cgroup.subtree_control'), available.map((c) => `+${c}`).join(' '));
  }
}

/** mkdir -p of `path` in one hierarchy, each level it makes prepared as runc prepares it. */
function makeCgroup(placement: Placement, path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  let dir = placement.mount;
  parts.forEach((part, i) => {
    const parent = dir;
    dir = join(dir, part);
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw err;
    }
    prepareLevel(dir, parent, placement, i === parts.length - 1);
  });
  return dir;
}

/** Children of a process (all its threads'), for a daemon whose recorded pid is unshare's. */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function removeDir(dir: string, log: ShimLogger): void {
  try {
    rmdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    log.warn({ cgroup: dir, err: String(err) }, 'a sandbox cgroup was not removed');
  }
}

export class SandboxCgroup {
  private constructor(
    /** The cgroup's directory in each hierarchy. */
    readonly dirs: readonly string[],
    private readonly placements: readonly Placement[],
    private readonly log: ShimLogger,
  ) {}

  /** Makes the cgroup in every hierarchy and moves the shim in; undefined for a path vfs leaves alone. */
  static enter(spec: ShimSpec, log: ShimLogger): SandboxCgroup | undefined {
    const path = specCgroupPath(spec);
    if (path === undefined) {
      const given = (spec.linux as { cgroupsPath?: unknown } | undefined)?.cgroupsPath;
      if (given !== undefined)
        log.info({ cgroupsPath: given }, "not a cgroupfs path: the VM stays in the shim's cgroups");
      return undefined;
    }
    const mountinfo = mountinfoFields();
    const placements: Placement[] = [];
    for (const line of cgroupsOf('self')) {
      const mount = mountOf(line, mountinfo);
      if (mount !== undefined) placements.push({ mount, controllers: line.controllers, previous: line.path });
    }
    const dirs: string[] = [];
    const cgroup = new SandboxCgroup(dirs, placements, log);
    try {
      for (const placement of placements) {
        const dir = makeCgroup(placement, path);
        dirs.push(dir);
        writeProcs(dir, process.pid);
      }
    } catch (err) {
      cgroup.leave();
      throw SandboxError.wrap(err, `the sandbox cgroup ${path}`, 'host-failure');
    }
    log.debug({ cgroup: path, hierarchies: dirs.length }, 'shim entered the sandbox cgroup');
    return cgroup;
  }

  /** Moves processes started elsewhere (a pooled VM's) in, with their children. */
  adopt(records: readonly PidRecord[]): void {
    for (const dir of this.dirs) {
      for (const { pid } of records) {
        if (pid === process.pid) continue;
        for (const child of childrenOf(pid)) writeProcs(dir, child);
        writeProcs(dir, pid);
      }
    }
  }

  /** Back to where the shim was, then the cgroup goes; left (logged) if anything still runs in it. */
  leave(): void {
    this.placements.forEach((placement, i) => {
      const dir = this.dirs[i];
      if (dir === undefined) return;
      try {
        writeProcs(join(placement.mount, placement.previous), process.pid);
      } catch (err) {
        this.log.warn({ cgroup: placement.previous, err: String(err) }, 'the shim could not go back to its cgroup');
      }
      removeDir(dir, this.log);
    });
  }
}

/** `delete` after a crashed shim: the cgroups go once their processes are killed. */
export function removeSandboxCgroups(dirs: readonly string[], log: ShimLogger): void {
  for (const dir of dirs) removeDir(dir, log);
}
