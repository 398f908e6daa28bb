// Our QEMU (make vmm), which the DAX pair (ours-vmm, ours-dax) boots on: whether it is there and its
// vhost-user-fs-pci has the cache-size property our patch adds, and so which back ends a run gets.
// The pair is in the default set only when our QEMU is usable; asked for by name or --dax, it must be.
import { execFileSync } from 'node:child_process';
import {
  DAX_DEVICE,
  DAX_PROPERTY,
  devicePropertyNames,
  errorMessage,
  QEMU_DAX_PROBE_ARGS,
  qemuCanDax,
} from '@vfs/contracts';
import { type Backend, DAX_WINDOW_MIB, onOurQemu } from './backends';

export type VmmProbe =
  | { readonly ok: true; readonly version: string }
  | { readonly ok: false; readonly reason: string };

/** Whether the DAX pair was measured; the JSON's `dax` key. */
export type DaxStatus =
  | { readonly measured: true; readonly qemu: string; readonly qemuVersion: string; readonly windowMib: number }
  | { readonly measured: false; readonly reason: string };

export class DaxUnavailableError extends Error {}

/** The first line of `--version`, and the device's property list (a QEMU without our patch has no cache-size). */
export function probeVmmQemu(qemu: string): VmmProbe {
  const run = (args: readonly string[]): string =>
    execFileSync(qemu, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  try {
    const version = run(['--version']).split('\n')[0] ?? '';
    if (!qemuCanDax(devicePropertyNames(run(QEMU_DAX_PROBE_ARGS))))
      return { ok: false, reason: `${qemu} (${version}) has no ${DAX_DEVICE} ${DAX_PROPERTY}` };
    return { ok: true, version };
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, reason: missing ? `no ${qemu}` : `${qemu}: ${errorMessage(err).split('\n')[0]}` };
  }
}

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
  probe: () => VmmProbe,
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
