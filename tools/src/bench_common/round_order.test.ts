import { roundName, roundOrder } from './round_order';

describe('roundOrder', () => {
  it('rotates the kinds by the round, so none is always first', () => {
    expect([0, 1, 2, 3].map((round) => roundOrder(['a', 'b', 'c'], round))).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c', 'a'],
      ['c', 'a', 'b'],
      ['a', 'b', 'c'],
    ]);
  });

  it('names warm-up rounds apart from measured ones', () => {
    expect([0, 1, 2].map((round) => roundName(round, 1, 2))).toEqual(['warm-up 1/1', 'run 1/2', 'run 2/2']);
  });
});
