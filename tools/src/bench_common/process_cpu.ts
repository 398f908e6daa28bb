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

/** The roots and every process descending from them, found through the ppid field of /proc/PID/stat. */
export function processTree(...roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readText(`/proc/${name}/stat`);
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const tree = [...roots];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/** CPU time of every thread of `root`'s process tree, in ns; 0 for processes already gone. */
export function processTreeCpuNs(root: number): number {
  let total = 0;
  for (const pid of processTree(root)) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) total += Number(readText(`/proc/${pid}/task/${tid}/schedstat`).split(' ')[0] || 0);
  }
  return total;
}
