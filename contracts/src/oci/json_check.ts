/**
 * Checks parsed JSON against a shape and builds a typed value from it. Every failure names the
 * JSON path of the problem (`$.process.args[0]`), which is what a user needs to fix a spec.
 * Unknown fields are ignored: the OCI spec allows extensions and we read only a subset.
 * The guest agent reports these failures as they are; the shim asks `accepts` and words its own.
 */

export class SpecError extends Error {
  constructor(
    readonly jsonPath: string,
    readonly problem: string,
  ) {
    super(`invalid spec at ${jsonPath}: ${problem}`);
    this.name = 'SpecError';
  }
}

export type Check<T> = (value: unknown, path: string) => T;

/** Whether `check` accepts `value`, for callers that name the field in their own words. */
export function accepts(check: Check<unknown>, value: unknown): boolean {
  try {
    check(value, '$');
    return true;
  } catch (err) {
    if (err instanceof SpecError) return false;
    throw err;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

export const str: Check<string> = (value, path) => {
  if (typeof value !== 'string') throw new SpecError(path, `expected a string, got ${describe(value)}`);
  return value;
};

export const bool: Check<boolean> = (value, path) => {
  if (typeof value !== 'boolean') throw new SpecError(path, `expected a boolean, got ${describe(value)}`);
  return value;
};

/** An integer in [min, max]; JSON numbers beyond 2^53 arrive rounded, so bounds are inclusive. */
export function int(min: number, max: number): Check<number> {
  return (value, path) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new SpecError(path, `expected an integer, got ${describe(value)}`);
    }
    if (value < min || value > max) throw new SpecError(path, `${value} is outside [${min}, ${max}]`);
    return value;
  };
}

/** uids and gids: the kernel's id_t. */
export const UINT32_MAX = 0xffff_ffff;

export const uint32 = int(0, UINT32_MAX);

export const absPath: Check<string> = (value, path) => {
  const text = str(value, path);
  if (!text.startsWith('/')) throw new SpecError(path, `expected an absolute path, got "${text}"`);
  if (text.includes('\0')) throw new SpecError(path, 'path contains a NUL byte');
  return text;
};

/** A string without NUL bytes (they cannot cross into argv, env or mount calls). */
export const cstr: Check<string> = (value, path) => {
  const text = str(value, path);
  if (text.includes('\0')) throw new SpecError(path, 'string contains a NUL byte');
  return text;
};

export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (value, path) => {
    const text = str(value, path);
    if (!(values as readonly string[]).includes(text)) {
      throw new SpecError(path, `expected one of ${values.join(', ')}, got "${text}"`);
    }
    return text as T;
  };
}

export function opt<T>(check: Check<T>): Check<T | undefined> {
  return (value, path) => (value === undefined || value === null ? undefined : check(value, path));
}

export function arrayOf<T>(item: Check<T>, minLength = 0): Check<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) throw new SpecError(path, `expected an array, got ${describe(value)}`);
    if (value.length < minLength) throw new SpecError(path, `expected at least ${minLength} element(s)`);
    return value.map((element, i) => item(element, `${path}[${i}]`));
  };
}

/** A JSON object: not null, not an array. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

export function recordOf<T>(item: Check<T>): Check<Record<string, T>> {
  return (value, path) => {
    if (!isPlainObject(value)) throw new SpecError(path, `expected an object, got ${describe(value)}`);
    const out: Record<string, T> = {};
    for (const [key, element] of Object.entries(value)) out[key] = item(element, childPath(path, key));
    return out;
  };
}

export type Shape<T> = { [K in keyof T]-?: Check<T[K]> };

export function obj<T>(shape: Shape<T>): Check<T> {
  return (value, path) => {
    if (!isPlainObject(value)) throw new SpecError(path, `expected an object, got ${describe(value)}`);
    const out: Partial<Record<keyof T, unknown>> = {};
    for (const key of Object.keys(shape) as (keyof T & string)[]) {
      const checked = shape[key](value[key], childPath(path, key));
      if (checked !== undefined) out[key] = checked;
    }
    return out as T;
  };
}
