// A count on a benchmark's command line (--runs, --warmup, --cycles): an integer, at least `min`.

export function countArg(
  value: string | undefined,
  fallback: number,
  name: string,
  min: number,
  usage: string,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} must be an integer >= ${min}, not ${value}\n${usage}`);
  return n;
}
