import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';

describe('Rng', () => {
  it('same seed, same stream; different seeds and forks differ', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 100 }, () => a.nextUint32());
    expect(Array.from({ length: 100 }, () => b.nextUint32())).toEqual(xs);
    expect(new Rng(43).nextUint32()).not.toBe(new Rng(42).nextUint32());
    expect(new Rng(1).fork(0).uniform()).not.toBe(new Rng(1).fork(1).uniform());
  });
  it('normal draws have mean 0 and std 1', () => {
    const r = new Rng(3);
    const x = r.fillNormal(new Float32Array(200000));
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(std - 1)).toBeLessThan(0.01);
  });
  it('permutations are permutations (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 500 }), (seed, n) => {
        const p = Array.from(new Rng(seed).permutation(n)).sort((a, b) => a - b);
        expect(p).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
    );
  });
  it('uniform stays in [0, 1) and int in [0, n)', () => {
    const r = new Rng(9);
    for (let i = 0; i < 10000; i++) {
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      const k = r.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
  });
  it('rejects a non-finite seed', () => {
    expect(() => new Rng(Number.NaN)).toThrow(/seed/);
  });
});
