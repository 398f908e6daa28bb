import { daemonProfile } from './daemon_profile';

test('a profiled daemon writes its profile into the directory, outside any sandbox or seccomp filter', () => {
  expect(daemonProfile('/prof')).toEqual({
    nodeFlags: ['--cpu-prof', '--cpu-prof-dir=/prof'],
    daemonArgs: ['--sandbox=none', '--seccomp=none'],
  });
});
