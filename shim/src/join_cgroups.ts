// Moves this process into another process's cgroups, in every hierarchy (cgroup v2, and each v1
// hierarchy of a hybrid host). A spare shim (spare_shim.ts) was started by the warm pool and sits
// in the pool's cgroups; once claimed it belongs where containerd put its `start`, as a shim
// containerd started would: stopping the pool's service (systemd kills its whole cgroup) must not
// stop the sandboxes its spares went on to serve.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface CgroupLine {
  /** `hierarchy-id:controllers`, the key both processes share for one hierarchy. */
  readonly key: string;
  readonly controllers: readonly string[];
  readonly path: string;
}

function cgroupsOf(pid: number): CgroupLine[] {
  const lines: CgroupLine[] = [];
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    lines.push({
      key: line.slice(0, second),
      controllers: controllers === '' ? [] : controllers.split(','),
      path: line.slice(second + 1),
    });
  }
  return lines;
}

/** Where a hierarchy is mounted: cgroup2's mount, or the v1 mount carrying all its controllers. */
function mountOf(line: CgroupLine, mountinfo: readonly string[][]): string | undefined {
  for (const fields of mountinfo) {
    const dash = fields.indexOf('-');
    if (dash < 0 || fields[3] !== '/') continue;
    const fsType = fields[dash + 1];
    const superOptions = (fields[dash + 3] ?? '').split(',');
    if (line.controllers.length === 0 && fsType === 'cgroup2') return fields[4];
    if (line.controllers.length > 0 && fsType === 'cgroup' && line.controllers.every((c) => superOptions.includes(c)))
      return fields[4];
  }
  return undefined;
}

/**
 * Moves process `mover` (this one by default) into `target`'s cgroups where it is elsewhere.
 * Throws, naming the hierarchy, when one cannot be joined; hierarchies joined before that stay
 * joined.
 */
export function joinCgroupsOf(target: number, mover: number = process.pid): void {
  const own = new Map(cgroupsOf(mover).map((line) => [line.key, line.path]));
  const moves = cgroupsOf(target).filter((line) => own.get(line.key) !== line.path);
  if (moves.length === 0) return;
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '));
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
