// Host CPU of one process and everything descending from it, read from /proc while they run: the
// sum of every thread's schedstat run time. For processes a benchmark starts outside any cgroup of
// its own (a daemon under test, a QEMU), sampled before and after the measured work.

import { readdirSync, readFileSync } from 'node:fs';

function readText(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

/** The roots and every process descending from them, through each thread's /proc/PID/task/TID/children. */
export function processTree(...roots: number[]): number[] {
  // A set: a root may descend from another, and no process may count twice.
  const tree = new Set(roots);
  for (const pid of tree) {
    for (const tid of tasks(pid)) {
      for (const child of readText(`/proc/${pid}/task/${tid}/children`).split(' ')) {
        if (child.trim() !== '') tree.add(Number(child));
      }
    }
  }
  return [...tree];
}

/** The thread ids of `pid`; none once it is gone. */
function tasks(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

/** CPU time of every thread of `root`'s process tree, in ns; 0 for processes already gone. */
export function processTreeCpuNs(root: number): number {
  let total = 0;
  for (const pid of processTree(root)) {
    for (const tid of tasks(pid)) total += Number(readText(`/proc/${pid}/task/${tid}/schedstat`).split(' ')[0] || 0);
  }
  return total;
}
