import { fail, ok, renderChecks, warn } from './check_result';

describe('renderChecks', () => {
  it('aligns the lines and says the host can run sandboxes when nothing FAILs', () => {
    expect(renderChecks([ok('QEMU', 'qemu 7.2'), warn('cgroup v2', 'absent')])).toBe(
      'ok    QEMU       qemu 7.2\nwarn  cgroup v2  absent\nThis host can run vfs sandboxes.\n',
    );
  });

  it('counts the FAILs', () => {
    expect(renderChecks([fail('QEMU', 'not found'), fail('guest kernel', 'missing')])).toMatch(
      /\nThis host cannot run vfs sandboxes: 2 checks FAILed\.\n$/,
    );
  });
});
