import { step } from './launch_plan';
import {
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  parseMountOptions,
} from './mount_options';
import { devIsTmpfs, mountSteps, withDefaultMounts } from './mounts';

describe('mount options', () => {
  it('splits flags, propagation and data, with clearing words', () => {
    expect(parseMountOptions(['nosuid', 'ro', 'rw', 'noexec', 'rprivate', 'size=64k', 'mode=755', 'defaults'])).toEqual(
      {
        flags: MS_NOSUID | MS_NOEXEC,
        propagation: MS_PRIVATE | MS_REC,
        data: 'size=64k,mode=755',
      },
    );
  });
});

describe('container mounts', () => {
  it('adds the defaults missing from the spec, children after the spec parent', () => {
    const mounts = withDefaultMounts([
      { destination: '/dev/', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/data', type: 'bind', source: '/run/vfs/shares/x', options: ['rbind', 'ro'] },
    ]);
    expect(mounts.map((m) => m.destination)).toEqual([
      '/proc',
      '/sys',
      '/dev',
      '/dev/pts',
      '/dev/shm',
      '/dev/mqueue',
      '/data',
    ]);
    expect(devIsTmpfs(mounts)).toBe(true);
  });

  it('opens bind sources before pivot_root and attaches and remounts them after', () => {
    const { beforePivot, afterPivot } = mountSteps([
      { destination: '/data', type: 'bind', source: '/src', options: ['rbind', 'ro', 'nodev', 'rprivate'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro'] },
    ]);
    expect(beforePivot).toEqual([step('bindopen', '/src', '1')]);
    expect(afterPivot).toEqual([
      step('bindmove', 0, '/data'),
      step('mount', '', '/data', '', MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV, ''),
      step('mount', '', '/data', '', MS_PRIVATE | MS_REC, ''),
      step('mkdirp', '/sys/fs/cgroup', '755'),
      step('mount', 'cgroup', '/sys/fs/cgroup', 'cgroup2', MS_RDONLY, ''),
    ]);
  });
});
