// A round's work: one job per distinct measurement, shared by the cells it serves. Each cell has
// its own vfs job; runc depends only on the image and K, the floor only on the VM's shape and K,
// so cells that agree on those share one runc and one floor burst per round.

import type { Cell } from './matrix';
import type { Kind } from './results';

export interface Job {
  readonly key: string;
  readonly kind: Kind;
  /** The cell whose settings the job runs with (the first that needs it). */
  readonly cell: Cell;
  /** Indices of the cells its runs count for. */
  readonly cells: readonly number[];
}

function jobKey(kind: Kind, cell: Cell, index: number): string {
  const c = cell.config;
  switch (kind) {
    case 'vfs':
      return `vfs #${index}`;
    case 'runc':
      return `runc ${c.image} K=${c.concurrency}`;
    case 'floor':
      return `floor ${c.machine} ${c.memory_mib}M ${c.vcpus}cpu K=${c.concurrency}`;
  }
}

/** The jobs of one round for the cells that run (by index into `cells`). */
export function planJobs(cells: readonly Cell[], runnable: readonly number[]): Job[] {
  const jobs = new Map<string, { key: string; kind: Kind; cell: Cell; cells: number[] }>();
  for (const kind of ['vfs', 'runc', 'floor'] as const) {
    for (const index of runnable) {
      const cell = cells[index] as Cell;
      const key = jobKey(kind, cell, index);
      const job = jobs.get(key);
      if (job === undefined) jobs.set(key, { key, kind, cell, cells: [index] });
      else job.cells.push(index);
    }
  }
  return [...jobs.values()];
}
