import { accepts, arrayOf, opt, str, uint32, type Check } from './json_check';

describe('JSON checks', () => {
  it('tells whether a check accepts a value, for callers that word their own message', () => {
    expect(accepts(uint32, 4294967295)).toBe(true);
    expect(accepts(uint32, -1)).toBe(false);
    expect(accepts(arrayOf(str, 1), [])).toBe(false);
  });

  it('lets errors other than a spec problem through', () => {
    const broken: Check<never> = () => {
      throw new RangeError('bug');
    };
    expect(() => accepts(broken, 1)).toThrow(RangeError);
  });

  it('treats null in an optional field as absent', () => {
    expect(opt(str)(null, '$.x')).toBeUndefined();
  });
});
