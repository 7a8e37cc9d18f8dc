import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Kernels, WindowGeometry } from '../../src/core/kernels.js';
import { jsKernels } from '../../src/core/kernels-js.js';
import { loadKernels } from '../../src/core/kernels-node.js';
import { describeWith } from '../optional.js';
import { filled } from './filled.js';

// Kernels.convInputGrad (a frozen convolution's input gradient without the unrolled rows): the JS
// kernel against its definition written out (rows dy w^T summed per filter in order, rounded per
// product and addition, then col2im), the native kernel against the JS one bit for bit.

const same = (a: Float32Array, b: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const geometryArb = fc
  .record({
    batch: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 9 }),
    w: fc.integer({ min: 1, max: 9 }),
    c: fc.integer({ min: 1, max: 7 }),
    k: fc.integer({ min: 1, max: 5 }),
    stride: fc.integer({ min: 1, max: 3 }),
    pad: fc.integer({ min: 0, max: 2 }),
    f: fc.integer({ min: 1, max: 20 }),
    seed: fc.integer(),
    zeros: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .filter((g) => g.pad < g.k && g.h + 2 * g.pad >= g.k && g.w + 2 * g.pad >= g.k);

function case_(p: {
  batch: number;
  h: number;
  w: number;
  c: number;
  k: number;
  stride: number;
  pad: number;
  f: number;
  seed: number;
  zeros: number;
}) {
  const oh = Math.floor((p.h + 2 * p.pad - p.k) / p.stride) + 1;
  const ow = Math.floor((p.w + 2 * p.pad - p.k) / p.stride) + 1;
  const g: WindowGeometry = { batch: p.batch, h: p.h, w: p.w, c: p.c, k: p.k, stride: p.stride, pad: p.pad, oh, ow };
  const rowLen = p.k * p.k * p.c;
  const rows = p.batch * oh * ow;
  const u = filled(rows * p.f, p.seed + 1);
  // Exact zeros (pooling's and ReLU's) and negative zeros among the gradients.
  const dy = Float32Array.from(filled(rows * p.f, p.seed), (v, i) => (Math.abs(u[i]) < p.zeros ? (i % 3 ? 0 : -0) : v));
  const w = Float32Array.from(filled(rowLen * p.f, p.seed + 2), (v, i) => v * 10 ** ((i % 5) - 2));
  return { g, dy, w, rows, rowLen, f: p.f };
}

/** The definition: rows v = dy w^T, each a float sum over the filters in order from +0, then col2im. */
function reference(dy: Float32Array, g: WindowGeometry, w: Float32Array, f: number): Float32Array {
  const rowLen = g.k * g.k * g.c;
  const rows = g.batch * g.oh * g.ow;
  const cols = new Float32Array(rows * rowLen);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < rowLen; j++) {
      let s = 0;
      for (let ff = 0; ff < f; ff++) s = Math.fround(s + Math.fround(dy[r * f + ff] * w[j * f + ff]));
      cols[r * rowLen + j] = s;
    }
  const dx = new Float32Array(g.batch * g.h * g.w * g.c);
  jsKernels.col2im(cols, g, dx);
  return dx;
}

function suite(k: () => Kernels) {
  it('is col2im of the rows dy w^T summed per filter in order, whatever the geometry and the zeros in dy', () => {
    fc.assert(
      fc.property(geometryArb, (p) => {
        const { g, dy, w, f } = case_(p);
        // Overwritten, not accumulated onto.
        const dx = new Float32Array(g.batch * g.h * g.w * g.c).fill(5);
        k().convInputGrad(dy, g, w, dx);
        expect(same(dx, reference(dy, g, w, f))).toBe(true);
      }),
      { numRuns: 80 },
    );
  });

  it('rejects weights that are not whole rows, short arrays and a dx sharing memory, with one message everywhere', () => {
    const g: WindowGeometry = { batch: 1, h: 4, w: 4, c: 2, k: 3, stride: 1, pad: 0, oh: 2, ow: 2 };
    const w = new Float32Array(18 * 3);
    const dy = new Float32Array(4 * 3);
    const dx = new Float32Array(32);
    expect(() => k().convInputGrad(dy, g, new Float32Array(20), dx)).toThrow(/convInputGrad: weights must hold k\*k\*c rows/);
    expect(() => k().convInputGrad(dy.subarray(1), g, w, dx)).toThrow(/convInputGrad: dy has 11 elements but the dimensions need 12/);
    expect(() => k().convInputGrad(dy, g, w, dx.subarray(1))).toThrow(/convInputGrad: dx has 31 elements/);
    const shared = new Float32Array(64);
    expect(() => k().convInputGrad(shared.subarray(0, 12), g, w, shared.subarray(8, 40))).toThrow(
      /convInputGrad: dx must not share memory with dy or weights/,
    );
    expect(() => k().convInputGrad(dy, { ...g, oh: 3 }, w, dx)).toThrow(/does not fit/);
  });
}

describe('JS convInputGrad', () => suite(() => jsKernels));

describeWith(['native'], 'native convInputGrad', () => {
  const native = () => loadKernels({ prefer: 'native', threads: 1 });
  suite(native);

  it('gives the JS kernel’s bits on LeNet-5’s layer, with NaN and infinities in dy', () => {
    const { g, dy, w } = case_({ batch: 5, h: 14, w: 14, c: 6, k: 5, stride: 1, pad: 0, f: 16, seed: 3, zeros: 0.7 });
    dy[17] = Number.NaN;
    dy[300] = Number.POSITIVE_INFINITY;
    dy[901] = Number.NEGATIVE_INFINITY;
    const [a, b] = [jsKernels, native()].map((k) => {
      const dx = new Float32Array(g.batch * g.h * g.w * g.c);
      k.convInputGrad(dy, g, w, dx);
      return dx;
    });
    expect(same(a, b)).toBe(true);
  });
});
