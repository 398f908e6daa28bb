// Command line of `make bench-memory ARGS="…"`.

import { parseArgs } from 'node:util';
import { CONFIG_SCHEMA, GUEST_RUNTIMES, type GuestRuntime, type VfsConfig } from '@vfs/runtime-config';
import { countArg } from '../bench_common/count_arg';

export type Machine = VfsConfig['hypervisor']['machine'];

export interface MemoryArgs {
  /** Each figure is measured with this many sandboxes up at once, in order (--sandboxes 1,3,10). */
  readonly sandboxes: readonly number[];
  readonly jsonPath: string | undefined;
  /**
   * Where the guest's runtime comes from, one DAX-off cell each (--runtime share,pmem); the first
   * is also the one of the DAX cells. None: the configured [agent] runtime alone.
   */
  readonly runtimes: readonly GuestRuntime[] | undefined;
  /** [hypervisor] machine for every vfs cell (--machine q35: runtime pmem needs it); none: configured. */
  readonly machine: Machine | undefined;
  /**
   * [hypervisor] path for every vfs cell (--qemu PATH), so DAX off and on run on one QEMU: only ours
   * (`make vmm`) has a DAX window. None: the configured QEMU.
   */
  readonly qemu: string | undefined;
  /**
   * Every vfs sandbox resumes a VM template ([factory] enable_template) that the bench saves first
   * (--template), instead of booting: DAX on is then not measured (a template has no DAX window).
   */
  readonly template: boolean;
}

export const USAGE =
  'usage: bench-memory [--sandboxes N or N,N,… (3)] [--runtime share,image,pmem] [--machine microvm-pcie|microvm|q35] [--qemu PATH] [--template] [--json FILE]';

export class MemoryArgsError extends Error {
  constructor(message: string) {
    super(`${message}\n${USAGE}`);
    this.name = 'MemoryArgsError';
  }
}

function runtimesArg(list: string | undefined): GuestRuntime[] | undefined {
  if (list === undefined) return undefined;
  const runtimes = list.split(',').map((name) => {
    const runtime = GUEST_RUNTIMES.find((known) => known === name.trim());
    if (runtime === undefined)
      throw new MemoryArgsError(
        `--runtime: "${name}" is not one of ${GUEST_RUNTIMES.map((known) => `"${known}"`).join(', ')}`,
      );
    return runtime;
  });
  if (new Set(runtimes).size !== runtimes.length) throw new MemoryArgsError(`--runtime: "${list}" names one twice`);
  return runtimes;
}

/** A template is saved with one configuration: the other runtimes' cells would boot. */
function templateArg(template: boolean, runtimes: string | undefined): boolean {
  if (template && runtimes !== undefined)
    throw new MemoryArgsError('--template measures one runtime: not with --runtime');
  return template;
}

function machineArg(name: string | undefined): Machine | undefined {
  if (name === undefined) return undefined;
  const field = CONFIG_SCHEMA.hypervisor.machine;
  const machine = field.read(name);
  if (machine === undefined) throw new MemoryArgsError(`--machine: "${name}" is not ${field.expected}`);
  return machine;
}

export function parseMemoryArgs(argv: readonly string[]): MemoryArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sandboxes: { type: 'string' },
      json: { type: 'string' },
      runtime: { type: 'string' },
      machine: { type: 'string' },
      qemu: { type: 'string' },
      template: { type: 'boolean' },
    },
    strict: true,
  });
  const counts = (values.sandboxes ?? '3').split(',').map((n) => countArg(n.trim(), 3, 'sandboxes', 1, USAGE));
  return {
    sandboxes: counts,
    jsonPath: values.json,
    runtimes: runtimesArg(values.runtime),
    machine: machineArg(values.machine),
    qemu: values.qemu,
    template: templateArg(values.template === true, values.runtime),
  };
}
