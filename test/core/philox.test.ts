import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels-js.js';
import { philox4x32, philoxStream } from '../../src/core/philox.js';
import { cosSinTurn, expPortable, logUnit } from '../../src/core/portable-math.js';

const hex = (w: Uint32Array) => Array.from(w, (x) => x.toString(16).padStart(8, '0')).join(' ');

describe('Philox4x32-10', () => {
  it("gives Random123's known-answer vectors (kat_vectors, philox4x32 10 rounds)", () => {
    const out = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, 0, 0, out);
    expect(hex(out)).toBe('6627e8d5 e169c58d bc57ac4c 9b00dbd8');
    philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect(hex(out)).toBe('408f276d 41c83b0e a20bc7c6 6d5451fd');
    philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    expect(hex(out)).toBe('d16cfe09 94fdcceb 5001e420 24126ea1');
  });

  it('equals the definition computed with exact 64-bit products (BigInt), for any words (property)', () => {
    const word = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(fc.tuple(word, word, word, word, word, word), ([c0, c1, c2, c3, k0, k1]) => {
        const ref = (c: bigint[], k: bigint[]) => {
          for (let r = 0; r < 10; r++) {
            const p0 = 0xd2511f53n * c[0];
            const p1 = 0xcd9e8d57n * c[2];
            c = [((p1 >> 32n) ^ c[1] ^ k[0]) & 0xffffffffn, p1 & 0xffffffffn, ((p0 >> 32n) ^ c[3] ^ k[1]) & 0xffffffffn, p0 & 0xffffffffn];
            k = [(k[0] + 0x9e3779b9n) & 0xffffffffn, (k[1] + 0xbb67ae85n) & 0xffffffffn];
          }
          return c.map(Number);
        };
        const out = new Uint32Array(4);
        philox4x32(c0, c1, c2, c3, k0, k1, out);
        expect(Array.from(out)).toEqual(ref([c0, c1, c2, c3].map(BigInt), [k0, k1].map(BigInt)));
      }),
      { numRuns: 200 },
    );
  });

  it('names streams by their four words, each reduced mod 2^32 as Rng reduces a seed', () => {
    expect(philoxStream(-1, 2 ** 32 + 3, 1.7, 4)).toEqual({ key0: 0xffffffff, key1: 3, ctr2: 1, ctr3: 4 });
    expect(() => philoxStream(Number.NaN, 0, 0, 0)).toThrow(/seed/);
  });
});

describe('portable math', () => {
  const ULP = 2 ** -52;
  const words = [0, 1, 2, 3, 0x1fffffff, 0x20000000, 0x5fffffff, 0x60000000, 0x7fffffff, 0x80000000, 0xdfffffff, 0xe0000000, 0xffffffff];
  const word = fc.integer({ min: 0, max: 0xffffffff });

  it('logUnit is log((x + 0.5) / 2^32) to within 1 ulp', () => {
    const check = (x: number) => {
      const want = Math.log((x + 0.5) / 2 ** 32);
      expect(Math.abs(logUnit(x) - want)).toBeLessThanOrEqual(Math.abs(want) * ULP);
    };
    words.forEach(check);
    fc.assert(
      fc.property(word, (x) => check(x)),
      { numRuns: 2000 },
    );
  });

  it('cosSinTurn is (cos, sin) of 2 pi (y + 0.5) / 2^32 to within 1e-15, on every quarter turn', () => {
    const cs = new Float64Array(2);
    const check = (y: number) => {
      const t = (2 * Math.PI * (y + 0.5)) / 2 ** 32;
      cosSinTurn(y, cs);
      // Math.cos(t) carries t's own rounding (up to 2pi ulp): the tolerance is that, not ours.
      expect(Math.abs(cs[0] - Math.cos(t))).toBeLessThan(1e-15);
      expect(Math.abs(cs[1] - Math.sin(t))).toBeLessThan(1e-15);
    };
    words.forEach(check);
    fc.assert(
      fc.property(word, (y) => check(y)),
      { numRuns: 2000 },
    );
  });

  it('expPortable is exp to within 1 ulp, 1 at 0, and 0 or Infinity beyond the double range', () => {
    fc.assert(
      fc.property(fc.double({ min: -700, max: 700, noNaN: true }), (a) => {
        const want = Math.exp(a);
        expect(Math.abs(expPortable(a) - want)).toBeLessThanOrEqual(want * ULP);
      }),
      { numRuns: 2000 },
    );
    expect(expPortable(0)).toBe(1);
    expect(expPortable(-0)).toBe(1);
    expect(expPortable(710)).toBe(Number.POSITIVE_INFINITY);
    expect(expPortable(1e9)).toBe(Number.POSITIVE_INFINITY);
    expect(expPortable(-1e9)).toBe(0);
  });
});

/** Kolmogorov-Smirnov distance of a sample from N(0, 1). */
function ksNormal(x: Float64Array): number {
  const s = Float64Array.from(x).sort();
  const erf = (z: number) => {
    // Abramowitz-Stegun 7.1.26 is too coarse at n = 2e5; integrate the density instead.
    const steps = 2000;
    const h = z / steps;
    let acc = 0;
    for (let i = 0; i <= steps; i++) acc += (i === 0 || i === steps ? 1 : i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
    return ((2 / Math.sqrt(Math.PI)) * acc * h) / 3;
  };
  const cdf = (v: number) => 0.5 * (1 + erf(v / Math.SQRT2));
  let d = 0;
  // The CDF at every 100th order statistic (an exact KS bound would need every one; the grid
  // adds at most 100 / n to D, accounted for below).
  for (let i = 0; i < s.length; i += 100) {
    const f = cdf(s[i]);
    d = Math.max(d, Math.abs(f - i / s.length), Math.abs(f - (i + 1) / s.length));
  }
  return d;
}

describe('the variation stream', () => {
  it('log-normal factors are exp(sigma z), z ~ N(0, 1) by Kolmogorov-Smirnov, G+ and G- uncorrelated', () => {
    const n = 200_000;
    const one = new Float64Array(n).fill(1);
    const gPos = new Float64Array(n);
    const gNeg = new Float64Array(n);
    jsKernels.lognormalPairs(one, one, 1, philoxStream(12, 0, 0, 1), gPos, gNeg);
    const zPos = gPos.map(Math.log);
    const zNeg = gNeg.map(Math.log);
    // 1.63 / sqrt(n) is the 1% critical value; + 100 / n for the grid of ksNormal.
    const crit = 1.63 / Math.sqrt(n) + 100 / n;
    expect(ksNormal(zPos)).toBeLessThan(crit);
    expect(ksNormal(zNeg)).toBeLessThan(crit);
    let r = 0;
    for (let i = 0; i < n; i++) r += zPos[i] * zNeg[i];
    // The sample correlation of independent normals has std 1/sqrt(n): 4 of those.
    expect(Math.abs(r / n)).toBeLessThan(4 / Math.sqrt(n));
  });
});
