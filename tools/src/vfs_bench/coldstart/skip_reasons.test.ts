import { applyFlags, defaultMatrix, expandMatrix } from './matrix';
import { skipReason } from './skip_reasons';

describe('skipReason', () => {
  const host = { daxMissing: 'no DAX window', poolMissing: 'no warm pool' };
  const cells = expandMatrix(applyFlags(defaultMatrix(), { dax: 'off,on', pool: 'off,on' })).map((c) => c.config);

  it('runs a cell that asks for nothing missing and names everything a cell lacks', () => {
    expect(cells.map((cell) => skipReason(cell, host))).toEqual([
      undefined,
      'no warm pool',
      'no DAX window',
      'no DAX window; no warm pool',
    ]);
  });

  it('runs every cell on a host that has it all', () => {
    const able = { daxMissing: undefined, poolMissing: undefined };
    expect(cells.map((cell) => skipReason(cell, able))).toEqual([undefined, undefined, undefined, undefined]);
  });
});
