import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { joinCgroupsOf } from './join_cgroups';

// Real cgroups: a scratch cgroup in one writable hierarchy of this host (cgroup v2's, else v1's
// pids), a process moved into it, and another that joins it.

/** A hierarchy to make a scratch cgroup in: its mount and the line key /proc/PID/cgroup uses. */
function scratchHierarchy(): { mount: string; controller: string } | undefined {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '));
  for (const fields of mounts) {
    const dash = fields.indexOf('-');
    if (dash < 0 || fields[3] !== '/') continue;
    const fsType = fields[dash + 1];
    const options = (fields[dash + 3] ?? '').split(',');
    if (fsType === 'cgroup2') return { mount: fields[4] as string, controller: '' };
    if (fsType === 'cgroup' && options.includes('pids')) return { mount: fields[4] as string, controller: 'pids' };
  }
  return undefined;
}

function cgroupIn(pid: number, controller: string): string | undefined {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path !== undefined && (controllers ?? '').split(',').includes(controller)) return path;
    if (path !== undefined && controller === '' && controllers === '') return path;
  }
  return undefined;
}

describe('joining the cgroups of another process', () => {
  const hierarchy = scratchHierarchy();
  const children: ChildProcess[] = [];
  let scratch: string | undefined;
  let parentProcs: string | undefined;

  afterEach(() => {
    for (const child of children.splice(0)) {
      if (parentProcs !== undefined) writeFileSync(parentProcs, String(child.pid));
      child.kill('SIGKILL');
    }
    if (scratch !== undefined && existsSync(scratch)) rmdirSync(scratch);
  });

  (hierarchy === undefined ? it.skip : it)('moves a process into the cgroup of another where it is elsewhere', () => {
    const { mount, controller } = hierarchy as { mount: string; controller: string };
    const sleeper = (): ChildProcess => {
      const child = spawn('sleep', ['60'], { stdio: 'ignore' });
      children.push(child);
      return child;
    };
    const target = sleeper();
    const mover = sleeper();
    const here = cgroupIn(target.pid as number, controller) as string;
    parentProcs = join(mount, here, 'cgroup.procs');
    scratch = join(mount, here, `vfs-join-test-${randomBytes(4).toString('hex')}`);
    mkdirSync(scratch);
    writeFileSync(join(scratch, 'cgroup.procs'), String(target.pid));
    const moved = `${here === '/' ? '' : here}/${scratch.split('/').pop()}`;
    expect(cgroupIn(target.pid as number, controller)).toBe(moved);
    expect(cgroupIn(mover.pid as number, controller)).toBe(here);

    joinCgroupsOf(target.pid as number, mover.pid as number);

    expect(cgroupIn(mover.pid as number, controller)).toBe(moved);
    // Already there: nothing to do.
    expect(() => joinCgroupsOf(target.pid as number, mover.pid as number)).not.toThrow();
  });
});
