// The configuration the shim loads for a container without runtime options (shim/src/serve.ts
// loadConfig): $VFS_CONFIG, else /etc/vfs/configuration.toml, else the built-in defaults, with
// relative paths against the install root ($VFS_ROOT, else two directories above this program).
import { installRoot, type LoadedConfig, loadRuntimeConfig } from '@vfs/runtime-config';

export interface EffectiveConfig {
  readonly loaded: LoadedConfig;
  readonly root: string;
}

/** Throws ConfigError naming the file, the line and the key. */
export function effectiveConfig(env: NodeJS.ProcessEnv): EffectiveConfig {
  const root = installRoot(env);
  return { loaded: loadRuntimeConfig({ env, root }), root };
}
