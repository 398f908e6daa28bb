// Rules between fields of different tables, which no single field's check can see.

import type { VfsConfig } from './schema';

export interface ConstraintViolation {
  /** The key the message points at: the one whose value needs the other. */
  readonly path: readonly string[];
  readonly problem: string;
}

/**
 * QEMU 7.2 plugs virtio-pmem-pci, a memory device, only on PC machines: microvm (with or without
 * pcie=on) realizes the device but never maps its memory (`info memory-devices` shows memaddr 0).
 */
function pmemNeedsQ35(config: VfsConfig): ConstraintViolation | undefined {
  if (config.agent.runtime !== 'pmem' || config.hypervisor.machine === 'q35') return undefined;
  return {
    path: ['agent', 'runtime'],
    problem: `"pmem" needs [hypervisor] machine = "q35", not "${config.hypervisor.machine}" (QEMU 7.2 maps virtio-pmem memory devices only on q35); use runtime = "image" or "share" on microvm`,
  };
}

export function constraintViolation(config: VfsConfig): ConstraintViolation | undefined {
  return pmemNeedsQ35(config);
}
