// The two plots, as Vega-Lite specs rendered to SVG by Vega in Node (no browser, no canvas) and
// rasterised to PNG by resvg: a CDF of vfs start times, one step line per cell, and the median
// phases of each cell as a stacked bar, in the order they happen.

import { Resvg } from '@resvg/resvg-js';
import { parse as parseVega, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { PHASES } from '../../bench_coldstart/phases';
import type { CellResult } from './results';

const WIDTH = 560;
const HEIGHT = 300;

interface CdfPoint {
  readonly cell: string;
  readonly ms: number;
  readonly fraction: number;
}

/** Each cell's vfs samples, ascending, with the fraction of runs at or below each. */
export function cdfPoints(cells: readonly CellResult[]): CdfPoint[] {
  return cells.flatMap((cell) => {
    const sorted = [...cell.samples_ms.vfs].sort((a, b) => a - b);
    return sorted.map((ms, i) => ({ cell: cell.name, ms, fraction: (i + 1) / sorted.length }));
  });
}

export function cdfSpec(cells: readonly CellResult[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'vfs cold start: ctr run --rm … true',
    width: WIDTH,
    height: HEIGHT,
    data: { values: cdfPoints(cells) },
    mark: { type: 'line', interpolate: 'step-after', point: true },
    encoding: {
      x: { field: 'ms', type: 'quantitative', title: 'start to exit (ms)', scale: { zero: false } },
      y: { field: 'fraction', type: 'quantitative', title: 'fraction of runs', scale: { domain: [0, 1] } },
      color: { field: 'cell', type: 'nominal', title: 'cell' },
    },
  };
}

interface PhaseBar {
  readonly cell: string;
  readonly phase: string;
  readonly order: number;
  readonly ms: number;
}

export function phaseBars(cells: readonly CellResult[]): PhaseBar[] {
  return cells.flatMap((cell) =>
    PHASES.flatMap((phase, order) => {
      const ms = cell.phases_ms[phase.key];
      return ms === undefined ? [] : [{ cell: cell.name, phase: phase.label, order, ms }];
    }),
  );
}

export function phasesSpec(cells: readonly CellResult[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'vfs cold start by phase (medians)',
    width: WIDTH,
    height: HEIGHT,
    data: { values: phaseBars(cells) },
    mark: 'bar',
    encoding: {
      y: { field: 'cell', type: 'nominal', title: null },
      x: { field: 'ms', type: 'quantitative', title: 'ms', stack: 'zero' },
      color: {
        field: 'phase',
        type: 'nominal',
        title: 'phase',
        sort: PHASES.map((p) => p.label),
        scale: { scheme: 'tableau10' },
      },
      order: { field: 'order', type: 'ordinal' },
    },
  };
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parseVega(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Twice the SVG's size, on white (the SVG's own background is transparent). */
export function svgToPng(svg: string): Buffer {
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: 'white' }).render().asPng();
}
