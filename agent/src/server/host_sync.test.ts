import { checkEntropy, hostSyncSteps } from './host_sync';

describe("the host's clock and entropy at CreateSandbox", () => {
  it('sets the clock to the host time and reseeds with the host bytes, as hex', () => {
    expect(hostSyncSteps(1_796_535_206_203, new Uint8Array([0x00, 0xab, 0x7f]))).toEqual([
      ['settime', 1_796_535_206_203],
      ['reseed', '00ab7f'],
    ]);
  });

  it('leaves the clock and the generator alone when the host sends neither (an older shim)', () => {
    expect(hostSyncSteps(0, new Uint8Array())).toEqual([]);
  });

  it('refuses more entropy than the launcher takes, as a bad request', () => {
    expect(() => checkEntropy(new Uint8Array(256))).not.toThrow();
    expect(() => checkEntropy(new Uint8Array(257))).toThrow(/entropy of 257 bytes: at most 256/);
  });
});
