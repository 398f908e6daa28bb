/**
 * What the guest needs once before its first container: cgroup2 on /sys/fs/cgroup with the cpu,
 * memory and pids controllers delegated to /vfs, devpts on /dev/pts (opening /dev/ptmx needs
 * it), a bpffs for the device programs (device_rules.ts), and the stage directory rootfs.ts
 * mounts over. /init mounts none of these filesystems; the launcher does (Node has no mount(2)),
 * in one run, skipped for whatever is already mounted.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@vfs/contracts';
import { CGROUP_ROOT, CONTAINERS_CGROUP, CONTROLLERS } from './cgroups';
import { DEVICE_PROGRAMS_DIR } from './device_rules';
import { ContainerError } from './errors';
import { step, type PlanStep } from './launch_plan';
import { Launch } from './process_launcher';
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from './mount_options';
import { STAGE_DIR } from './rootfs';

/** Filesystem type mounted at each mount point, from /proc/self/mounts. */
export function mountedTypes(mounts: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const line of mounts.split('\n')) {
    const [, target, type] = line.split(' ');
    if (target !== undefined && type !== undefined) types.set(target, type);
  }
  return types;
}

export function guestSetupSteps(types: ReadonlyMap<string, string>): PlanStep[] {
  const steps: PlanStep[] = [];
  if (types.get(CGROUP_ROOT) !== 'cgroup2') {
    steps.push(step('mount', 'cgroup2', CGROUP_ROOT, 'cgroup2', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'nsdelegate'));
  }
  if (types.get('/dev/pts') !== 'devpts') {
    steps.push(step('mkdirp', '/dev/pts', '755'));
    steps.push(step('mount', 'devpts', '/dev/pts', 'devpts', MS_NOSUID | MS_NOEXEC, 'mode=0620,ptmxmode=0666,gid=5'));
  }
  if (types.get(DEVICE_PROGRAMS_DIR) !== 'bpf') {
    steps.push(step('mkdirp', DEVICE_PROGRAMS_DIR, '700'));
    steps.push(step('mount', 'bpf', DEVICE_PROGRAMS_DIR, 'bpf', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'mode=0700'));
  }
  return steps;
}

function delegateControllers(): void {
  const enable = CONTROLLERS.map((c) => `+${c}`).join(' ');
  writeFileSync(join(CGROUP_ROOT, 'cgroup.subtree_control'), enable);
  if (!existsSync(CONTAINERS_CGROUP)) mkdirSync(CONTAINERS_CGROUP);
  writeFileSync(join(CONTAINERS_CGROUP, 'cgroup.subtree_control'), enable);
}

async function setUpGuest(launcherPath: string): Promise<void> {
  mkdirSync(STAGE_DIR, { recursive: true });
  const steps = guestSetupSteps(mountedTypes(readFileSync('/proc/self/mounts', 'utf8')));
  if (steps.length > 0) await new Launch({ launcherPath, plan: steps, context: {} }).done;
  delegateControllers();
}

let setup: Promise<void> | undefined;

/** Idempotent and shared: concurrent first containers wait on the same set-up. */
export function ensureGuestSetup(launcherPath: string): Promise<void> {
  setup ??= setUpGuest(launcherPath).catch((err: unknown) => {
    setup = undefined;
    throw new ContainerError('GUEST_SETUP_FAILED', `guest set-up failed: ${errorMessage(err)}`, { cause: err });
  });
  return setup;
}
