// A process's cgroups in every hierarchy (cgroup v2, and each v1 hierarchy of a hybrid host) and
// where each hierarchy is mounted here: what moving processes between cgroups needs.

import { readFileSync } from 'node:fs';

export interface CgroupLine {
  /** `hierarchy-id:controllers`, the key both processes share for one hierarchy. */
  readonly key: string;
  readonly controllers: readonly string[];
  readonly path: string;
}

export function cgroupsOf(pid: number | 'self'): CgroupLine[] {
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
export function mountOf(line: CgroupLine, mountinfo: readonly string[][]): string | undefined {
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

/** This mount namespace's mounts, split into mountinfo's fields. */
export function mountinfoFields(): string[][] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '));
}
