import { GUEST_DEVICE_PROGRAMS_DIR } from '@vfs/contracts';
import { missingGuestMounts, mountedTypes } from './guest_setup';

describe('guest set-up', () => {
  it("names each of cgroup2, devpts and the device programs' bpffs that /init did not mount", () => {
    const bare = mountedTypes('rootfs / rootfs rw 0 0\nproc /proc proc rw 0 0\ntmpfs /dev/pts tmpfs rw 0 0\n');
    expect(missingGuestMounts(bare)).toEqual([
      'cgroup2 at /sys/fs/cgroup',
      'devpts at /dev/pts',
      `bpf at ${GUEST_DEVICE_PROGRAMS_DIR}`,
    ]);
    const ready = mountedTypes(
      `cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\ndevpts /dev/pts devpts rw 0 0\nbpf ${GUEST_DEVICE_PROGRAMS_DIR} bpf rw 0 0\n`,
    );
    expect(missingGuestMounts(ready)).toEqual([]);
  });
});
