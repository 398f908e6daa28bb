// Parses and validates configuration.toml text against CONFIG_SCHEMA. Everything is checked at
// load: a syntax error, an unknown table or key, or a value of the wrong type or range is a
// ConfigError naming the file, the line and the key; so is a value another table's value rules out.

import { parse, TomlError } from 'smol-toml';
import { ConfigError } from './config_error';
import { constraintViolation } from './config_constraints';
import { findKeyLine } from './key_position';
import { CONFIG_SCHEMA, type Field, type TableName, type VfsConfig } from './schema';

type RawTable = Readonly<Record<string, unknown>>;

function isTable(value: unknown): value is RawTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function isTableName(name: string): name is TableName {
  return Object.hasOwn(CONFIG_SCHEMA, name);
}

function parseToml(source: string, file: string): RawTable {
  try {
    return parse(source);
  } catch (err) {
    if (err instanceof TomlError) {
      // smol-toml's message repeats the code block; the first line is the problem itself.
      const problem = err.message.split('\n')[0] ?? err.message;
      throw new ConfigError({ file, line: err.line }, `TOML syntax error (column ${err.column}): ${problem}`, {
        cause: err,
      });
    }
    throw err;
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (isTable(value)) return 'a table';
  return `${typeof value} ${JSON.stringify(value)}`;
}

class TableReader {
  constructor(
    private readonly source: string,
    private readonly file: string,
  ) {}

  error(path: readonly string[], problem: string): ConfigError {
    return new ConfigError({ file: this.file, line: findKeyLine(this.source, path), key: path.join('.') }, problem);
  }

  /** Every key of a table must be a field of the schema's table. */
  readTable<T extends TableName>(name: T, raw: unknown): VfsConfig[T] {
    const fields: Readonly<Record<string, Field<unknown>>> = CONFIG_SCHEMA[name];
    if (raw !== undefined && !isTable(raw)) throw this.error([name], `must be a table, not ${describe(raw)}`);
    const table = raw ?? {};
    for (const key of Object.keys(table)) {
      if (!Object.hasOwn(fields, key)) {
        throw this.error([name, key], `unknown key (known keys of [${name}]: ${Object.keys(fields).join(', ')})`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(fields)) {
      out[key] = this.readField([name, key], field, table[key]);
    }
    return out as VfsConfig[T];
  }

  private readField(path: readonly string[], field: Field<unknown>, value: unknown): unknown {
    if (value === undefined) return field.fallback;
    const read = field.read(value);
    if (read === undefined) throw this.error(path, `must be ${field.expected}, not ${describe(value)}`);
    const problem = field.problem?.(read) ?? null;
    if (problem !== null) throw this.error(path, problem);
    return read;
  }
}

/** Validates TOML text; `file` is used in error messages only. */
export function parseConfig(source: string, file: string): VfsConfig {
  return readConfig(parseToml(source, file), source, file, () => false);
}

/** runtimeoptions.v1.Options' own fields: containerd's TOML decoding matches them in any case. */
function isRuntimeOptionsKey(key: string): boolean {
  return ['configpath', 'configbody', 'typeurl'].includes(key.toLowerCase());
}

/**
 * containerd's runtime options body (`config_body`): the CRI of containerd 1.7 and 2.x sends a
 * runtime's whole `options` table as TOML when the table has no ConfigPath, runtimeoptions' own keys
 * with it. Those are not ours; a body of nothing else names no configuration (undefined).
 */
export function parseOptionsBody(source: string, file: string): VfsConfig | undefined {
  const raw = parseToml(source, file);
  if (Object.keys(raw).every(isRuntimeOptionsKey)) return undefined;
  return readConfig(raw, source, file, isRuntimeOptionsKey);
}

function readConfig(raw: RawTable, source: string, file: string, ignored: (key: string) => boolean): VfsConfig {
  const reader = new TableReader(source, file);
  for (const name of Object.keys(raw)) {
    if (!isTableName(name) && !ignored(name)) {
      throw reader.error([name], `unknown table (known tables: ${Object.keys(CONFIG_SCHEMA).join(', ')})`);
    }
  }
  const config: VfsConfig = {
    hypervisor: reader.readTable('hypervisor', raw.hypervisor),
    daemon: reader.readTable('daemon', raw.daemon),
    agent: reader.readTable('agent', raw.agent),
    pool: reader.readTable('pool', raw.pool),
    factory: reader.readTable('factory', raw.factory),
    runtime: reader.readTable('runtime', raw.runtime),
  };
  const violation = constraintViolation(config);
  if (violation !== undefined) throw reader.error(violation.path, violation.problem);
  return config;
}

/** Every field at its built-in default: what runs when no configuration file is found. */
export function defaultConfig(): VfsConfig {
  return parseConfig('', 'built-in defaults');
}
