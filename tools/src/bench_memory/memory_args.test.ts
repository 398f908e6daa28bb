import { parseMemoryArgs } from './memory_args';

describe('parseMemoryArgs', () => {
  it('measures 3 sandboxes by default', () => {
    expect(parseMemoryArgs([])).toEqual({ sandboxes: [3], jsonPath: undefined });
  });

  it('takes a list of sandbox counts', () => {
    expect(parseMemoryArgs(['--sandboxes', '1,3,10', '--json', 'o.json'])).toEqual({
      sandboxes: [1, 3, 10],
      jsonPath: 'o.json',
    });
  });

  it('rejects a count below one', () => {
    expect(() => parseMemoryArgs(['--sandboxes', '1,0'])).toThrow(/--sandboxes must be an integer >= 1/);
  });
});
