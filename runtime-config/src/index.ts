// The runtime-config API: import from here.

export { ConfigError } from './config_error';
export { type ConfigLookup, loadRuntimeConfig, SYSTEM_CONFIG_PATH } from './config_lookup';
export { installRoot, resolvePaths, runtimeImagePath, runtimePmemPath, runtimeShareDir } from './install_root';
export { GUEST_RUNTIMES, type GuestRuntime, guestRuntime, machineMapsPmem } from './guest_runtime';
export { defaultConfig, parseConfig } from './load_config';
export { CONFIG_SCHEMA, type LoadedConfig, type VfsConfig } from './schema';
