// Rules between fields of different tables, which no single field's check can see.

import { SHELL_PLAIN_PATH } from '@vfs/contracts';
import { guestRuntime, machineMapsPmem } from './guest_runtime';
import type { VfsConfig } from './schema';

export interface ConstraintViolation {
  /** The key the message points at: the one whose value needs the other. */
  readonly path: readonly string[];
  readonly problem: string;
}

/** An explicit "pmem" on a machine that cannot map it (guest_runtime.ts machineMapsPmem). */
function pmemNeedsQ35(config: VfsConfig): ConstraintViolation | undefined {
  if (config.agent.runtime !== 'pmem' || machineMapsPmem(config.hypervisor.machine)) return undefined;
  return {
    path: ['agent', 'runtime'],
    problem: `"pmem" needs [hypervisor] machine = "q35", not "${config.hypervisor.machine}" (QEMU 7.2 maps virtio-pmem memory devices only on q35); use runtime = "image" or "share" on microvm`,
  };
}

/** A DAX window on a machine whose container shares sit on virtio-mmio, which has no BAR to hold it. */
function daxNeedsPci(config: VfsConfig): ConstraintViolation | undefined {
  if (config.daemon.dax_window_mib === 0 || config.hypervisor.machine === 'q35') return undefined;
  return {
    path: ['daemon', 'dax_window_mib'],
    problem: `DAX needs [hypervisor] machine = "q35", not "${config.hypervisor.machine}" (its shares are virtio-mmio devices, which have no PCI BAR for the window); set dax_window_mib = 0 or machine = "q35"`,
  };
}

/** A per-inode DAX threshold without a window for it to pick files for. */
function daxMinFileNeedsWindow(config: VfsConfig): ConstraintViolation | undefined {
  if (config.daemon.dax_min_file_kib === 0 || config.daemon.dax_window_mib > 0) return undefined;
  return {
    path: ['daemon', 'dax_min_file_kib'],
    problem: 'per-inode DAX needs a DAX window: set dax_window_mib > 0 (e.g. 256), or dax_min_file_kib = 0',
  };
}

/**
 * A template holds a VM with no share plugged: one whose guest boots from a runtime file (not the
 * runtime share), on q35 (whose ACPI hotplug plugs the shares after the resume), without DAX windows.
 */
function templateNeedsLatePlug(config: VfsConfig): ConstraintViolation | undefined {
  if (!config.factory.enable_template) return undefined;
  const why =
    config.hypervisor.machine !== 'q35'
      ? `[hypervisor] machine = "q35", not "${config.hypervisor.machine}"`
      : guestRuntime(config) === 'share'
        ? '[agent] runtime = "pmem" or "image", not the runtime share (a template VM has no share plugged)'
        : config.daemon.dax_window_mib > 0
          ? '[daemon] dax_window_mib = 0 (a DAX window is on the share devices the template has none of)'
          : undefined;
  return why === undefined
    ? undefined
    : { path: ['factory', 'enable_template'], problem: `a VM template needs ${why}` };
}

/** QEMU 7.2 reads a saved state through /bin/sh (`exec:cat PATH`): an absolute path of plain characters. */
function templatePathPlain(config: VfsConfig): ConstraintViolation | undefined {
  if (SHELL_PLAIN_PATH.test(config.factory.template_path)) return undefined;
  return {
    path: ['factory', 'template_path'],
    problem:
      'must be an absolute path of letters, digits and / . _ + - only (QEMU reads the saved state through a shell command)',
  };
}

export function constraintViolation(config: VfsConfig): ConstraintViolation | undefined {
  return (
    pmemNeedsQ35(config) ??
    daxNeedsPci(config) ??
    daxMinFileNeedsWindow(config) ??
    templateNeedsLatePlug(config) ??
    templatePathPlain(config)
  );
}
