// The figures vfs-bench reports per sample: min and the nearest-rank p50, p90 and p99 (every
// figure is a measured run), to a tenth of a millisecond.

import { round1 } from '../../bench_common/format';
import { rank } from '../../bench_common/stats';

export interface Quantiles {
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/** null for an empty sample (a skipped cell). */
export function quantiles(values: readonly number[]): Quantiles | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: round1(sorted[0] as number),
    p50: round1(rank(sorted, 0.5)),
    p90: round1(rank(sorted, 0.9)),
    p99: round1(rank(sorted, 0.99)),
  };
}
