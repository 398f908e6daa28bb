// The fuzzer's randomness: sfc32 (small, fast, well tested in PractRand), seeded per case from
// (run seed, case index) through a splitmix32 mix, so any case can be regenerated on its own.

/** splitmix32's finaliser: spreads one 32-bit word over all bits. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number, stream = 0) {
    this.a = mix32(seed);
    this.b = mix32(this.a ^ stream);
    this.c = mix32(this.b + Math.floor(stream / 0x1_0000_0000));
    // sfc32's authors discard the first outputs so that related seeds decorrelate.
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 0x1_0000_0000 ? Math.floor((this.u32() / 0x1_0000_0000) * n) : Math.floor(this.float() * n);
  }

  /** A float in [0, 1) with 53 random bits. */
  float(): number {
    return (this.u32() * 0x20_0000 + (this.u32() >>> 11)) / 2 ** 53;
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  /** A random u64. */
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }

  /** Fills `out` with random bytes. */
  fill(out: Uint8Array): Uint8Array {
    for (let i = 0; i < out.length; i += 4) {
      const v = this.u32();
      out[i] = v & 0xff;
      if (i + 1 < out.length) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < out.length) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < out.length) out[i + 3] = v >>> 24;
    }
    return out;
  }

  /** An index into `weights`, chosen with probability proportional to its weight. */
  weighted(weights: readonly number[], total: number): number {
    let r = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }
}

/** The generator of case `index` of the run seeded with `seed`: the same pair, the same case. */
export function caseRng(seed: number, index: number): Rng {
  return new Rng(seed, index);
}
