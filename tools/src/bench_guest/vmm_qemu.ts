// Our QEMU (make vmm), which the DAX pair (ours-vmm, ours-dax) boots on: whether it is there and its
// vhost-user-fs-pci has the cache-size property our patch adds, and so which back ends a run gets.
// The pair is in the default set only when our QEMU is usable; asked for by name or --dax, it must be.
import type { DaxQemuProbe } from '../bench_common/qemu_dax_probe';
import { type Backend, DAX_WINDOW_MIB, onOurQemu } from './backends';

/** Whether the DAX pair was measured; the JSON's `dax` key. */
export type DaxStatus =
  | { readonly measured: true; readonly qemu: string; readonly qemuVersion: string; readonly windowMib: number }
  | { readonly measured: false; readonly reason: string };

export class DaxUnavailableError extends Error {}

export interface BackendPlan {
  readonly backends: Backend[];
  readonly dax: DaxStatus;
  /** Printed under the table when the DAX pair was dropped: "DAX: needs make vmm (…)". */
  readonly daxNote: string | null;
}

/** The back ends to run: `wanted` without the DAX pair when our QEMU is unusable and the pair was optional. */
export function planBackends(
  wanted: readonly Backend[],
  daxRequired: boolean,
  qemu: string,
  probe: () => DaxQemuProbe,
): BackendPlan {
  if (!wanted.some(onOurQemu))
    return { backends: [...wanted], dax: { measured: false, reason: 'not asked for' }, daxNote: null };
  const found = probe();
  if (found.ok) {
    const dax = { measured: true, qemu, qemuVersion: found.version, windowMib: DAX_WINDOW_MIB } as const;
    return { backends: [...wanted], dax, daxNote: null };
  }
  const reason = `needs make vmm (${found.reason})`;
  if (daxRequired) throw new DaxUnavailableError(`DAX: ${reason}`);
  return { backends: wanted.filter((b) => !onOurQemu(b)), dax: { measured: false, reason }, daxNote: `DAX: ${reason}` };
}
