// Where the guest's Node and agent come from, once [agent] runtime = "auto" is resolved against
// the machine. Every party that acts on it (the shim's VM, the pool's fingerprint, `vfs-runtime
// check`, the benchmarks) resolves it here, so they never disagree.

import type { VfsConfig } from './schema';

export const GUEST_RUNTIMES = ['share', 'image', 'pmem'] as const;
export type GuestRuntime = (typeof GUEST_RUNTIMES)[number];

/**
 * QEMU 7.2 plugs virtio-pmem-pci, a memory device, only on PC machines: microvm (with or without
 * pcie=on) realizes the device but never maps its memory (`info memory-devices` shows memaddr 0).
 */
export function machineMapsPmem(machine: VfsConfig['hypervisor']['machine']): boolean {
  return machine === 'q35';
}

/**
 * "auto" is "pmem" where QEMU 7.2 can map a virtio-pmem device (q35), else "share": the runtime
 * from one host page cache wherever the machine allows it, and a configuration that names only
 * a microvm machine keeps working.
 */
export function guestRuntime(config: {
  readonly hypervisor: Pick<VfsConfig['hypervisor'], 'machine'>;
  readonly agent: Pick<VfsConfig['agent'], 'runtime'>;
}): GuestRuntime {
  const { runtime } = config.agent;
  if (runtime !== 'auto') return runtime;
  return machineMapsPmem(config.hypervisor.machine) ? 'pmem' : 'share';
}
