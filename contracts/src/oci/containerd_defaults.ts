// containerd's default Linux spec (`ctr oci spec`): what a container gets when nobody says
// otherwise. The agent adds its mounts to a spec that lacks them; the warm-ups spec their
// throwaway containers with all of it, as `ctr run` would.
import type { NamespaceType, OciDeviceRule, OciMount, OciSpec } from './spec';

const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

export const CONTAINERD_DEFAULT_MOUNTS: readonly OciMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  {
    destination: '/dev',
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
  },
  {
    destination: '/dev/pts',
    type: 'devpts',
    source: 'devpts',
    options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
  },
  {
    destination: '/dev/shm',
    type: 'tmpfs',
    source: 'shm',
    options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
  },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  {
    destination: '/run',
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
  },
];

const NAMESPACES: readonly NamespaceType[] = ['pid', 'ipc', 'uts', 'mount', 'network'];

/** Paths a runtime hides (a path the kernel lacks is skipped, as runc does). */
const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
  '/proc/scsi',
];

/**
 * The device cgroup rules `ctr run` adds after the default deny (containerd's
 * oci.WithDefaultUnixDevices), in its order: what a container's launcher turns into its device
 * program, which containers with the same rules share (agent/runtime/launcher/devices.c).
 */
const CTR_RUN_DEVICE_RULES: readonly OciDeviceRule[] = [
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' }, // console
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // the pts
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
];

const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The spec `ctr run IMAGE ID <args>` gives a container, with `mounts` for its mounts. */
export function containerdDefaultSpec(args: readonly string[], mounts: readonly OciMount[]): OciSpec {
  return {
    ociVersion: '1.1.0',
    process: {
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      capabilities: { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs' },
    mounts,
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }, ...CTR_RUN_DEVICE_RULES] },
      namespaces: NAMESPACES.map((type) => ({ type })),
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}
