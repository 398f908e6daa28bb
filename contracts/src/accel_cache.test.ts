import { parseAccelVerdict } from './accel_cache';

describe('parseAccelVerdict', () => {
  it('reads the boot id and the accelerator', () => {
    expect(parseAccelVerdict('{"bootId":"b1","accel":"kvm"}\n')).toEqual({ bootId: 'b1', accel: 'kvm' });
  });

  it.each(['{not json', 'null', '{"bootId":"b1","accel":"hvf"}', '{"accel":"tcg"}'])(
    'treats %s as no verdict',
    (text) => {
      expect(parseAccelVerdict(text)).toBeUndefined();
    },
  );
});
