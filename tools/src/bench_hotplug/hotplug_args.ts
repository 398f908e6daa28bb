// Command line of `make bench-hotplug ARGS="…"`.

import { parseArgs } from 'node:util';
import { countArg } from '../bench_common/count_arg';

export interface HotplugArgs {
  /** Measured add → read → remove cycles. */
  readonly cycles: number;
  /** Unmeasured cycles first: the guest's first probe of a root port, page cache. */
  readonly warmup: number;
  readonly jsonPath: string | undefined;
}

export const USAGE = 'usage: bench-hotplug [--cycles N (20)] [--warmup N (1)] [--json FILE]';

export function parseHotplugArgs(argv: readonly string[]): HotplugArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: { cycles: { type: 'string' }, warmup: { type: 'string' }, json: { type: 'string' } },
    strict: true,
  });
  return {
    cycles: countArg(values.cycles, 20, 'cycles', 1, USAGE),
    warmup: countArg(values.warmup, 1, 'warmup', 0, USAGE),
    jsonPath: values.json,
  };
}
