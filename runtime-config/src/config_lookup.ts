// Which configuration applies, first match wins:
//   1. containerd's runtime options (`runtimeoptions.v1.Options`, on the shim's stdin at `start` and
//      in CreateTaskRequest.options): `config_path`, else inline `config_body`. This is how
//      `ctr run --runtime-config-path` and CRI's `ConfigPath` option arrive; containerd 2.x's CRI
//      sends an options table without ConfigPath as the body, which then holds the configuration's
//      tables, or nothing of ours (an empty ConfigPath: the next source applies).
//   2. the VFS_CONFIG environment variable (containerd's environment is the shim's).
//   3. /etc/vfs/configuration.toml, when it exists.
//   4. the built-in defaults (the same values as runtime-config/configuration.toml).
// A file named by 1 or 2 must exist; only 3 is optional.

import { readFileSync } from 'node:fs';
import { errorMessage } from '@vfs/contracts';
import { ConfigError } from './config_error';
import { resolvePaths } from './install_root';
import { defaultConfig, parseConfig, parseOptionsBody } from './load_config';
import type { LoadedConfig, VfsConfig } from './schema';

export const SYSTEM_CONFIG_PATH = '/etc/vfs/configuration.toml';

export interface ConfigLookup {
  /** runtimeoptions.v1.Options.config_path; empty means unset, as in the protobuf. */
  readonly optionsConfigPath?: string;
  /** runtimeoptions.v1.Options.config_body (TOML text). */
  readonly optionsConfigBody?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Overridable for tests; defaults to SYSTEM_CONFIG_PATH. */
  readonly systemConfigPath?: string;
  /** Install root for relative paths (install_root.ts). */
  readonly root: string;
}

interface Found {
  readonly config: VfsConfig;
  readonly source: string;
}

/** The file's text, or undefined when it does not exist and `optional` says that is fine. */
function readConfigFile(path: string, optional: boolean): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && optional) return undefined;
    const problem = code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? errorMessage(err)})`;
    throw new ConfigError({ file: path }, problem, { cause: err });
  }
}

function requiredFile(path: string, source: string): Found {
  return { config: parseConfig(readConfigFile(path, false) ?? '', path), source };
}

function firstMatch(lookup: ConfigLookup): Found {
  if (lookup.optionsConfigPath !== undefined && lookup.optionsConfigPath !== '') {
    return requiredFile(lookup.optionsConfigPath, lookup.optionsConfigPath);
  }
  if (lookup.optionsConfigBody !== undefined && lookup.optionsConfigBody !== '') {
    const name = 'runtime options config_body';
    const config = parseOptionsBody(lookup.optionsConfigBody, name);
    if (config !== undefined) return { config, source: name };
  }
  const envPath = (lookup.env ?? process.env).VFS_CONFIG;
  if (envPath !== undefined && envPath !== '') return requiredFile(envPath, `VFS_CONFIG=${envPath}`);
  const systemPath = lookup.systemConfigPath ?? SYSTEM_CONFIG_PATH;
  const text = readConfigFile(systemPath, true);
  if (text !== undefined) return { config: parseConfig(text, systemPath), source: systemPath };
  return { config: defaultConfig(), source: 'built-in defaults' };
}

/** Finds, reads and validates the configuration; throws ConfigError. Paths come back absolute. */
export function loadRuntimeConfig(lookup: ConfigLookup): LoadedConfig {
  const { config, source } = firstMatch(lookup);
  return { config: resolvePaths(config, lookup.root), source };
}
