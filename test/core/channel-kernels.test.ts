import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Kernels } from '../../src/core/kernels.js';
import { jsKernels } from '../../src/core/kernels-js.js';
import { loadKernels } from '../../src/core/kernels-node.js';
import { describeWith } from '../optional.js';
import { filled } from './filled.js';

// The per-channel passes of training (Kernels.columnSums, reluGrad, channelAffine,
// channelAffineGrad, and the compensation modules' reluInPlace, reluGradInPlace, addInto): the JS kernels against the loops the layers ran before (written out here in
// double, rounded to float per store), the native ones against the JS ones bit for bit.

const same = (a: Float32Array, b: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Values from tiny to huge, both zeros, infinities and NaN among them. */
function awkward(n: number, seed: number): Float32Array {
  const x = Float32Array.from(filled(n, seed), (v, i) => v * 10 ** ((i % 11) - 5));
  const special = [0, -0, 1e-45, -1e-45, 3e38, -3e38, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN];
  for (let i = 0; i < special.length && i * 7 < n; i++) x[i * 7] = special[i];
  return x;
}

function suite(k: () => Kernels) {
  it('columnSums adds the rows onto out in row order, rounding per addition', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 37 }), fc.integer(), (rows, c, seed) => {
        const x = Float32Array.from(filled(rows * c, seed), (v, i) => v * 10 ** ((i % 5) - 2));
        const out = filled(c, seed + 1);
        const ref = out.slice();
        for (let i = 0; i < rows; i++) for (let j = 0; j < c; j++) ref[j] = Math.fround(ref[j] + x[i * c + j]);
        k().columnSums(x, rows, out);
        expect(same(out, ref)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('channelMeans is each channel of each image summed in double in pixel order, divided once (global average pooling)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 140 }),
        fc.integer(),
        (images, pixels, c, seed) => {
          const x = Float32Array.from(filled(images * pixels * c, seed), (v, i) => v * 10 ** ((i % 7) - 3));
          const ref = new Float32Array(images * c);
          for (let n = 0; n < images; n++)
            for (let ch = 0; ch < c; ch++) {
              let sum = 0;
              for (let p = 0; p < pixels; p++) sum += x[(n * pixels + p) * c + ch];
              ref[n * c + ch] = sum / pixels;
            }
          const y = new Float32Array(images * c).fill(7);
          k().channelMeans(x, pixels, c, y);
          expect(same(y, ref)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reluGrad passes dy where x > 0 and +0 elsewhere, NaN x included', () => {
    const n = 1001;
    const x = awkward(n, 3);
    const dy = awkward(n, 4);
    const dx = new Float32Array(n).fill(7);
    k().reluGrad(x, dy, dx);
    expect(
      same(
        dx,
        Float32Array.from(dy, (v, i) => (x[i] > 0 ? v : 0)),
      ),
    ).toBe(true);
  });

  it('reluInPlace zeroes what is below 0 and keeps -0 and NaN; reluGradInPlace keeps dy where x is not <= 0', () => {
    const n = 1001;
    const y = awkward(n, 5);
    const ref = Float32Array.from(y, (v) => (v < 0 ? 0 : v));
    k().reluInPlace(y);
    expect(same(y, ref)).toBe(true);
    const z = Float32Array.of(-0, Number.NaN, -1, 2);
    k().reluInPlace(z);
    expect(Object.is(z[0], -0) && Number.isNaN(z[1]) && Object.is(z[2], 0) && z[3] === 2).toBe(true);

    const x = awkward(n, 6);
    const dy = awkward(n, 7);
    const want = Float32Array.from(dy, (v, i) => (x[i] <= 0 ? 0 : v));
    k().reluGradInPlace(x, dy);
    expect(same(dy, want)).toBe(true);
  });

  it('addInto adds x onto y with one float rounding per value', () => {
    const n = 777;
    const y = awkward(n, 8);
    const x = awkward(n, 9);
    const want = Float32Array.from(y, (v, i) => Math.fround(v + x[i]));
    k().addInto(y, x);
    expect(same(y, want)).toBe(true);
  });

  it('channelAffine and channelAffineGrad give the per-channel loops in double, rounded per store', () => {
    for (const c of [1, 3, 6, 16, 33]) {
      const rows = 57;
      const n = rows * c;
      const x = awkward(n, c);
      const dy = awkward(n, c + 100);
      const s = Float32Array.from(filled(c, c + 200), (v) => v * 0.3);
      const t = filled(c, c + 300);
      const y = new Float32Array(n);
      k().channelAffine(x, s, t, y);
      const ry = new Float32Array(n);
      for (let i = 0; i < n; i++) ry[i] = x[i] * (1 + s[i % c]) + t[i % c];
      expect(same(y, ry)).toBe(true);

      const gs = filled(c, c + 400);
      const gt = filled(c, c + 500);
      const [rgs, rgt] = [gs.slice(), gt.slice()];
      const dx = new Float32Array(n);
      k().channelAffineGrad(x, dy, s, gs, gt, dx);
      for (let i = 0; i < n; i++) {
        rgs[i % c] += dy[i] * x[i];
        rgt[i % c] += dy[i];
      }
      expect(same(gs, rgs) && same(gt, rgt)).toBe(true);
      expect(
        same(
          dx,
          Float32Array.from(dy, (v, i) => v * (1 + s[i % c])),
        ),
      ).toBe(true);
      // Without dx only the parameter gradients move.
      k().channelAffineGrad(x, dy, s, gs, gt, null);
      for (let i = 0; i < n; i++) {
        rgs[i % c] += dy[i] * x[i];
        rgt[i % c] += dy[i];
      }
      expect(same(gs, rgs) && same(gt, rgt)).toBe(true);
    }
  });

  it('rejects mismatched lengths and outputs that share memory with inputs, with one message on every implementation', () => {
    const a = new Float32Array(12);
    const three = new Float32Array(3);
    expect(() => k().columnSums(a, 5, three)).toThrow(/columnSums: x has fewer than rows \* out.length elements/);
    expect(() => k().columnSums(a, 1, a.subarray(0, 3))).toThrow(/columnSums: out must not share memory with x/);
    expect(() => k().columnSums(a, -1, three)).toThrow(/rows must be an integer/);
    expect(() => k().channelMeans(a, 5, 3, three)).toThrow(/channelMeans: x must hold y.length \* pixels elements/);
    expect(() => k().channelMeans(a, 4, 2, three)).toThrow(/channelMeans: y.length must be a multiple of c/);
    expect(() => k().channelMeans(a, 4, 3, a.subarray(9))).toThrow(/channelMeans: y must not share memory with x/);
    expect(() => k().channelMeans(a, 0, 3, three)).toThrow(/pixels must be an integer/);
    expect(() => k().reluGrad(a, a.slice(), new Float32Array(11))).toThrow(/reluGrad: x, dy and dx must have one length/);
    expect(() => k().reluGrad(a, a.slice(), a)).toThrow(/reluGrad: dx must not share memory with x or dy/);
    expect(() => k().reluInPlace([] as unknown as Float32Array)).toThrow(/reluInPlace: y must be a Float32Array/);
    expect(() => k().reluGradInPlace(a, new Float32Array(11))).toThrow(/reluGradInPlace: x and dy must have one length/);
    expect(() => k().reluGradInPlace(a, a)).toThrow(/reluGradInPlace: dy must not share memory with x/);
    expect(() => k().addInto(a, new Float32Array(11))).toThrow(/addInto: y and x must have one length/);
    expect(() => k().addInto(a.subarray(0, 6), a.subarray(3, 9))).toThrow(/addInto: y must not share memory with x/);
    expect(() => k().channelAffine(a, three, new Float32Array(2), a.slice())).toThrow(/channelAffine: the per-channel arrays/);
    expect(() => k().channelAffine(a, new Float32Array(5), new Float32Array(5), a.slice())).toThrow(/multiple of the channel count/);
    expect(() => k().channelAffine(a, three, three.slice(), a)).toThrow(/channelAffine: y must not share memory/);
    expect(() => k().channelAffineGrad(a, a.slice(), three, three.slice(), three.slice(), new Float32Array(5))).toThrow(
      /channelAffineGrad: x, dy and dx must have one length/,
    );
    expect(() => k().channelAffineGrad(a, a.slice(), three, three, three.slice(), null)).toThrow(/must not share memory/);
    expect(() => k().channelAffineGrad(a, [] as unknown as Float32Array, three, three.slice(), three.slice(), null)).toThrow(
      /channelAffineGrad: dy must be a Float32Array/,
    );
  });
}

describe('JS per-channel training kernels', () => suite(() => jsKernels));

describeWith(['native'], 'native per-channel training kernels', () => {
  const native = () => loadKernels({ prefer: 'native', threads: 1 });
  suite(native);

  it('give the JS kernels’ bits on long, odd-length arrays', () => {
    for (const c of [1, 6, 16, 120]) {
      const rows = 1001;
      const n = rows * c;
      const x = awkward(n, 11 + c);
      const dy = awkward(n, 12 + c);
      const s = Float32Array.from(filled(c, 13), (v) => v * 0.5);
      const t = filled(c, 14);
      const out = [jsKernels, native()].map((k) => {
        const sums = filled(c, 15);
        k.columnSums(dy, rows, sums);
        const relu = new Float32Array(n);
        k.reluGrad(x, dy, relu);
        const y = new Float32Array(n);
        k.channelAffine(x, s, t, y);
        const [gs, gt, dx] = [filled(c, 16), filled(c, 17), new Float32Array(n)];
        k.channelAffineGrad(x, dy, s, gs, gt, dx);
        const means = new Float32Array(7 * c);
        k.channelMeans(x.subarray(0, 7 * 143 * c), 143, c, means);
        const hidden = x.slice();
        k.reluInPlace(hidden);
        const masked = dy.slice();
        k.reluGradInPlace(x, masked);
        const added = y.slice();
        k.addInto(added, dy);
        return [sums, relu, y, gs, gt, dx, means, hidden, masked, added];
      });
      for (let i = 0; i < out[0].length; i++) expect(same(out[0][i], out[1][i])).toBe(true);
    }
  });
});
