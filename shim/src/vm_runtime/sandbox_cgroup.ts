// The sandbox's host cgroups, as Kata's sandbox_cgroup_only: the VM's processes (the shim, the
// daemon, QEMU) live in the cgroup the sandbox's spec names (linux.cgroupsPath: for a CRI pod its
// pause container's, under the pod cgroup kubelet made; for ctr `/<namespace>/<id>`), in every
// hierarchy, where runc would have put the container. The host then charges the VM to the pod:
// kubelet's pod limits and eviction, and CRI's PodSandboxStats (which reads the pod's cgroup), see
// what the sandbox costs. The shim enters them before it starts the daemon and QEMU, so those are
// born there; a pooled VM's processes are moved in when adopted (memory they touched before stays
// charged where it was). The shim leaves, and removes the leaf cgroups it made, once the VM is
// gone; levels above them that it made stay, as runc leaves them. cgroupfs paths only: a systemd
// driver's `slice:prefix:name` is left alone (logged).

import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cgroupsOf, mountinfoFields, mountOf } from '../cgroup_hierarchies';
import type { ShimLogger } from '../logger';
import type { ShimSpec } from '../oci_spec';
import type { PidRecord } from '../sandbox_state';
import { SandboxError } from '../sandbox_error';

/** How long a removal waits for killed processes to leave a cgroup (their exit still running). */
const EMPTY_WAIT_MS = 3000;
const EMPTY_POLL_MS = 20;

/**
 * The spec's cgroupsPath when it names a cgroup below a hierarchy's root by a cgroupfs path:
 * absolute, normalized, printable; undefined otherwise.
 */
export function specCgroupPath(spec: ShimSpec): string | undefined {
  const path = (spec.linux as { cgroupsPath?: unknown } | undefined)?.cgroupsPath;
  if (typeof path !== 'string' || !path.startsWith('/') || path === '/' || path.endsWith('/')) return undefined;
  if (posix.normalize(path) !== path) return undefined;
  return [...path].every((c) => c >= ' ' && c !== '\x7f') ? path : undefined;
}

/** One hierarchy's side of the sandbox cgroup. */
interface Placement {
  readonly key: string;
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

/** A v1 cpuset takes no task before it has CPUs and memory nodes: an empty level gets its parent's. */
function ensureCpuset(dir: string, parent: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    // Read and written, not copied: cgroup files report a size of 0.
    if (readFileSync(join(dir, file), 'utf8').trim() === '')
      writeFileSync(join(dir, file), readFileSync(join(parent, file), 'utf8'));
  }
}

/** A v2 level this shim made passes its controllers down to the next. */
function delegateControllers(dir: string): void {
  const available = readFileSync(join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
  if (available.length > 0) writeFileSync(join(dir, 'cgroup.subtree_control'), available.map((c) => `+${c}`).join(' '));
}

/**
 * mkdir -p of `path` in one hierarchy, each level prepared as runc prepares it; the leaf's directory
 * and whether this call made it.
 */
function makeCgroup(placement: Placement, path: string): { dir: string; made: boolean } {
  const parts = path.split('/').filter((p) => p !== '');
  let dir = placement.mount;
  let made = false;
  parts.forEach((part, i) => {
    const parent = dir;
    dir = join(dir, part);
    const isLeaf = i === parts.length - 1;
    try {
      mkdirSync(dir);
      made = true;
      if (placement.controllers.length === 0 && !isLeaf) delegateControllers(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      made = false;
    }
    if (placement.controllers.includes('cpuset')) ensureCpuset(dir, parent);
  });
  return { dir, made };
}

/** Children of a process (all its threads'), for a daemon whose recorded pid is unshare's. */
function childrenOf(pid: number): number[] {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return threads.flatMap((tid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    } catch (err) {
      // That thread is gone; the others still count.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH')
        return [];
      throw err;
    }
  });
}

function procsIn(dir: string): number[] {
  return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
}

/**
 * Kills what still runs in a sandbox cgroup (the sandbox's own processes: it made the cgroup), waits
 * for them to leave, which a process SIGKILLed a moment ago may not have yet, then removes it.
 */
async function removeCgroup(dir: string, log: ShimLogger): Promise<void> {
  const deadline = Date.now() + EMPTY_WAIT_MS;
  for (;;) {
    try {
      for (const pid of procsIn(dir)) killQuietly(pid);
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) {
        log.warn({ cgroup: dir, err: String(err) }, 'a sandbox cgroup was not removed');
        return;
      }
    }
    await sleep(EMPTY_POLL_MS);
  }
}

function killQuietly(pid: number): void {
  // A shim that could not go back to its own cgroup is still in the sandbox's.
  if (pid === process.pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export class SandboxCgroup {
  private constructor(
    private readonly placements: readonly Placement[],
    /** The leaf in each placement; only those this shim made are removed. */
    private readonly leaves: { readonly dir: string; readonly made: boolean }[],
    private readonly log: ShimLogger,
  ) {}

  /** The cgroups this shim made, which go with the sandbox (`delete` reads them from the state). */
  get made(): string[] {
    return this.leaves.filter((leaf) => leaf.made).map((leaf) => leaf.dir);
  }

  /** Makes the cgroup in every hierarchy and moves the shim in; undefined for a path vfs leaves alone. */
  static enter(spec: ShimSpec, log: ShimLogger): SandboxCgroup | undefined {
    const path = specCgroupPath(spec);
    if (path === undefined) {
      const given = (spec.linux as { cgroupsPath?: unknown } | undefined)?.cgroupsPath;
      if (given !== undefined)
        log.info({ cgroupsPath: given }, "not a cgroupfs path below the root: the VM stays in the shim's cgroups");
      return undefined;
    }
    const mountinfo = mountinfoFields();
    const placements: Placement[] = [];
    for (const line of cgroupsOf('self')) {
      const mount = mountOf(line, mountinfo);
      if (mount === undefined)
        log.warn({ hierarchy: line.key }, 'no mount of this cgroup hierarchy: the VM is not placed in it');
      else placements.push({ key: line.key, mount, controllers: line.controllers, previous: line.path });
    }
    const cgroup = new SandboxCgroup(placements, [], log);
    try {
      for (const placement of placements) {
        const leaf = makeCgroup(placement, path);
        cgroup.leaves.push(leaf);
        writeProcs(leaf.dir, process.pid);
      }
    } catch (err) {
      cgroup.goBack();
      throw SandboxError.wrap(err, `the sandbox cgroup ${path}`, 'host-failure');
    }
    log.debug({ cgroup: path, hierarchies: cgroup.leaves.length }, 'shim entered the sandbox cgroup');
    return cgroup;
  }

  /** Moves processes started elsewhere (a pooled VM's) in, with their children. */
  adopt(records: readonly PidRecord[]): void {
    for (const { dir } of this.leaves) {
      for (const { pid } of records) {
        if (pid === process.pid) continue;
        for (const child of childrenOf(pid)) writeProcs(dir, child);
        writeProcs(dir, pid);
      }
    }
  }

  /** Back to where the shim was (logged where it cannot go). */
  private goBack(): void {
    this.leaves.forEach((_leaf, i) => {
      const placement = this.placements[i] as Placement;
      try {
        writeProcs(join(placement.mount, placement.previous), process.pid);
      } catch (err) {
        this.log.warn({ cgroup: placement.previous, err: String(err) }, 'the shim could not go back to its cgroup');
      }
    });
  }

  /** Once the VM is gone: back to where the shim was, then the cgroups it made go. */
  async leave(): Promise<void> {
    this.goBack();
    await removeSandboxCgroups(this.made, this.log);
  }
}

/** The cgroups a sandbox made, after its processes were killed (by its shim, or by `delete`). */
export async function removeSandboxCgroups(dirs: readonly string[], log: ShimLogger): Promise<void> {
  for (const dir of dirs) await removeCgroup(dir, log);
}
