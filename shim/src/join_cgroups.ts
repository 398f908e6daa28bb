// Moves this process into another process's cgroups, in every hierarchy (cgroup v2, and each v1
// hierarchy of a hybrid host). A spare shim (spare_shim.ts) was started by the warm pool and sits
// in the pool's cgroups; once claimed it belongs where containerd put its `start`, as a shim
// containerd started would: stopping the pool's service (systemd kills its whole cgroup) must not
// stop the sandboxes its spares went on to serve.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupsOf, mountinfoFields, mountOf } from './cgroup_hierarchies';

/**
 * Moves process `mover` (this one by default) into `target`'s cgroups where it is elsewhere.
 * Throws, naming the hierarchy, when one cannot be joined; hierarchies joined before that stay
 * joined.
 */
export function joinCgroupsOf(target: number, mover: number = process.pid): void {
  const own = new Map(cgroupsOf(mover).map((line) => [line.key, line.path]));
  const moves = cgroupsOf(target).filter((line) => own.get(line.key) !== line.path);
  if (moves.length === 0) return;
  const mountinfo = mountinfoFields();
  for (const line of moves) {
    const mount = mountOf(line, mountinfo);
    if (mount === undefined)
      throw new Error(`cgroup ${line.key}:${line.path} of pid ${target}: no mount of that hierarchy here`);
    const procs = join(mount, line.path, 'cgroup.procs');
    try {
      writeFileSync(procs, String(mover));
    } catch (err) {
      throw new Error(`join cgroup ${procs}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
}
