import { capabilityMask, capabilityMasks, hexMask } from './capabilities';
import { ContainerError } from './errors';
import { resolveRlimit } from './rlimits';

describe('capabilities', () => {
  it('maps names to bits', () => {
    expect(hexMask(capabilityMask(['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'], 'bounding'))).toBe('401');
    expect(capabilityMask(['CAP_CHECKPOINT_RESTORE'], 'bounding')).toBe(1n << 40n);
    expect(capabilityMasks({ effective: ['CAP_KILL'] })).toEqual({
      bounding: 0n,
      effective: 32n,
      permitted: 0n,
      inheritable: 0n,
      ambient: 0n,
    });
  });

  it('rejects unknown names with the set they are in', () => {
    expect(() => capabilityMask(['CAP_FLY'], 'ambient')).toThrow(
      new ContainerError('INVALID_SPEC', 'unknown capability "CAP_FLY" in ambient'),
    );
    expect(() => capabilityMask(['CHOWN'], 'ambient')).toThrow(ContainerError);
  });
});

describe('rlimits', () => {
  it('maps types and treats 2^64 as RLIM_INFINITY', () => {
    expect(resolveRlimit({ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 })).toEqual({
      resource: 7,
      soft: '1024',
      hard: '4096',
    });
    expect(resolveRlimit({ type: 'RLIMIT_CORE', soft: 2 ** 64, hard: 2 ** 64 })).toEqual({
      resource: 4,
      soft: '18446744073709551615',
      hard: '18446744073709551615',
    });
  });

  it('rejects unknown types and soft > hard', () => {
    expect(() => resolveRlimit({ type: 'RLIMIT_FOO', soft: 1, hard: 1 })).toThrow(/unknown rlimit type/);
    expect(() => resolveRlimit({ type: 'RLIMIT_NOFILE', soft: 2, hard: 1 })).toThrow(/exceeds hard limit/);
  });
});
