// Order statistics of a sample: nearest-rank percentiles, so every figure is a measured run.

export interface Summary {
  readonly min: number;
  readonly median: number;
  readonly p90: number;
  readonly max: number;
}

/** The nearest-rank percentile of an ascending sample (fraction 0.99 for p99). */
export function rank(sorted: readonly number[], fraction: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index] as number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error('summarize: no values');
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: sorted[0] as number,
    median: rank(sorted, 0.5),
    p90: rank(sorted, 0.9),
    max: sorted[sorted.length - 1] as number,
  };
}

export function median(values: readonly number[]): number {
  return summarize(values).median;
}
