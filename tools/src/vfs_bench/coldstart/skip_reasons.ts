// Which cells cannot run on this build and host, and why: they are reported as skipped with the
// reason, never measured with the setting quietly dropped.

import { spawnSync } from 'node:child_process';
import { OUR_QEMU } from '@vfs/contracts';
import { probeDaxQemu } from '../../bench_common/qemu_dax_probe';
import type { CellConfig } from './matrix';

export interface HostAbilities {
  /** Why DAX cells cannot run; undefined when they can. */
  readonly daxMissing: string | undefined;
  /** Why pool cells cannot run; undefined when they can. */
  readonly poolMissing: string | undefined;
}

function output(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

/**
 * QEMU's DAX window is our QEMU's vhost-user-fs-pci `cache-size` (`make vmm`); upstream QEMU (7.2
 * here) has none. The configured hypervisor.path (VFS_CONFIG) is the one every cell runs on.
 */
export function daxMissing(qemuPath: string): string | undefined {
  const probe = probeDaxQemu(qemuPath);
  if (probe.ok) return undefined;
  return `no virtio-fs DAX window: ${probe.reason}; set hypervisor.path to our QEMU, ${OUR_QEMU} (make vmm), in the configuration VFS_CONFIG names`;
}

/** The warm pool is `vfs-runtime pool serve` (issue 11, part 2), which vfs-bench starts (pool_keeper.ts). */
export function poolMissing(vfsRuntime: string): string | undefined {
  const help = output(vfsRuntime, ['help']);
  return /^\s*pool\b/m.test(help) ? undefined : `no warm pool in this build (${vfsRuntime} has no pool command)`;
}

export function probeHost(qemuPath: string, vfsRuntime: string, cells: readonly CellConfig[]): HostAbilities {
  return {
    daxMissing: cells.some((c) => c.dax) ? daxMissing(qemuPath) : undefined,
    poolMissing: cells.some((c) => c.pool) ? poolMissing(vfsRuntime) : undefined,
  };
}

export function skipReason(cell: CellConfig, host: HostAbilities): string | undefined {
  const reasons = [cell.dax ? host.daxMissing : undefined, cell.pool ? host.poolMissing : undefined].filter(
    (r): r is string => r !== undefined,
  );
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}
