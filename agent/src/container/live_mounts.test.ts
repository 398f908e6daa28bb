import { step } from './launch_plan';
import { addMountPlan, removeMountPlan } from './live_mounts';
import { MS_BIND, MS_NODEV, MS_NOSUID, MS_RDONLY, MS_REMOUNT } from './mount_options';
import { CLONE_NEWNS } from './namespaces';

describe('volumes of a running container', () => {
  test('a read-only volume is opened in the agent, attached inside the container and remounted read-only', () => {
    expect(addMountPlan(42, { source: '/run/vfs/shares/v1', destination: '/data', readonly: true })).toEqual([
      step('bindopen', '/run/vfs/shares/v1', '1'),
      step('join', 42, CLONE_NEWNS),
      step('bindmove', 0, '/data'),
      step('mount', '', '/data', '', MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_RDONLY, ''),
    ]);
  });

  test('a read-write volume keeps nosuid and nodev', () => {
    const plan = addMountPlan(7, { source: '/s', destination: '/rw', readonly: false });
    expect(plan[3]).toEqual(step('mount', '', '/rw', '', MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV, ''));
  });

  test('removal joins the container and unmounts without detaching, so a busy volume stays', () => {
    expect(removeMountPlan(42, '/data')).toEqual([step('join', 42, CLONE_NEWNS), step('umount', '/data', 0)]);
  });
});
