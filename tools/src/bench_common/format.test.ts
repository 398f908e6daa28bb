import { ratio, renderTable, roundSummary } from './format';

describe('format', () => {
  it('rounds summaries to a tenth and ratios to a hundredth, with no ratio over zero', () => {
    expect(roundSummary({ min: 1.04, median: 2.25, p90: 3.96, max: 4 })).toEqual({
      min: 1,
      median: 2.3,
      p90: 4,
      max: 4,
    });
    expect(ratio(10, 3)).toBe(3.33);
    expect(ratio(1, 0)).toBeNull();
  });

  it('aligns a table: the first column (or those named) left, the others right', () => {
    expect(
      renderTable([
        ['', 'runc', 'vfs'],
        ['start', '95', '3100'],
      ]),
    ).toEqual(['          runc    vfs', '  start     95   3100']);
    expect(
      renderTable(
        [
          ['x', '1', 'long'],
          ['yy', '22', 'a'],
        ],
        [0, 2],
      ),
    ).toEqual(['  x     1   long', '  yy   22   a']);
  });
});
