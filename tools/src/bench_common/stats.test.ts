import { summarize } from './stats';

describe('summarize', () => {
  it('gives nearest-rank min, median, p90 and max', () => {
    expect(summarize([5, 1, 4, 2, 3, 10, 9, 8, 7, 6])).toEqual({ min: 1, median: 5, p90: 9, max: 10 });
    expect(summarize([42])).toEqual({ min: 42, median: 42, p90: 42, max: 42 });
  });

  it('refuses an empty sample', () => {
    expect(() => summarize([])).toThrow(/no values/);
  });
});
