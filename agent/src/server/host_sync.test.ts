import { checkEntropy, checkHostTime, hostSyncSteps } from './host_sync';

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

  it("refuses at once a host time the guest kernel would refuse to set (later, in a container's launch)", () => {
    expect(() => checkHostTime(0)).not.toThrow();
    expect(() => checkHostTime(1_796_535_206_203)).not.toThrow();
    expect(() => checkHostTime(9_300_000_000_000)).toThrow(/host time 9300000000000 ms/);
    expect(() => checkHostTime(-1)).toThrow(/host time -1 ms/);
    expect(() => checkHostTime(Number.MAX_SAFE_INTEGER + 2)).toThrow(/host time/);
  });
});
