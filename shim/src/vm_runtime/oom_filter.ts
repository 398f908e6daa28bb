// Which of the guest's OOM reports reach containerd as /tasks/oom. The container id comes from the
// guest, which is not trusted: only ids of this sandbox's containers pass (another pod's would be
// a forged event), at most one per container per window (a flood would swamp containerd's event
// stream). Foreign ids are logged, at most once per window, with how many were dropped; repeats
// within the window are not (a burst of kills in one container is normal, and one event says it).

import type { ShimLogger } from '../logger';

export const OOM_WINDOW_MS = 1000;

export interface OomFilterOptions {
  /** Whether the id names a container of this sandbox. */
  readonly isOurs: (containerId: string) => boolean;
  readonly publish: (containerId: string) => void;
  readonly log: ShimLogger;
  readonly windowMs?: number;
  readonly now?: () => number;
}

export function oomFilter(options: OomFilterOptions): (containerId: string) => void {
  const windowMs = options.windowMs ?? OOM_WINDOW_MS;
  const now = options.now ?? Date.now;
  /** When each container's last event went out; only this sandbox's ids, so it stays small. */
  const published = new Map<string, number>();
  let warnedAt = -Infinity;
  let foreign = 0;
  const dropForeign = (containerId: string, at: number): void => {
    foreign += 1;
    if (at - warnedAt < windowMs) return;
    options.log.warn(
      { oomContainer: containerId, dropped: foreign },
      'OOM reports from the guest for containers not in this sandbox dropped',
    );
    warnedAt = at;
    foreign = 0;
  };
  return (containerId) => {
    const at = now();
    if (!options.isOurs(containerId)) return dropForeign(containerId, at);
    const last = published.get(containerId);
    if (last !== undefined && at - last < windowMs) return;
    published.set(containerId, at);
    options.log.warn({ oomContainer: containerId }, 'OOM kill in the guest');
    options.publish(containerId);
  };
}
