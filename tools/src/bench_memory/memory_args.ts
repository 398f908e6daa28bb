// Command line of `make bench-memory ARGS="…"`.

import { parseArgs } from 'node:util';
import { countArg } from '../bench_common/count_arg';

export interface MemoryArgs {
  /** Each figure is measured with this many sandboxes up at once, in order (--sandboxes 1,3,10). */
  readonly sandboxes: readonly number[];
  readonly jsonPath: string | undefined;
}

export const USAGE = 'usage: bench-memory [--sandboxes N or N,N,… (3)] [--json FILE]';

export function parseMemoryArgs(argv: readonly string[]): MemoryArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: { sandboxes: { type: 'string' }, json: { type: 'string' } },
    strict: true,
  });
  const counts = (values.sandboxes ?? '3').split(',').map((n) => countArg(n.trim(), 3, 'sandboxes', 1, USAGE));
  return { sandboxes: counts, jsonPath: values.json };
}
