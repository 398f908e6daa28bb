// Interleaved runs: each round runs every kind once, so the machine's noise and drift fall on all
// kinds alike.

/** Round i's order: the kinds rotated by i, so none is always first (cold caches) or last. */
export function roundOrder<K>(kinds: readonly K[], round: number): K[] {
  const shift = round % kinds.length;
  return [...kinds.slice(shift), ...kinds.slice(0, shift)];
}

/** The progress line's name for round `round` (counted from 0, warm-up rounds first). */
export function roundName(round: number, warmup: number, runs: number): string {
  return round < warmup ? `warm-up ${round + 1}/${warmup}` : `run ${round - warmup + 1}/${runs}`;
}
