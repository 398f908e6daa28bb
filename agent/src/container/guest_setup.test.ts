import { DEVICE_PROGRAMS_DIR } from './device_rules';
import { step } from './launch_plan';
import { guestSetupSteps, mountedTypes } from './guest_setup';
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from './mount_options';

describe('guest set-up', () => {
  it("mounts cgroup2, devpts and the device programs' bpffs only where they are missing", () => {
    const bare = mountedTypes('rootfs / rootfs rw 0 0\nproc /proc proc rw 0 0\n');
    expect(guestSetupSteps(bare)).toEqual([
      step('mount', 'cgroup2', '/sys/fs/cgroup', 'cgroup2', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'nsdelegate'),
      step('mkdirp', '/dev/pts', '755'),
      step('mount', 'devpts', '/dev/pts', 'devpts', MS_NOSUID | MS_NOEXEC, 'mode=0620,ptmxmode=0666,gid=5'),
      step('mkdirp', DEVICE_PROGRAMS_DIR, '700'),
      step('mount', 'bpf', DEVICE_PROGRAMS_DIR, 'bpf', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'mode=0700'),
    ]);
    const ready = mountedTypes(
      `cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\ndevpts /dev/pts devpts rw 0 0\nbpf ${DEVICE_PROGRAMS_DIR} bpf rw 0 0\n`,
    );
    expect(guestSetupSteps(ready)).toEqual([]);
  });
});
