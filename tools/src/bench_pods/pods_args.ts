// Command line of `make bench-pods ARGS="…"`.

import { parseArgs } from 'node:util';
import { countArg } from '../bench_common/count_arg';

export interface PodsArgs {
  /** Measured pods of each handler (runc, vfs). */
  readonly runs: number;
  /** Unmeasured pods of each handler first: page cache, the KVM probe's cached verdict. */
  readonly warmup: number;
  readonly jsonPath: string | undefined;
}

export const USAGE = 'usage: bench-pods [--runs N (5)] [--warmup N (1)] [--json FILE]';

export function parsePodsArgs(argv: readonly string[]): PodsArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: { runs: { type: 'string' }, warmup: { type: 'string' }, json: { type: 'string' } },
    strict: true,
  });
  return {
    runs: countArg(values.runs, 5, 'runs', 1, USAGE),
    warmup: countArg(values.warmup, 1, 'warmup', 0, USAGE),
    jsonPath: values.json,
  };
}
