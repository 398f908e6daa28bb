// The check that the configured QEMU can give exports a DAX window (@vfs/contracts qemu_dax). It
// FAILs only when the configuration asks for DAX (daemon.dax_window_mib > 0); otherwise it says
// whether DAX could be turned on.
import { DAX_DEVICE, qemuCanDax, qomTypeNames, SHMEM_MAPPING_TYPE } from '@vfs/contracts';
import type { CommandResult } from '../host/command_output';
import { type CheckResult, fail, ok, warn } from './check_result';
import { deviceNames } from './qemu_checks';

const WHAT = 'QEMU DAX';
const REMEDY = 'set hypervisor.path to a QEMU 11.0 or newer';

/** Why this QEMU cannot map DAX windows, or null when it can. */
function daxProblem(devices: CommandResult, types: CommandResult): string | null {
  if (!devices.ok) return `cannot list its devices: ${devices.error}`;
  if (!types.ok) return `cannot list its QOM types over QMP: ${types.error}`;
  const deviceSet = deviceNames(devices.stdout);
  if (qemuCanDax(deviceSet, qomTypeNames(types.stdout))) return null;
  return deviceSet.has(DAX_DEVICE)
    ? `${DAX_DEVICE} has no vhost-user shared memory (no ${SHMEM_MAPPING_TYPE})`
    : `no ${DAX_DEVICE}`;
}

export function checkQemuDax(daxWindowMib: number, devices: CommandResult, types: CommandResult): CheckResult {
  const problem = daxProblem(devices, types);
  if (problem === null) {
    const state = daxWindowMib > 0 ? `on, ${daxWindowMib} MiB windows` : 'off (daemon.dax_window_mib = 0)';
    return ok(WHAT, `${DAX_DEVICE} with vhost-user shared memory; DAX ${state}`);
  }
  return daxWindowMib > 0
    ? fail(WHAT, `daemon.dax_window_mib = ${daxWindowMib} but QEMU cannot map DAX windows: ${problem}; ${REMEDY}`)
    : warn(WHAT, `unavailable (${problem}); DAX is off, to turn it on ${REMEDY}`);
}
