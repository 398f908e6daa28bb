// Memory of a process tree from /proc/PID/smaps_rollup: RSS, and PSS (shared pages split among
// their users, so a daemon's share of the node or libc text is counted once across processes).
// A tree, because a daemon may run under a wrapper (ours under unshare in namespace sandbox mode).

import { readFileSync } from 'node:fs';
import { processTree } from './process_cpu';

export interface TreeMemory {
  readonly rssKib: number;
  readonly pssKib: number;
}

/** One `Field: N kB` line of a smaps_rollup text, in KiB. */
function rollupKib(smapsRollup: string, field: 'Rss' | 'Pss'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(smapsRollup);
  if (match === null) throw new Error(`smaps_rollup has no ${field} line`);
  return Number(match[1]);
}

/** Pss of a smaps_rollup text, in KiB. */
export function parsePssKib(smapsRollup: string): number {
  return rollupKib(smapsRollup, 'Pss');
}

/** RSS and PSS summed over `root` and its descendants; processes gone meanwhile count 0. */
export function processTreeMemory(root: number): TreeMemory {
  let rssKib = 0;
  let pssKib = 0;
  for (const pid of processTree(root)) {
    let rollup: string;
    try {
      rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
    } catch {
      continue;
    }
    rssKib += rollupKib(rollup, 'Rss');
    pssKib += rollupKib(rollup, 'Pss');
  }
  return { rssKib, pssKib };
}

/** One mapping's header line of /proc/PID/smaps: `start-end perms offset dev inode [path]`. */
export interface MappingHeader {
  readonly perms: string;
  readonly inode: number;
  readonly path: string;
}

/** `field` summed over the mappings of a /proc/PID/smaps text that `keep` selects, in KiB. */
export function mappingsKib(
  smaps: string,
  keep: (mapping: MappingHeader) => boolean,
  field: 'Pss' | 'Rss' | 'Swap',
): number {
  const line = new RegExp(`^${field}:\\s+(\\d+) kB$`);
  let kept = false;
  let kib = 0;
  for (const text of smaps.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(text);
    if (header !== null) {
      kept = keep({ perms: header[1] as string, inode: Number(header[2]), path: header[3] as string });
      continue;
    }
    const value = kept ? line.exec(text) : null;
    if (value !== null) kib += Number(value[1]);
  }
  return kib;
}

/** Pss summed over the mappings of a /proc/PID/smaps text that `keep` selects, in KiB. */
export function mappingsPssKib(smaps: string, keep: (mapping: MappingHeader) => boolean): number {
  return mappingsKib(smaps, keep, 'Pss');
}
