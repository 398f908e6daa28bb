// An experiment's matrix: each dimension a list of values, from a TOML file, flags, or the
// configured defaults; the cells are their cartesian product. A cell's name lists only the
// dimensions that vary (legends stay short), or the machine when none does.

import { CACHE_MODES, type CacheMode } from '@vfs/contracts';
import { CONFIG_SCHEMA, GUEST_RUNTIMES, guestRuntime } from '@vfs/runtime-config';
import { parse, TomlError } from 'smol-toml';

export const MACHINES = ['microvm', 'microvm-pcie', 'q35'] as const;
export type Machine = (typeof MACHINES)[number];
/** Where the guest's runtime (node, the agent) comes from: [agent] runtime; a cell holds it resolved. */
export const RUNTIMES = ['auto', ...GUEST_RUNTIMES] as const;
export type RuntimeKind = (typeof RUNTIMES)[number];
export const IMAGES = ['busybox', 'node'] as const;
export type ImageName = (typeof IMAGES)[number];

export interface CellConfig {
  readonly machine: Machine;
  readonly memory_mib: number;
  readonly vcpus: number;
  readonly cache: CacheMode;
  readonly dax: boolean;
  readonly runtime: RuntimeKind;
  readonly pool: boolean;
  /** Sandboxes resume a VM template ([factory] enable_template) that vfs-bench saves first. */
  readonly template: boolean;
  readonly image: ImageName;
  /** K: sandboxes started at once. */
  readonly concurrency: number;
}

export type Dimension = keyof CellConfig;
export type Matrix = { readonly [D in Dimension]: readonly CellConfig[D][] };

export interface Cell {
  readonly name: string;
  readonly config: CellConfig;
}

export const DIMENSIONS: readonly Dimension[] = [
  'machine',
  'memory_mib',
  'vcpus',
  'cache',
  'dax',
  'runtime',
  'pool',
  'template',
  'image',
  'concurrency',
];

export class MatrixError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MatrixError';
  }
}

type Reader<T> = (value: unknown) => T | undefined;

const oneOf =
  <T extends string>(values: readonly T[]): Reader<T> =>
  (v) =>
    values.find((allowed) => allowed === v);
const intIn =
  (min: number, max: number): Reader<number> =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined;
/** true/false, or on/off as the flags spell them. */
const onOff: Reader<boolean> = (v) => {
  if (typeof v === 'boolean') return v;
  return v === 'on' ? true : v === 'off' ? false : undefined;
};

const MAX_CONCURRENCY = 64;

const READERS: { readonly [D in Dimension]: { readonly read: Reader<CellConfig[D]>; readonly expected: string } } = {
  machine: { read: oneOf(MACHINES), expected: MACHINES.join(', ') },
  memory_mib: { read: intIn(64, 262144), expected: 'an integer from 64 to 262144' },
  vcpus: { read: intIn(1, 256), expected: 'an integer from 1 to 256' },
  cache: { read: oneOf(CACHE_MODES), expected: CACHE_MODES.join(', ') },
  dax: { read: onOff, expected: 'on or off' },
  runtime: { read: oneOf(RUNTIMES), expected: RUNTIMES.join(', ') },
  pool: { read: onOff, expected: 'on or off' },
  template: { read: onOff, expected: 'on or off' },
  image: { read: oneOf(IMAGES), expected: IMAGES.join(', ') },
  concurrency: { read: intIn(1, MAX_CONCURRENCY), expected: `an integer from 1 to ${MAX_CONCURRENCY}` },
};

/** The matrix of one cell: the configuration's defaults, busybox, no DAX, no pool, no template, K = 1. */
export function defaultMatrix(): Matrix {
  return {
    machine: [CONFIG_SCHEMA.hypervisor.machine.fallback],
    memory_mib: [CONFIG_SCHEMA.hypervisor.memory_mib.fallback],
    vcpus: [CONFIG_SCHEMA.hypervisor.vcpus.fallback],
    cache: [CONFIG_SCHEMA.daemon.cache.fallback],
    dax: [false],
    runtime: [CONFIG_SCHEMA.agent.runtime.fallback],
    pool: [false],
    template: [false],
    image: ['busybox'],
    concurrency: [1],
  };
}

function readValues<D extends Dimension>(dimension: D, raw: unknown, where: string): CellConfig[D][] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new MatrixError(`${where}: ${dimension} has no values`);
  const out: CellConfig[D][] = [];
  for (const value of list) {
    const read = READERS[dimension].read(value);
    if (read === undefined)
      throw new MatrixError(
        `${where}: ${dimension} = ${JSON.stringify(value)}: expected ${READERS[dimension].expected}`,
      );
    if (!out.includes(read)) out.push(read);
  }
  return out;
}

function isDimension(key: string): key is Dimension {
  return (DIMENSIONS as readonly string[]).includes(key);
}

/** Numbers in a comma list are numbers; the readers decide what is valid. */
function flagValue(text: string): unknown {
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** Overrides from flags: `--machine microvm,q35` is `{ machine: 'microvm,q35' }`. */
export function applyFlags(matrix: Matrix, flags: Partial<Record<Dimension, string>>): Matrix {
  const out: Record<string, unknown> = { ...matrix };
  for (const dimension of DIMENSIONS) {
    const text = flags[dimension];
    if (text !== undefined)
      out[dimension] = readValues(dimension, text.split(',').map(flagValue), `--${dimension.replace('_', '-')}`);
  }
  return out as Matrix;
}

export interface ExperimentFile {
  readonly matrix: Matrix;
  readonly runs: number | undefined;
}

/** An experiment file: optional top-level `runs`, and a [matrix] table of dimension = value or [values]. */
export function parseExperiment(text: string, file: string): ExperimentFile {
  let raw: Record<string, unknown>;
  try {
    raw = parse(text);
  } catch (err) {
    if (err instanceof TomlError) throw new MatrixError(`${file}:${err.line}: ${err.message.split('\n')[0]}`);
    throw err;
  }
  for (const key of Object.keys(raw))
    if (key !== 'runs' && key !== 'matrix')
      throw new MatrixError(`${file}: unknown key ${key} (known: runs, [matrix])`);
  const table = raw.matrix ?? {};
  if (typeof table !== 'object' || table === null || Array.isArray(table))
    throw new MatrixError(`${file}: matrix must be a table`);
  const out: Record<string, unknown> = { ...defaultMatrix() };
  for (const [key, value] of Object.entries(table)) {
    if (!isDimension(key)) throw new MatrixError(`${file}: unknown dimension ${key} (known: ${DIMENSIONS.join(', ')})`);
    out[key] = readValues(key, value, file);
  }
  const runs = raw.runs;
  if (runs !== undefined && (typeof runs !== 'number' || !Number.isInteger(runs) || runs < 1))
    throw new MatrixError(`${file}: runs must be an integer >= 1`);
  return { matrix: out as Matrix, runs };
}

function valueName<D extends Dimension>(dimension: D, value: CellConfig[D]): string {
  switch (dimension) {
    case 'memory_mib':
      return `${value}M`;
    case 'vcpus':
      return `${value}cpu`;
    case 'cache':
      return `cache=${value}`;
    case 'dax':
      return value ? 'dax' : 'nodax';
    case 'runtime':
      return `runtime=${value}`;
    case 'pool':
      return value ? 'pool' : 'nopool';
    case 'template':
      return value ? 'template' : 'notemplate';
    case 'concurrency':
      return `K=${value}`;
    default:
      return String(value);
  }
}

/** Every combination, the first dimension varying slowest. */
export function expandMatrix(matrix: Matrix): Cell[] {
  let configs: Record<string, unknown>[] = [{}];
  for (const dimension of DIMENSIONS)
    configs = configs.flatMap((partial) => matrix[dimension].map((value) => ({ ...partial, [dimension]: value })));
  const varying = DIMENSIONS.filter((d) => matrix[d].length > 1);
  return configs.map((raw) => {
    const chosen = raw as unknown as CellConfig;
    // "auto" as the shim would resolve it for this machine: results name the runtime that ran.
    const config = { ...chosen, runtime: guestRuntime({ hypervisor: chosen, agent: chosen }) };
    const parts = varying.map((d) => valueName(d, config[d]));
    return { name: parts.length > 0 ? parts.join(' ') : config.machine, config };
  });
}
