// The tables `vfs-bench coldstart` prints: each cell's start times (min/p50/p90/p99) with runc's
// and the floor's medians and the vfs/runc and vfs/floor ratios; the median phases per cell, then
// the median steps inside them (those some cell took); the skipped cells with their reasons.

import { ratioText, renderTable, wholeMs } from '../../bench_common/format';
import { DETAILS, PHASES } from '../../bench_coldstart/phases';
import type { CellResult, Results } from './results';

function startRows(cells: readonly CellResult[]): string[][] {
  const header = ['cell', 'vfs min', 'p50', 'p90', 'p99', 'runc p50', 'floor p50', 'vfs/runc', 'vfs/floor'];
  return [
    header,
    ...cells.map((c) => [
      c.name,
      wholeMs(c.vfs_ms?.min),
      wholeMs(c.vfs_ms?.p50),
      wholeMs(c.vfs_ms?.p90),
      wholeMs(c.vfs_ms?.p99),
      wholeMs(c.runc_ms?.p50),
      wholeMs(c.floor_ms?.p50),
      ratioText(c.ratio_vfs_runc),
      ratioText(c.ratio_vfs_floor),
    ]),
  ];
}

function phaseRows(cells: readonly CellResult[]): string[][] {
  return [
    ['phase (median ms)', ...cells.map((c) => c.name)],
    ...PHASES.map((p) => [p.label, ...cells.map((c) => wholeMs(c.phases_ms[p.key]))]),
  ];
}

function detailRows(cells: readonly CellResult[]): string[][] {
  const taken = DETAILS.filter((d) => cells.some((c) => c.details_ms[d.key] !== undefined));
  return [
    ['inside the phases (median ms)', ...cells.map((c) => c.name)],
    ...taken.map((d) => [d.label, ...cells.map((c) => wholeMs(c.details_ms[d.key]))]),
  ];
}

export function formatResults(results: Results): string {
  const ran = results.cells.filter((c) => c.skipped === null);
  const skipped = results.cells.filter((c) => c.skipped !== null);
  const lines = [`cold start: ${results.runs} runs per cell, interleaved; ms (K runs per burst count each)`];
  if (ran.length > 0) {
    lines.push(...renderTable(startRows(ran)), '', ...renderTable(phaseRows(ran)));
    const details = detailRows(ran);
    if (details.length > 1) lines.push('', ...renderTable(details));
  }
  if (skipped.length > 0) lines.push('', 'skipped:', ...skipped.map((c) => `  ${c.name}: ${c.skipped}`));
  return `${lines.join('\n')}\n`;
}
