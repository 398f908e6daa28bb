// Numbers as the benchmarks write and print them: JSON keeps a tenth of a millisecond, tables show
// whole milliseconds, ratios two decimals; tables are aligned columns, the first left-aligned.

import type { Summary } from './stats';

export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

export function roundSummary(s: Summary): Summary {
  return { min: round1(s.min), median: round1(s.median), p90: round1(s.p90), max: round1(s.max) };
}

/** numerator / denominator to two decimals; null when the denominator is not positive. */
export function ratio(numerator: number, denominator: number): number | null {
  return denominator > 0 ? Math.round((numerator / denominator) * 100) / 100 : null;
}

/** Whole milliseconds, or a dash for a figure there is none of. */
export function wholeMs(value: number | undefined | null): string {
  return value === undefined || value === null ? '—' : value.toFixed(0);
}

export function ratioText(value: number | null): string {
  return value === null ? '—' : `${value.toFixed(2)}×`;
}

/**
 * Rows of cells as lines indented by two spaces: column widths from the widest cell, three spaces
 * between columns; numbers right-aligned, the columns named in `leftAligned` (text) left-aligned.
 */
export function renderTable(rows: readonly (readonly string[])[], leftAligned: readonly number[] = [0]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  const pad = (cell: string, i: number): string =>
    leftAligned.includes(i) ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0);
  return rows.map((row) => `  ${row.map(pad).join('   ')}`.trimEnd());
}
