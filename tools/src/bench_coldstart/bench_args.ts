// Command line of `make bench-coldstart ARGS="…"`.

import { parseArgs } from 'node:util';
import { countArg } from '../bench_common/count_arg';

export interface BenchArgs {
  /** Measured runs of each kind (runc, vfs, floor). */
  readonly runs: number;
  /** Unmeasured runs of each kind first: page cache, the KVM probe's cached verdict. */
  readonly warmup: number;
  readonly jsonPath: string | undefined;
  /** Measure runc and the floor only (--skip-vfs), e.g. to look at the host side alone. */
  readonly skipVfs: boolean;
}

export const USAGE = 'usage: bench-coldstart [--runs N (10)] [--warmup N (1)] [--json FILE] [--skip-vfs]';

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      runs: { type: 'string' },
      warmup: { type: 'string' },
      json: { type: 'string' },
      'skip-vfs': { type: 'boolean' },
    },
    strict: true,
  });
  return {
    runs: countArg(values.runs, 10, 'runs', 1, USAGE),
    warmup: countArg(values.warmup, 1, 'warmup', 0, USAGE),
    jsonPath: values.json,
    skipVfs: values['skip-vfs'] === true,
  };
}
