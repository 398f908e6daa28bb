// The one error class of the runtime-config layer: every message names the file, the line (when
// one is known) and the key, because a shim error at Create is all the user sees of it.

export interface ConfigErrorLocation {
  /** The file read, or a description of an inline source (`runtime options config_body`). */
  readonly file: string;
  /** 1-based; undefined when the problem is the file as a whole (missing, unreadable). */
  readonly line?: number;
  /** Dotted, e.g. `hypervisor.memory_mib`; undefined for syntax errors. */
  readonly key?: string;
}

export class ConfigError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  readonly key: string | undefined;
  /** The problem alone, without the location prefix. */
  readonly problem: string;

  constructor(location: ConfigErrorLocation, problem: string, options?: { cause?: unknown }) {
    super(`${formatLocation(location)}: ${problem}`, options);
    this.name = 'ConfigError';
    this.file = location.file;
    this.line = location.line;
    this.key = location.key;
    this.problem = problem;
  }
}

function formatLocation(location: ConfigErrorLocation): string {
  const where = location.line === undefined ? location.file : `${location.file}:${location.line}`;
  return location.key === undefined ? `vfs config ${where}` : `vfs config ${where}: key ${location.key}`;
}
