// How a cell's settings reach the shim: a configuration.toml per cell, the effective configuration
// with the cell's machine, memory, vCPUs, cache mode, DAX window, guest runtime and VM template, passed to each `ctr run` with
// --runtime-config-path (it then outranks VFS_CONFIG and /etc/vfs, as config_lookup.ts says).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_DAX_WINDOW_MIB } from '@vfs/contracts';
import { ConfigError, parseConfig, type VfsConfig } from '@vfs/runtime-config';
import { stringify } from 'smol-toml';
import type { CellConfig } from './matrix';

/** A template-on cell's template lives under this, one per cell: on tmpfs, removed at the end (template_keeper.ts). */
export const BENCH_TEMPLATE_ROOT = `/dev/shm/vfs-bench-${process.pid}`;

export function cellTemplatePath(index: number): string {
  return join(BENCH_TEMPLATE_ROOT, `cell-${index}`);
}

export function cellRuntimeConfig(base: VfsConfig, cell: CellConfig, index = 0): VfsConfig {
  return {
    ...base,
    hypervisor: { ...base.hypervisor, machine: cell.machine, memory_mib: cell.memory_mib, vcpus: cell.vcpus },
    daemon: { ...base.daemon, cache: cell.cache, dax_window_mib: cell.dax ? DEFAULT_DAX_WINDOW_MIB : 0 },
    agent: { ...base.agent, runtime: cell.runtime },
    factory: { ...base.factory, enable_template: cell.template, template_path: cellTemplatePath(index) },
  };
}

export function cellConfigToml(base: VfsConfig, cell: CellConfig, index = 0): string {
  return stringify(cellRuntimeConfig(base, cell, index));
}

/**
 * Why the shim would refuse the cell's configuration (a combination the runtime's own validation
 * rules out, such as runtime "pmem" on a microvm), or undefined: such a cell is reported skipped.
 */
export function cellConfigProblem(base: VfsConfig, cell: CellConfig): string | undefined {
  try {
    parseConfig(cellConfigToml(base, cell), 'the cell configuration');
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}

/** Writes `<dir>/cell-<index>.toml`; returns its path. */
export function writeCellConfig(dir: string, index: number, base: VfsConfig, cell: CellConfig): string {
  const path = join(dir, `cell-${index}.toml`);
  writeFileSync(path, cellConfigToml(base, cell, index));
  return path;
}
