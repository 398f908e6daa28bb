// Command line of `vfs-bench coldstart`: the matrix from --config FILE and/or a flag per dimension
// (comma lists: --machine microvm,q35 --concurrency 1,4), flags winning over the file.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { countArg } from '../../bench_common/count_arg';
import { applyFlags, defaultMatrix, type Dimension, DIMENSIONS, type Matrix, parseExperiment } from './matrix';

export interface ColdstartArgs {
  readonly runs: number;
  readonly warmup: number;
  readonly outDir: string;
  readonly matrix: Matrix;
  /** Density mode instead of start times. */
  readonly density: boolean;
  readonly budgetMib: number;
  readonly maxSandboxes: number;
}

export const USAGE = `usage: vfs-bench coldstart [--runs N (5)] [--warmup N (1)] [--out DIR (coldstart-results)]
         [--config EXPERIMENT.toml] [--machine microvm,microvm-pcie,q35] [--memory MIB,…] [--vcpus N,…]
         [--cache none,auto,always,metadata] [--dax on|off|on,off] [--runtime share,image,pmem]
         [--pool on|off|on,off] [--template on|off|on,off]
         [--image busybox,node] [--concurrency K,…]
       vfs-bench coldstart --density [--budget-mib MIB (2048)] [--max-sandboxes N (32)] [--out DIR] [matrix flags: first cell]
EXPERIMENT.toml: runs = N and a [matrix] table, each dimension a value or a list (memory_mib = [512, 1024]).`;

/** The flag of each dimension. */
const DIMENSION_FLAGS: Readonly<Record<Dimension, string>> = {
  machine: 'machine',
  memory_mib: 'memory',
  vcpus: 'vcpus',
  cache: 'cache',
  dax: 'dax',
  runtime: 'runtime',
  pool: 'pool',
  template: 'template',
  image: 'image',
  concurrency: 'concurrency',
};

export function parseColdstartArgs(argv: readonly string[]): ColdstartArgs {
  const dimensionOptions = Object.fromEntries(
    DIMENSIONS.map((d) => [DIMENSION_FLAGS[d], { type: 'string' as const }]),
  ) as Record<string, { type: 'string' }>;
  const { values } = parseArgs({
    args: [...argv],
    options: {
      runs: { type: 'string' },
      warmup: { type: 'string' },
      out: { type: 'string' },
      config: { type: 'string' },
      density: { type: 'boolean' },
      'budget-mib': { type: 'string' },
      'max-sandboxes': { type: 'string' },
      ...dimensionOptions,
    },
    strict: true,
  });
  const file =
    values.config === undefined ? undefined : parseExperiment(readFileSync(values.config, 'utf8'), values.config);
  const flags: Partial<Record<Dimension, string>> = {};
  const byName: Readonly<Record<string, unknown>> = values;
  for (const d of DIMENSIONS) {
    const value = byName[DIMENSION_FLAGS[d]];
    if (typeof value === 'string') flags[d] = value;
  }
  return {
    runs: countArg(values.runs, file?.runs ?? 5, 'runs', 1, USAGE),
    warmup: countArg(values.warmup, 1, 'warmup', 0, USAGE),
    outDir: values.out ?? 'coldstart-results',
    matrix: applyFlags(file?.matrix ?? defaultMatrix(), flags),
    density: values.density === true,
    budgetMib: countArg(values['budget-mib'], 2048, 'budget-mib', 64, USAGE),
    maxSandboxes: countArg(values['max-sandboxes'], 32, 'max-sandboxes', 1, USAGE),
  };
}
