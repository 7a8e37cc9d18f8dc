/**
 * Seeded random numbers. Every random draw in xbar takes an Rng built from an explicit seed, so the
 * same seed gives the same result on every machine (no Math.random, no global state).
 *
 * Generator: sfc32 (small, fast, passes PractRand to 2^40+), seeded through splitmix32 so that
 * nearby seeds give unrelated streams.
 */
export class Rng {
  // sfc32's four words live in a typed array: as plain fields, values above 2^30 are boxed
  // numbers and every draw cost ~20 ns instead of ~3.
  private readonly s = new Uint32Array(4);
  private spare: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    let s = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s[0] = next();
    this.s[1] = next();
    this.s[2] = next();
    this.s[3] = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /**
   * A stream determined only by (seed, indices), e.g. (run seed, chip index, batch index): a chip
   * draws the same values whether it runs first or last, alone or among a thousand.
   */
  static derive(seed: number, ...indices: number[]): Rng {
    let h = (Math.trunc(seed) ^ 0x5bd1e995) >>> 0;
    for (const i of indices) {
      h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
      h = (h + Math.imul(i + 1, 0x297a2d39)) >>> 0;
      h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0;
    }
    return new Rng((h ^ (h >>> 15)) >>> 0);
  }

  /** A child stream for a sub-task (a chip, a layer): independent of the parent's later draws. */
  fork(index: number): Rng {
    return new Rng((this.nextUint32() ^ Math.imul(index + 1, 0x27d4eb2d)) >>> 0);
  }

  nextUint32(): number {
    const s = this.s;
    const a = s[0];
    const b = s[1];
    const c = s[2];
    const d = s[3];
    const t = (((a + b) >>> 0) + d) >>> 0;
    // Uint32Array stores reduce modulo 2^32, as >>> 0 would.
    s[3] = d + 1;
    s[0] = b ^ (b >>> 9);
    s[1] = c + (c << 3);
    s[2] = ((c << 21) | (c >>> 11)) + t;
    return t;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fill with N(mean, std^2). */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** Fisher-Yates permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
