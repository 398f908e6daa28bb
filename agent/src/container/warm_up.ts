/**
 * A VM's first container costs the guest far more than the next ones: under TCG the first
 * CreateContainer took 263–316 ms against 80–156 for later ones (ARCHITECTURE.md, "The warm
 * pool"), spent on code run for the first time — the agent's planning and launch code, the
 * launcher, the kernel's namespace, overlay and mount paths, and QEMU's translation of all of
 * them. warmUp() pays that once, ahead of any container: it creates a throwaway container with
 * containerd's default mounts on an overlay of empty tmpfs dirs, holds it at the barrier (its
 * process never runs), kills it and removes it. Its mounts lived in its own mount namespace and
 * went with it; its cgroup and dirs are removed here.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseSpec } from '../oci/container_spec';
import { Container } from './container';

const WARM_UP_DIR = '/run/vfs/warm-up';

/** containerd's default spec for a Linux container (oci.populateDefaultUnixSpec), what a real one brings. */
const CAPABILITIES = [
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

function warmUpSpec(): unknown {
  return {
    ociVersion: '1.1.0',
    process: {
      user: { uid: 0, gid: 0 },
      args: ['/never-run'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      noNewPrivileges: true,
      capabilities: { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    },
    root: { path: 'rootfs' },
    mounts: [
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
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      // A path the guest kernel lacks is skipped, as runc does.
      maskedPaths: [
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
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** Creates, kills and removes a throwaway container; resolves once nothing of it is left. */
export async function warmUp(launcherPath: string): Promise<void> {
  const dir = join(WARM_UP_DIR, randomBytes(6).toString('hex'));
  const lower = join(dir, 'lower');
  try {
    for (const sub of ['lower/proc', 'lower/dev', 'lower/sys', 'upper', 'work'])
      mkdirSync(join(dir, sub), { recursive: true });
    const container = await Container.create(
      {
        id: `vfs-warm-up-${randomBytes(6).toString('hex')}`,
        spec: parseSpec(warmUpSpec()),
        rootfs: { kind: 'overlay', lowerDirs: [lower], upperDir: join(dir, 'upper'), workDir: join(dir, 'work') },
      },
      { launcherPath },
    );
    await container.kill();
    await container.delete();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
