/**
 * Volumes added to and removed from a running container (vfs-runtime volume): the launcher opens
 * the source in the agent's mount namespace (`bindopen`), joins the container's (`join` enters
 * its root too), and attaches the bind there (`bindmove`); a read-only volume is then remounted
 * read-only, as the container's own binds are (mounts.ts). Removal joins and unmounts; a busy
 * volume stays (EBUSY), as umount(8) would leave it.
 */
import { step, type PlanStep } from './launch_plan';
import { MS_BIND, MS_NODEV, MS_NOSUID, MS_RDONLY, MS_REMOUNT } from './mount_options';
import { CLONE_NEWNS } from './namespaces';

export interface LiveMount {
  /** Guest path of the directory or file to bind (in a mounted share). */
  readonly source: string;
  /** Absolute path inside the container. */
  readonly destination: string;
  readonly readonly: boolean;
}

export function addMountPlan(initPid: number, mount: LiveMount): PlanStep[] {
  const flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (mount.readonly ? MS_RDONLY : 0);
  return [
    step('bindopen', mount.source, '1'),
    step('join', initPid, CLONE_NEWNS),
    step('bindmove', 0, mount.destination),
    step('mount', '', mount.destination, '', flags, ''),
  ];
}

export function removeMountPlan(initPid: number, destination: string): PlanStep[] {
  return [step('join', initPid, CLONE_NEWNS), step('umount', destination, 0)];
}
