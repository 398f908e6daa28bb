// The check that the configured QEMU can give exports a DAX window (@vfs/contracts qemu_dax). It
// FAILs only when the configuration asks for DAX (daemon.dax_window_mib > 0); otherwise it says
// whether DAX could be turned on.
import { DAX_DEVICE, DAX_PROPERTY, devicePropertyNames, OUR_QEMU, qemuCanDax } from '@vfs/contracts';
import type { CommandResult } from '../host/command_output';
import { type CheckResult, fail, ok, warn } from './check_result';

const WHAT = 'QEMU DAX';
const REMEDY = `set hypervisor.path to our QEMU (make vmm: ${OUR_QEMU})`;

/** Why this QEMU cannot map DAX windows, or null when it can. */
function daxProblem(properties: CommandResult): string | null {
  if (!properties.ok) return `cannot list the properties of ${DAX_DEVICE}: ${properties.error}`;
  return qemuCanDax(devicePropertyNames(properties.stdout)) ? null : `${DAX_DEVICE} has no ${DAX_PROPERTY} property`;
}

/** `properties`: the output of `QEMU -device vhost-user-fs-pci,help` (QEMU_DAX_PROBE_ARGS). */
export function checkQemuDax(daxWindowMib: number, properties: CommandResult): CheckResult {
  const problem = daxProblem(properties);
  if (problem === null) {
    const state = daxWindowMib > 0 ? `on, ${daxWindowMib} MiB windows` : 'off (daemon.dax_window_mib = 0)';
    return ok(WHAT, `${DAX_DEVICE} has ${DAX_PROPERTY}; DAX ${state}`);
  }
  return daxWindowMib > 0
    ? fail(WHAT, `daemon.dax_window_mib = ${daxWindowMib} but QEMU cannot map DAX windows: ${problem}; ${REMEDY}`)
    : warn(WHAT, `unavailable (${problem}); DAX is off, to turn it on ${REMEDY}`);
}
