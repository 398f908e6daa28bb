// @vfs/contracts: the facts that more than one component speaks. Import from here only.
export * from './accel_cache';
export * from './cache_mode';
export * from './dax_window';
export * from './errors';
export * from './guest_boot';
export * from './id_map';
export * from './daemon_control/protocol';
export { ControlClient } from './daemon_control/client';
export * from './oci/spec';
export * from './oci/spec_check';
export * from './oci/json_check';
export * from './qemu_dax';
export * from './run_dir';
export * from './json_lines/client';
export * from './json_lines/server';
export * from './shim_management/protocol';
export { ManagementClient } from './shim_management/client';
export * from './version';
