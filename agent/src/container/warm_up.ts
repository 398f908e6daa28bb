/**
 * A VM's first container costs the guest far more than the next ones: under TCG the first
 * CreateContainer took 263–327 ms against 75–168 for later ones (ARCHITECTURE.md, "The warm
 * pool"), spent on code run for the first time — the agent's planning and launch code, the
 * launcher, the kernel's namespace, overlay and mount paths, and QEMU's translation of all of
 * them. warmUp() pays that once, ahead of any container: it creates a throwaway container the way
 * containerd specs one (the default mounts, masked and read-only paths, capabilities, namespaces)
 * on an overlay of empty tmpfs dirs, holds it at the barrier (its process never runs), kills it
 * and removes it. Its mounts lived in its own mount namespace and went with it; its cgroup and
 * dirs are removed here.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseSpec } from '../oci/container_spec';
import { Container } from './container';

/** On the guest's /run tmpfs, beside the rootfs stage. */
const WARM_UP_PARENT = '/run/vfs';

export interface WarmedUp {
  readonly containerId: string;
  /** The guest pid its init had, held at the barrier until killed. */
  readonly pid: number;
}

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

/** containerd's default Linux spec; the mounts are the ones the agent adds to any spec (mounts.ts). */
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

/**
 * Creates, kills and removes a throwaway container. Resolves once its process is reaped and its
 * cgroup and dirs are gone; on a failure whatever is left stays (the caller discards the VM).
 */
export async function warmUp(launcherPath: string): Promise<WarmedUp> {
  const containerId = `vfs-warm-up-${randomBytes(6).toString('hex')}`;
  const dir = join(WARM_UP_PARENT, containerId);
  try {
    // An empty lower dir: the launcher makes the mount points in the upper one.
    for (const sub of ['lower', 'upper', 'work']) mkdirSync(join(dir, sub), { recursive: true });
    const container = await Container.create(
      {
        id: containerId,
        spec: parseSpec(warmUpSpec()),
        rootfs: {
          kind: 'overlay',
          lowerDirs: [join(dir, 'lower')],
          upperDir: join(dir, 'upper'),
          workDir: join(dir, 'work'),
        },
      },
      { launcherPath },
    );
    const pid = container.init.pid;
    await container.kill();
    await container.delete();
    return { containerId, pid };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
