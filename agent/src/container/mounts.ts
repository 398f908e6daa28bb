/**
 * The container's mounts: the spec's, plus the defaults every container needs (/proc, /sys,
 * /dev as tmpfs with devpts, shm and mqueue) where the spec has none at that destination.
 * Bind mounts are split in two steps: `bindopen` of the source before pivot_root (sources are
 * guest paths) and `bindmove` after it (destinations are container paths); every other mount
 * happens after pivot_root, so destinations resolve inside the container's root.
 */
import { CONTAINERD_DEFAULT_MOUNTS, type OciMount } from '@vfs/contracts';
import { step, type PlanStep } from './launch_plan';
import { MS_BIND, MS_REC, MS_REMOUNT, parseMountOptions } from './mount_options';

// containerd's, but /run: an image's own /run stays unless the spec mounts one.
const DEFAULT_MOUNTS: readonly OciMount[] = CONTAINERD_DEFAULT_MOUNTS.filter((m) => m.destination !== '/run');

function normalize(path: string): string {
  return path.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
}

function isAncestor(ancestor: string, path: string): boolean {
  return ancestor === '/' || path.startsWith(`${ancestor}/`);
}

/**
 * Spec mounts in spec order, each missing default inserted after the last mount that is its
 * ancestor (so /dev/pts follows the spec's own /dev) and after the defaults already placed
 * there, else after the defaults placed ahead of all spec mounts.
 */
export function withDefaultMounts(specMounts: readonly OciMount[]): OciMount[] {
  const result: OciMount[] = specMounts.map((m) => ({ ...m, destination: normalize(m.destination) }));
  const added = new Set<OciMount>();
  for (const def of DEFAULT_MOUNTS) {
    if (result.some((m) => m.destination === def.destination)) continue;
    let index = 0;
    result.forEach((m, i) => {
      if (isAncestor(m.destination, def.destination)) index = i + 1;
    });
    while (index < result.length && added.has(result[index] as OciMount)) index++;
    result.splice(index, 0, def);
    added.add(def);
  }
  return result;
}

export function isBindMount(mount: OciMount): boolean {
  return mount.type === 'bind' || (mount.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

export interface MountSteps {
  /** Run before pivot_root: open every bind source. */
  readonly beforePivot: PlanStep[];
  /** Run after pivot_root, in spec order. */
  readonly afterPivot: PlanStep[];
}

/** On the unified hierarchy a `cgroup` mount is cgroup2, as runc maps it. */
function fsType(mount: OciMount): string {
  return mount.type === 'cgroup' ? 'cgroup2' : (mount.type ?? '');
}

export function mountSteps(mounts: readonly OciMount[]): MountSteps {
  const beforePivot: PlanStep[] = [];
  const afterPivot: PlanStep[] = [];
  for (const mount of mounts) {
    const { flags, propagation, data } = parseMountOptions(mount.options ?? []);
    const target = mount.destination;
    if (isBindMount(mount)) {
      const index = beforePivot.length;
      beforePivot.push(step('bindopen', mount.source ?? '', flags & MS_REC ? '1' : '0'));
      afterPivot.push(step('bindmove', index, target));
      const extra = flags & ~(MS_BIND | MS_REC);
      // Bind flags (ro, nosuid…) apply only through a remount of the new bind.
      if (extra !== 0) afterPivot.push(step('mount', '', target, '', MS_BIND | MS_REMOUNT | extra, ''));
    } else {
      afterPivot.push(step('mkdirp', target, '755'));
      afterPivot.push(step('mount', mount.source ?? fsType(mount), target, fsType(mount), flags, data));
    }
    if (propagation !== 0) afterPivot.push(step('mount', '', target, '', propagation, ''));
  }
  return { beforePivot, afterPivot };
}

/** Whether /dev is a fresh tmpfs the agent must populate with device nodes. */
export function devIsTmpfs(mounts: readonly OciMount[]): boolean {
  return mounts.some((m) => m.destination === '/dev' && m.type === 'tmpfs');
}
