/**
 * What the guest needs once before its first container: the file systems /init mounted before
 * the agent started (contracts GUEST_MOUNTS: cgroup2, devpts, the device programs' bpffs),
 * checked here; the cpu, memory and pids controllers delegated to /vfs; and the stage directory
 * rootfs.ts mounts over.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, GUEST_CGROUP_ROOT, GUEST_MOUNTS } from '@vfs/contracts';
import { CONTAINERS_CGROUP, CONTROLLERS } from './cgroups';
import { ContainerError } from './errors';
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

/** The GUEST_MOUNTS not mounted, as "<type> at <target>". */
export function missingGuestMounts(types: ReadonlyMap<string, string>): string[] {
  return GUEST_MOUNTS.filter((m) => types.get(m.target) !== m.type).map((m) => `${m.type} at ${m.target}`);
}

function delegateControllers(): void {
  const enable = CONTROLLERS.map((c) => `+${c}`).join(' ');
  writeFileSync(join(GUEST_CGROUP_ROOT, 'cgroup.subtree_control'), enable);
  if (!existsSync(CONTAINERS_CGROUP)) mkdirSync(CONTAINERS_CGROUP);
  writeFileSync(join(CONTAINERS_CGROUP, 'cgroup.subtree_control'), enable);
}

function checkGuestMounts(): void {
  const missing = missingGuestMounts(mountedTypes(readFileSync('/proc/self/mounts', 'utf8')));
  if (missing.length > 0) {
    throw new ContainerError('GUEST_SETUP_FAILED', `guest set-up failed: /init did not mount ${missing.join(', ')}`);
  }
}

let done = false;

/** Idempotent: the agent's preload or the first container does it; after a failure the next tries again. */
export function ensureGuestSetup(): void {
  if (done) return;
  checkGuestMounts();
  try {
    mkdirSync(STAGE_DIR, { recursive: true });
    delegateControllers();
  } catch (err) {
    throw new ContainerError('GUEST_SETUP_FAILED', `guest set-up failed: ${errorMessage(err)}`, { cause: err });
  }
  done = true;
}
