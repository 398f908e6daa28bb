// @vfs/contracts: the facts that more than one component speaks. Import from here only.
export * from './cache_mode';
export * from './dax_window';
export * from './daemon_control/protocol';
export { ControlClient } from './daemon_control/client';
