/**
 * The virtio-fs shares mounted in the guest, by tag: mounted at CreateSandbox or MountShare,
 * unmounted at UnmountShare or DestroySandbox. Containers name directories as ShareRefs
 * (tag + relative path), which resolve to guest paths here. Node has no mount(2): the mounts
 * are a launcher plan without a child, run in the agent's own mount namespace.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join, posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Share, ShareRef } from '@vfs/proto/gen/agent/agent';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import { ContainerError } from '../container/errors';
import { step, type PlanStep } from '../container/launch_plan';
import { MS_RDONLY } from '../container/mount_options';
import { Launch } from '../container/process_launcher';
import type { SpareLauncher } from '../container/spare_launcher';
import { invalid } from './call_errors';

const MNT_DETACH = 2;
/** How often a mount of a hot-plugged tag is tried again while the guest has not probed it yet. */
const TAG_POLL_MS = 20;
const UNKNOWN_TAG_ERRNOS = new Set([constants.errno.EINVAL, constants.errno.ENOENT]);

/** Where Linux ≥ 6.9 lists the tag of each virtio-fs device it has probed: `<root>/<n>/tag`. */
export const VIRTIOFS_SYSFS = '/sys/fs/virtiofs';

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** The tags the guest's kernel has probed; undefined when it does not list them (Linux before 6.9). */
export function probedTags(root = VIRTIOFS_SYSFS): Set<string> | undefined {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  const tags = new Set<string>();
  for (const entry of entries) {
    try {
      tags.add(readFileSync(join(root, entry, 'tag'), 'utf8').trim());
    } catch (err) {
      // A device removed between the listing and the read.
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
  return tags;
}

/**
 * Waits until the kernel lists every tag, or the deadline (the mount then fails naming the tag);
 * false when the kernel keeps no list. The kernel lists a tag under the lock its mounts look it up
 * with, once the device is ready: a listed tag mounts.
 */
export async function waitForTags(
  tags: ReadonlySet<string>,
  deadline: number,
  root = VIRTIOFS_SYSFS,
): Promise<boolean> {
  for (;;) {
    const probed = probedTags(root);
    if (probed === undefined) return false;
    if ([...tags].every((tag) => probed.has(tag)) || Date.now() >= deadline) return true;
    await sleep(TAG_POLL_MS);
  }
}

export interface MountedShare {
  readonly tag: string;
  readonly mountPoint: string;
  readonly readonly: boolean;
}

function checkShare(share: Share): void {
  if (share.tag === '' || /[\s\0]/.test(share.tag))
    throw invalid(`share tag "${share.tag}" must be non-empty without blanks`);
  const mountPoint = share.mountPoint;
  if (
    !posix.isAbsolute(mountPoint) ||
    posix.normalize(mountPoint) !== mountPoint ||
    mountPoint === '/' ||
    mountPoint.includes('\0')
  ) {
    throw invalid(`share ${share.tag}: mount point "${mountPoint}" must be a normalized absolute path other than /`);
  }
  for (const option of share.options) {
    if (option === '' || /[,\0]/.test(option))
      throw invalid(`share ${share.tag}: mount option "${option}" is malformed`);
  }
}

/** A share's mount: its options are the virtiofs mount data (e.g. `dax=always`). */
export function mountSteps(share: Share): PlanStep[] {
  return [
    step('mkdirp', share.mountPoint, '755'),
    step('mount', share.tag, share.mountPoint, 'virtiofs', share.readonly ? MS_RDONLY : 0, share.options.join(',')),
  ];
}

/** A relative path inside a share that cannot climb out of it. */
function checkRelative(path: string, what: string): string {
  const normalized = posix.normalize(path === '' ? '.' : path);
  if (posix.isAbsolute(path) || normalized === '..' || normalized.startsWith('../') || path.includes('\0')) {
    throw invalid(`${what}: path "${path}" must be relative and stay inside its share`);
  }
  return normalized;
}

export interface ShareTableOptions {
  /** The kernel's list of probed virtio-fs tags (tests point it elsewhere). */
  readonly sysfsRoot?: string;
  /** The agent's launchers started ahead, for a mount in one run: CreateSandbox's is on a start's path. */
  readonly spare?: SpareLauncher;
}

export class ShareTable {
  private readonly shares = new Map<string, MountedShare>();
  private readonly sysfsRoot: string;
  private readonly spare: SpareLauncher | undefined;

  constructor(
    private readonly launcherPath: string,
    options: ShareTableOptions = {},
  ) {
    this.sysfsRoot = options.sysfsRoot ?? VIRTIOFS_SYSFS;
    this.spare = options.spare;
  }

  /**
   * Mounts every share in one launcher run, after the steps `before` makes (e.g. the hostname),
   * made when the run starts: a clock set from the host's time must not lag by the wait for the
   * tags. With `waitMs`, a share may be a hot-plugged device the guest has not probed yet: its tag
   * is waited for until that much time has passed, in the kernel's list of tags, or, on a kernel
   * without one, by trying each share's mount again while the tag is unknown.
   */
  async mount(shares: readonly Share[], before: () => readonly PlanStep[] = () => [], waitMs = 0): Promise<void> {
    const tags = new Set<string>();
    for (const share of shares) {
      checkShare(share);
      if (this.shares.has(share.tag) || tags.has(share.tag))
        throw new TtrpcError(Code.AlreadyExists, `share ${share.tag} is already mounted`);
      tags.add(share.tag);
    }
    const deadline = Date.now() + waitMs;
    if (waitMs > 0 && !(await waitForTags(tags, deadline, this.sysfsRoot))) {
      await this.mountEachWhenItsTagAppears(shares, before(), deadline);
    } else {
      const plan = [...before(), ...shares.flatMap(mountSteps)];
      if (plan.length > 0) await this.run(plan, this.spare);
    }
    for (const share of shares)
      this.shares.set(share.tag, { tag: share.tag, mountPoint: share.mountPoint, readonly: share.readonly });
  }

  /** One launcher run per share: a run tried again must not repeat mounts that succeeded. */
  private async mountEachWhenItsTagAppears(
    shares: readonly Share[],
    before: readonly PlanStep[],
    deadline: number,
  ): Promise<void> {
    if (before.length > 0) await this.run(before);
    for (const share of shares) await this.runUntilTagsAppear(mountSteps(share), deadline);
  }

  private run(plan: readonly PlanStep[], spare?: SpareLauncher): Promise<unknown> {
    return new Launch({ launcherPath: this.launcherPath, spare, plan, context: {} }).done;
  }

  private async runUntilTagsAppear(plan: readonly PlanStep[], deadline: number): Promise<void> {
    for (;;) {
      try {
        await this.run(plan);
        return;
      } catch (err) {
        // Linux 6.1 answers an unknown virtio-fs tag with EINVAL ("tag <…> not found"), newer ones with ENOENT.
        const unknownTag = err instanceof ContainerError && UNKNOWN_TAG_ERRNOS.has(err.errno ?? 0);
        if (!unknownTag || Date.now() >= deadline) throw err;
      }
      await sleep(TAG_POLL_MS);
    }
  }

  async unmount(tag: string, lazy: boolean): Promise<void> {
    const share = this.get(tag);
    const plan = [step('umount', share.mountPoint, lazy ? MNT_DETACH : 0)];
    await this.run(plan);
    this.shares.delete(tag);
  }

  /** Detaches every share (the VM is about to stop: busy mounts must not hold it up). */
  async unmountAll(): Promise<void> {
    const plan = [...this.shares.values()].map((share) => step('umount', share.mountPoint, MNT_DETACH));
    if (plan.length > 0) await this.run(plan);
    this.shares.clear();
  }

  /** The guest path of a directory in a mounted share. */
  resolve(ref: ShareRef | undefined, what: string): string {
    if (ref === undefined) throw invalid(`${what}: no share given`);
    const share = this.get(ref.tag, what);
    return posix.join(share.mountPoint, checkRelative(ref.path, what));
  }

  private get(tag: string, what = 'share'): MountedShare {
    const share = this.shares.get(tag);
    if (share === undefined) throw new TtrpcError(Code.NotFound, `${what}: share ${tag} is not mounted`);
    return share;
  }
}
