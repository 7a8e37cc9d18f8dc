import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Csr, type Kernels, toCsr, type WindowGeometry } from '../../src/core/kernels.js';
import { jsKernels } from '../../src/core/kernels-js.js';
import { loadKernels } from '../../src/core/kernels-node.js';
import { philox4x32, philoxStream } from '../../src/core/philox.js';
import { cosSinTurn, expPortable, logUnit } from '../../src/core/portable-math.js';
import { describeWith } from '../optional.js';
import { filled } from './filled.js';

// The kernels the simulator runs besides sgemm (im2col, col2im, maxPool, clamp, spmm): the JS ones
// against naive references, the native ones against the same references.

function geometry(batch: number, h: number, w: number, c: number, k: number, stride: number, pad: number): WindowGeometry {
  return { batch, h, w, c, k, stride, pad, oh: Math.floor((h + 2 * pad - k) / stride) + 1, ow: Math.floor((w + 2 * pad - k) / stride) + 1 };
}

/** Every cell of every window in im2col order: fn(cell index, image index or -1 over the padding). */
function forEachCell(g: WindowGeometry, fn: (o: number, xi: number) => void): void {
  const { batch, h, w, c, k, stride, pad, oh, ow } = g;
  let o = 0;
  for (let n = 0; n < batch; n++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ky = 0; ky < k; ky++)
          for (let kx = 0; kx < k; kx++)
            for (let ch = 0; ch < c; ch++, o++) {
              const iy = oy * stride + ky - pad;
              const ix = ox * stride + kx - pad;
              fn(o, iy >= 0 && iy < h && ix >= 0 && ix < w ? ((n * h + iy) * w + ix) * c + ch : -1);
            }
}

/** Naive im2col: zero outside the image. */
function im2colRef(x: Float32Array, g: WindowGeometry): Float32Array {
  const out = new Float32Array(g.batch * g.oh * g.ow * g.k * g.k * g.c);
  forEachCell(g, (o, xi) => {
    out[o] = xi < 0 ? 0 : x[xi];
  });
  return out;
}

/** Naive col2im: each cell added onto its pixel, in im2col order. */
function col2imRef(cols: Float32Array, x: Float32Array, g: WindowGeometry): void {
  forEachCell(g, (o, xi) => {
    if (xi >= 0) x[xi] += cols[o];
  });
}

function maxPoolRef(x: Float32Array, g: WindowGeometry): Float32Array {
  const { batch, h, w, c, k, stride, oh, ow } = g;
  const out = new Float32Array(batch * oh * ow * c);
  let o = 0;
  for (let n = 0; n < batch; n++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ch = 0; ch < c; ch++, o++) {
          let m = Number.NEGATIVE_INFINITY;
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) m = Math.max(m, x[((n * h + oy * stride + ky) * w + ox * stride + kx) * c + ch]);
          out[o] = m;
        }
  return out;
}

const CONVS = [
  geometry(3, 28, 28, 1, 5, 1, 2),
  geometry(2, 14, 14, 6, 5, 1, 0),
  geometry(2, 9, 7, 3, 3, 2, 1),
  geometry(1, 4, 4, 2, 3, 1, 1),
];
/** A convolution in double precision from the naive im2col: y = im2col(x) w + bias. */
function conv2dRef(x: Float32Array, g: WindowGeometry, w: Float32Array, bias: Float32Array): Float64Array {
  const n = bias.length;
  const rowLen = g.k * g.k * g.c;
  const cols = im2colRef(x, g);
  const rows = g.batch * g.oh * g.ow;
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < n; j++) {
      let s = bias[j];
      for (let p = 0; p < rowLen; p++) s += cols[r * rowLen + p] * w[p * n + j];
      y[r * n + j] = s;
    }
  return y;
}

/** conv2d of `kernels` against the double-precision reference: float32 sums of k*k*c terms of size ~1. */
function expectConv(kernels: Kernels, g: WindowGeometry, n: number, seed: number): Float32Array {
  const x = filled(g.batch * g.h * g.w * g.c, seed);
  // One row more than the weights: a crossbar matrix with its bias row passes as it is.
  const w = filled((g.k * g.k * g.c + 1) * n, seed + 1);
  const bias = filled(n, seed + 2);
  const y = filled(g.batch * g.oh * g.ow * n, seed + 3); // overwritten, whatever it held
  kernels.conv2d(x, g, w, bias, y);
  const want = conv2dRef(x, g, w, bias);
  const tol = 1e-6 * g.k * g.k * g.c + 1e-6;
  let worst = 0;
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - want[i]));
  expect(worst).toBeLessThan(tol);
  return y;
}

/** Output channels around the native kernel's register groups (8 columns, groups of 32). */
const CONV_CHANNELS = [1, 6, 8, 16, 20, 32, 45];

const POOLS = [geometry(3, 28, 28, 6, 2, 2, 0), geometry(2, 10, 10, 16, 2, 2, 0), geometry(2, 7, 9, 3, 3, 2, 0)];

function suite(kernels: () => Kernels): void {
  it('im2col unrolls every window, leaving the padding cells as they were', () => {
    for (const [i, g] of CONVS.entries()) {
      const x = filled(g.batch * g.h * g.w * g.c, i + 1);
      const cols = new Float32Array(g.batch * g.oh * g.ow * g.k * g.k * g.c);
      kernels().im2col(x, g, cols);
      expect(cols).toEqual(im2colRef(x, g));
    }
  });

  it('col2im adds every window back onto its pixels in im2col order (the adjoint of im2col)', () => {
    for (const [i, g] of CONVS.entries()) {
      const cols = filled(g.batch * g.oh * g.ow * g.k * g.k * g.c, i + 3);
      const start = filled(g.batch * g.h * g.w * g.c, i + 5);
      const x = start.slice();
      kernels().col2im(cols, g, x);
      const want = start.slice();
      col2imRef(cols, want, g);
      expect(x).toEqual(want);
      // <im2col(u), cols> = <u, col2im(cols)>: the input gradient of a convolution.
      const u = filled(g.batch * g.h * g.w * g.c, i + 9);
      const back = new Float32Array(u.length);
      kernels().col2im(cols, g, back);
      const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, j) => s + v * b[j], 0);
      expect(dot(im2colRef(u, g), cols)).toBeCloseTo(dot(u, back), 2);
    }
  });

  it('conv2d is im2col times the weights plus the bias (padding, stride, channel counts around the register groups)', () => {
    for (const [i, g] of [
      ...CONVS,
      geometry(2, 28, 28, 8, 3, 1, 1),
      geometry(2, 7, 7, 32, 3, 1, 1),
      geometry(3, 14, 14, 16, 1, 2, 0),
    ].entries())
      for (const n of CONV_CHANNELS) expectConv(kernels(), g, n, 100 * i + n);
  });

  it('conv2d of a batch is, bit for bit, conv2d of each image alone (no output depends on its block)', () => {
    const g = geometry(5, 11, 13, 3, 3, 1, 1);
    const per = g.oh * g.ow;
    for (const n of [8, 20]) {
      const x = filled(g.batch * g.h * g.w * g.c, n);
      const w = filled(g.k * g.k * g.c * n, n + 1);
      const bias = filled(n, n + 2);
      const all = new Float32Array(g.batch * per * n);
      kernels().conv2d(x, g, w, bias, all);
      const img = g.h * g.w * g.c;
      for (let b = 0; b < g.batch; b++) {
        const one = new Float32Array(per * n);
        kernels().conv2d(x.subarray(b * img, (b + 1) * img), { ...g, batch: 1 }, w, bias, one);
        expect(Buffer.from(one.buffer).equals(Buffer.from(all.buffer, b * per * n * 4, per * n * 4))).toBe(true);
      }
    }
  });

  it('conv2d then adds and clamps as the separate passes would, bit for bit (a residual addition and a ReLU with a rail)', () => {
    const g = geometry(3, 10, 10, 8, 3, 1, 1);
    for (const n of [8, 20]) {
      const x = filled(g.batch * g.h * g.w * g.c, n + 30);
      const w = filled(g.k * g.k * g.c * n, n + 31);
      const bias = filled(n, n + 32);
      const add = filled(g.batch * g.oh * g.ow * n, n + 33);
      const want = new Float32Array(add.length);
      kernels().conv2d(x, g, w, bias, want);
      for (let i = 0; i < want.length; i++) want[i] += add[i];
      kernels().clamp(want, 0, 1.2345678901);
      const got = new Float32Array(add.length);
      kernels().conv2d(x, g, w, bias, got, { add, lo: 0, hi: 1.2345678901 });
      expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
      expect(got.some((v) => v === 0) && got.some((v) => Math.abs(v - 1.2345678901) < 1e-6)).toBe(true);
    }
    // Without bounds nothing is clamped: a NaN input stays NaN.
    const x = new Float32Array(g.batch * g.h * g.w * g.c).fill(Number.NaN);
    const y = new Float32Array(g.batch * g.oh * g.ow * 8);
    kernels().conv2d(x, g, filled(g.k * g.k * g.c * 8, 1), filled(8, 2), y);
    expect(y.every(Number.isNaN)).toBe(true);
  });

  it('conv2d matches the reference on random geometries (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 1, max: 12 }),
          w: fc.integer({ min: 1, max: 12 }),
          c: fc.integer({ min: 1, max: 9 }),
          k: fc.integer({ min: 1, max: 5 }),
          stride: fc.integer({ min: 1, max: 3 }),
          pad: fc.integer({ min: 0, max: 4 }),
          n: fc.integer({ min: 1, max: 40 }),
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        ({ batch, h, w, c, k, stride, pad, n, seed }) => {
          const p = Math.min(pad, k - 1);
          fc.pre(h + 2 * p >= k && w + 2 * p >= k);
          expectConv(kernels(), geometry(batch, h, w, c, k, stride, p), n, seed);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('conv2d with padding gives, bit for bit, conv2d of the image padded with zeros beforehand (edge pixels, row pairs, any block size)', () => {
    // The zero terms add +-0 to a sum that cannot be -0: leaving them out (window rows cut to the image)
    // or adding them (a padded copy, whole windows) must give the same bits, whichever kernel takes a pixel.
    const padImages = (x: Float32Array, g: WindowGeometry): Float32Array => {
      const hp = g.h + 2 * g.pad,
        wp = g.w + 2 * g.pad;
      const out = new Float32Array(g.batch * hp * wp * g.c);
      for (let b = 0; b < g.batch; b++)
        for (let r = 0; r < g.h; r++)
          out.set(x.subarray((b * g.h + r) * g.w * g.c, (b * g.h + r + 1) * g.w * g.c), ((b * hp + r + g.pad) * wp + g.pad) * g.c);
      return out;
    };
    fc.assert(
      fc.property(
        fc.record({
          h: fc.integer({ min: 1, max: 16 }),
          w: fc.integer({ min: 1, max: 30 }),
          c: fc.integer({ min: 1, max: 9 }),
          k: fc.integer({ min: 1, max: 5 }),
          stride: fc.integer({ min: 1, max: 2 }),
          pad: fc.integer({ min: 1, max: 2 }),
          n: fc.constantFrom(1, 3, 6, 8, 9, 16, 20, 32, 40),
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        ({ h, w, c, k, stride, pad, n, seed }) => {
          const p = Math.min(pad, k - 1);
          fc.pre(p > 0 && h + 2 * p >= k && w + 2 * p >= k);
          const g = geometry(2, h, w, c, k, stride, p);
          const x = filled(g.batch * h * w * c, seed);
          const wt = filled(k * k * c * n, seed + 1);
          const bias = filled(n, seed + 2);
          const add = filled(g.batch * g.oh * g.ow * n, seed + 3);
          const want = new Float32Array(add.length);
          const zeroPadded = { ...g, h: h + 2 * p, w: w + 2 * p, pad: 0 };
          kernels().conv2d(padImages(x, g), zeroPadded, wt, bias, want, { add, lo: -0.5 });
          const got = new Float32Array(add.length);
          kernels().conv2d(x, g, wt, bias, got, { add, lo: -0.5 });
          expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('conv2d of single-channel images (pixels in the lanes) gives the bits of the same images with a zero second channel', () => {
    // A zero channel adds a +-0 term after each input: the same sums. With two channels the general
    // kernel runs, with one the single-channel kernel for stride 1 and at most 8 filters.
    for (const [h, w] of [
      [28, 28],
      [5, 3],
      [1, 9],
      [13, 17],
    ])
      for (const k of [1, 3, 5])
        for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
          const pad = Math.min(k - 1, n % 3);
          if (h + 2 * pad < k || w + 2 * pad < k) continue;
          const g = geometry(3, h, w, 1, k, 1, pad);
          const seed = 1000 * k + 10 * n + h;
          const x = filled(g.batch * h * w, seed);
          const wt = filled(k * k * n, seed + 1);
          const bias = filled(n, seed + 2);
          const add = n % 2 ? filled(g.batch * g.oh * g.ow * n, seed + 3) : undefined;
          const x2 = new Float32Array(2 * x.length);
          for (let i = 0; i < x.length; i++) x2[2 * i] = x[i];
          const w2 = new Float32Array(2 * wt.length);
          for (let r = 0; r < k * k; r++) w2.set(wt.subarray(r * n, (r + 1) * n), 2 * r * n);
          const want = new Float32Array(g.batch * g.oh * g.ow * n);
          kernels().conv2d(x2, { ...g, c: 2 }, w2, bias, want, { add, lo: 0 });
          const got = new Float32Array(want.length);
          kernels().conv2d(x, g, wt, bias, got, { add, lo: 0 });
          expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
        }
  });

  it('maxPool takes each window maximum', () => {
    for (const [i, g] of POOLS.entries()) {
      const x = filled(g.batch * g.h * g.w * g.c, i + 7);
      const y = new Float32Array(g.batch * g.oh * g.ow * g.c);
      kernels().maxPool(x, g, y);
      expect(y).toEqual(maxPoolRef(x, g));
    }
  });

  it("maxPool with argmax gives the same maxima and each one's index in x (the first on ties, -1 in an all -Infinity window)", () => {
    for (const [i, g] of POOLS.entries()) {
      // Values on a coarse grid tie often; the first window is all -Infinity.
      const x = filled(g.batch * g.h * g.w * g.c, i + 11).map((v) => Math.round(v * 2) / 2 + 0); // + 0: no -0 (Math.max ranks it)
      for (let ky = 0; ky < g.k; ky++) for (let kx = 0; kx < g.k; kx++) x[(ky * g.w + kx) * g.c] = Number.NEGATIVE_INFINITY;
      const y = new Float32Array(g.batch * g.oh * g.ow * g.c);
      const at = new Int32Array(y.length).fill(-7);
      kernels().maxPool(x, g, y, at);
      expect(y).toEqual(maxPoolRef(x, g));
      expect(at[0]).toBe(-1);
      let o = 0;
      for (let n = 0; n < g.batch; n++)
        for (let oy = 0; oy < g.oh; oy++)
          for (let ox = 0; ox < g.ow; ox++)
            for (let ch = 0; ch < g.c; ch++, o++) {
              if (o === 0) continue;
              let first = -1;
              for (let ky = 0; ky < g.k && first < 0; ky++)
                for (let kx = 0; kx < g.k && first < 0; kx++) {
                  const xi = ((n * g.h + oy * g.stride + ky) * g.w + ox * g.stride + kx) * g.c + ch;
                  if (x[xi] === y[o]) first = xi;
                }
              expect(at[o]).toBe(first);
            }
    }
  });

  it('clamp is min(max(y, lo), hi) in double precision, +0 for -0 at lo = 0', () => {
    const y = Float32Array.from([-3, -0, 0, 0.1, 2.4999998, 2.5, 7, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    // A bound that is not a float: values are compared with it exactly and clipped to its float.
    const hi = 2.49999999;
    const expected = Array.from(y, (v) => Math.fround(Math.min(Math.max(v, 0), hi)));
    kernels().clamp(y, 0, hi);
    expect(Array.from(y)).toEqual(expected);
    expect(Object.is(y[1], 0)).toBe(true);
    const z = filled(1000, 3);
    const want = Array.from(z, (v) => Math.fround(Math.min(Math.max(v, -0.25), Number.POSITIVE_INFINITY)));
    kernels().clamp(z, -0.25, Number.POSITIVE_INFINITY);
    expect(Array.from(z)).toEqual(want);
    expect(() => kernels().clamp(z, 1, 0)).toThrow(/lo <= hi/);
  });

  it('spmm adds a sparse matrix times a dense one (CSR of a matrix with ~80% zeros)', () => {
    for (const [m, n, k] of [
      [50, 256, 784],
      [7, 70, 33],
      [3, 5, 4],
      [0, 8, 8],
    ]) {
      const a = filled(m * k, m + n).map((v) => (v > 0.6 ? v : 0));
      const b = filled(k * n, k);
      const c0 = filled(m * n, 9);
      const want = c0.slice();
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
          want[i * n + j] = s + c0[i * n + j];
        }
      const c = c0.slice();
      kernels().spmm(m, n, k, toCsr(a, m, k) as Csr, b, c);
      // float32 sums of up to ~160 terms of size ~1 against a double reference
      for (let i = 0; i < c.length; i++) expect(Math.abs(c[i] - want[i])).toBeLessThan(1e-4);
    }
  });
}

describe('js simulator kernels', () => {
  suite(() => loadKernels({ prefer: 'js' }));

  it('spmm gives exactly what sgemm gives on the dense matrix, so the sparse path never changes a result', () => {
    const k = loadKernels({ prefer: 'js' });
    const [m, n, kk] = [40, 64, 100];
    const a = filled(m * kk, 4).map((v) => (v > 0.5 ? v : v < -0.9 ? -0 : 0));
    const b = filled(kk * n, 5);
    const bias = filled(m * n, 6);
    const viaGemm = bias.slice();
    k.sgemm(false, false, m, n, kk, 1, a, kk, b, n, 1, viaGemm, n);
    const viaSparse = bias.slice();
    k.spmm(m, n, kk, toCsr(a, m, kk) as Csr, b, viaSparse);
    expect(viaSparse).toEqual(viaGemm);
  });
});

describe('lognormalPairs', () => {
  it('draws cell i from Philox block floor(i / 2) of the stream, Box-Muller with the portable math', () => {
    const n = 1001;
    const tPos = Float64Array.from(filled(n, 1), (v) => 1e-6 * (2 + v));
    const tNeg = Float64Array.from(filled(n, 2), (v) => 1e-6 * (2 + v));
    const gPos = new Float64Array(n);
    const gNeg = new Float64Array(n);
    const st = philoxStream(5, 2, 1, 1);
    jsKernels.lognormalPairs(tPos, tNeg, 0.3, st, gPos, gNeg);
    const words = new Uint32Array(4);
    const cs = new Float64Array(2);
    for (const i of [0, 1, 2, 999, 1000]) {
      philox4x32(i >>> 1, 0, 1, 1, 5, 2, words);
      const w = (i % 2) * 2;
      const r = Math.sqrt(-2 * logUnit(words[w]));
      cosSinTurn(words[w + 1], cs);
      expect(gPos[i]).toBe(tPos[i] * expPortable(0.3 * (r * cs[0])));
      expect(gNeg[i]).toBe(tNeg[i] * expPortable(0.3 * (r * cs[1])));
    }
    // In place (programming overwrites the targets) gives the same values.
    const inPlace = [tPos.slice(), tNeg.slice()];
    jsKernels.lognormalPairs(inPlace[0], inPlace[1], 0.3, st, inPlace[0], inPlace[1]);
    expect(inPlace).toEqual([gPos, gNeg]);
    expect(() => jsKernels.lognormalPairs(tPos, tNeg, Number.POSITIVE_INFINITY, st, gPos, gNeg)).toThrow(/sigma/);
    expect(() => jsKernels.lognormalPairs(tPos, tNeg.subarray(1), 0.1, st, gPos, gNeg)).toThrow(/one length/);
  });
});

describe('normalPairs', () => {
  it("is lognormalPairs' pair before the exp: r cos for G+, r sin for G-, of the same Philox words", () => {
    const n = 1001;
    const zPos = new Float64Array(n);
    const zNeg = new Float64Array(n);
    const st = philoxStream(5, 2, 1, 2 ** 31 + 9);
    jsKernels.normalPairs(st, zPos, zNeg);
    const words = new Uint32Array(4);
    const cs = new Float64Array(2);
    for (const i of [0, 1, 2, 999, 1000]) {
      philox4x32(i >>> 1, 0, 1, 2 ** 31 + 9, 5, 2, words);
      const w = (i % 2) * 2;
      const r = Math.sqrt(-2 * logUnit(words[w]));
      cosSinTurn(words[w + 1], cs);
      expect(zPos[i]).toBe(r * cs[0]);
      expect(zNeg[i]).toBe(r * cs[1]);
    }
    const one = new Float64Array(n).fill(1);
    const g = [new Float64Array(n), new Float64Array(n)];
    jsKernels.lognormalPairs(one, one, 1, st, g[0], g[1]);
    for (let i = 0; i < n; i++) expect([g[0][i], g[1][i]]).toEqual([expPortable(zPos[i]), expPortable(zNeg[i])]);
    expect(() => jsKernels.normalPairs(st, zPos, zNeg.subarray(1))).toThrow(/one length/);
    expect(() => jsKernels.normalPairs(st, zPos, new Float32Array(n) as never)).toThrow(/zNeg must be a Float64Array/);
  });
});

describe('expScaled', () => {
  it('is expPortable(c x[i]), x[i] widened to a double, for any c', () => {
    const x = Float32Array.from(filled(1001, 3), (v) => 0.1 * v);
    const out = new Float64Array(x.length);
    for (const c of [-Math.log(1 + (365 * 86400) / 20), 0, -0, 3.5]) {
      jsKernels.expScaled(x, c, out);
      for (const i of [0, 1, 500, 1000]) expect(out[i]).toBe(expPortable(c * x[i]));
    }
    expect(() => jsKernels.expScaled(x, Number.NaN, out)).toThrow(/c must be a finite number/);
    expect(() => jsKernels.expScaled(x, 1, out.subarray(1))).toThrow(/one length/);
  });
});

describe('toCsr', () => {
  it('keeps every nonzero, row by row, in column order', () => {
    const x = Float32Array.from([0, 1, 0, 2, 0, 0, -0, 0, 3]);
    const c = toCsr(x, 3, 3) as Csr;
    expect(toCsr(x, 3, 3, 0.3)).toBeNull();
    expect(toCsr(x, 3, 3, 0.34)).not.toBeNull();
    expect(Array.from(c.rowPtr)).toEqual([0, 1, 2, 3]);
    expect(Array.from(c.col)).toEqual([1, 0, 2]);
    expect(Array.from(c.val)).toEqual([1, 2, 3]);
  });
});

/** The float32 neighbour of float f in the direction of x (x !== f). */
function nextFloatToward(f: number, x: number): number {
  if (f === 0) return x > 0 ? 2 ** -149 : -(2 ** -149);
  const bits = new Int32Array(new Float32Array([f]).buffer);
  bits[0] += x > f === f > 0 ? 1 : -1;
  return new Float32Array(bits.buffer)[0];
}

/**
 * fmaf(a, b, c) of float32 values, rounded once as a fused multiply-add is: a * b is exact in a
 * double, and the double sum's rounding error (TwoSum) decides the one case where the double
 * sum's own rounding could mislead the rounding to float, a double sum exactly between two floats.
 */
function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const f = Math.fround(s);
  if (f === s || !Number.isFinite(s)) return f;
  const t = s - p;
  const e = p - (s - t) + (c - t);
  const g = nextFloatToward(f, s);
  if (e === 0 || s !== (f + g) / 2) return f;
  return e > 0 === g > f ? g : f;
}

/** C += A B as chains over each row's nonzeros in order: fused multiply-adds, or a rounded product then a rounded sum. */
function spmmChains(m: number, n: number, a: Csr, b: Float32Array, c0: Float32Array, fused: boolean): Float32Array {
  const c = c0.slice();
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let acc = c[i * n + j];
      for (let p = a.rowPtr[i]; p < a.rowPtr[i + 1]; p++) {
        const x = a.val[p];
        const y = b[a.col[p] * n + j];
        acc = fused ? fmaf(x, y, acc) : Math.fround(acc + Math.fround(x * y));
      }
      c[i * n + j] = acc;
    }
  return c;
}

describe('fmaf', () => {
  it('rounds once: ties the double sum creates are broken by its error', () => {
    // a b = 2^-24 (1 + 4688 2^-46): 1 + a b is just above the tie 1 + 2^-24 between floats 1 and
    // 1 + 2^-23, but its double sum is the tie itself and a float product is exactly 2^-24.
    const [a, b] = [1 + 2896 * 2 ** -23, (1 - 2895 * 2 ** -23) * 2 ** -24];
    expect([Math.fround(a), Math.fround(b)]).toEqual([a, b]);
    expect(fmaf(a, b, 1)).toBe(1 + 2 ** -23);
    expect(Math.fround(a * b + 1)).toBe(1);
    expect(Math.fround(1 + Math.fround(a * b))).toBe(1);
    expect(fmaf(-a, b, -1)).toBe(-(1 + 2 ** -23));
    expect(fmaf(a, -b, 1)).toBe(1 - 2 ** -24); // below 1 the floats are 2^-24 apart: no tie there
    // The product's rounding error, which only a fused multiply-add gives.
    const u = 1 + 2 ** -23;
    expect(fmaf(u, u, -Math.fround(u * u))).toBe(2 ** -46);
    expect(fmaf(3, 0.5, 0.25)).toBe(1.75);
    expect(Object.is(fmaf(0, 1, -0), 0)).toBe(true);
  });
});

describeWith(['native'], 'native simulator kernels', () => {
  const native = () => loadKernels({ prefer: 'native', threads: 1 });
  suite(native);

  it('spmm gives the same bits with 1 or 2 threads (rows are split, never a sum)', () => {
    const [m, n, k] = [500, 96, 300];
    const a = filled(m * k, 11).map((v) => (v > 0.5 ? v : 0));
    const b = filled(k * n, 12);
    const csr = toCsr(a, m, k) as Csr;
    const one = new Float32Array(m * n);
    const two = new Float32Array(m * n);
    loadKernels({ prefer: 'native', threads: 1 }).spmm(m, n, k, csr, b, one);
    loadKernels({ prefer: 'native', threads: 2 }).spmm(m, n, k, csr, b, two);
    expect(Buffer.from(two.buffer).equals(Buffer.from(one.buffer))).toBe(true);
  });

  it('im2col and col2im give the JS bits on LeNet-5-sized batches (padding, stride 2, odd sizes)', () => {
    for (const g of [geometry(24, 28, 28, 1, 5, 1, 2), geometry(31, 14, 14, 6, 5, 1, 0), geometry(3, 15, 13, 4, 3, 2, 1)]) {
      const x = filled(g.batch * g.h * g.w * g.c, 31);
      const colsLen = g.batch * g.oh * g.ow * g.k * g.k * g.c;
      const dcols = filled(colsLen, 32);
      const js = new Float32Array(colsLen);
      jsKernels.im2col(x, g, js);
      const back = filled(x.length, 33);
      jsKernels.col2im(dcols, g, back);
      const cols = new Float32Array(colsLen);
      native().im2col(x, g, cols);
      expect(Buffer.from(cols.buffer).equals(Buffer.from(js.buffer))).toBe(true);
      const dx = filled(x.length, 33);
      native().col2im(dcols, g, dx);
      expect(Buffer.from(dx.buffer).equals(Buffer.from(back.buffer))).toBe(true);
    }
  });

  it('maxPool gives the JS maxima and argmax, ties, NaN and -Infinity included', () => {
    const g = geometry(20, 28, 28, 6, 2, 2, 0);
    const x = Float32Array.from(filled(g.batch * g.h * g.w * g.c, 41), (v) => Math.round(v * 4) / 4); // many ties
    for (let i = 0; i < x.length; i += 97) x[i] = i % 2 ? Number.NaN : Number.NEGATIVE_INFINITY;
    const yLen = g.batch * g.oh * g.ow * g.c;
    const [jy, ja] = [new Float32Array(yLen), new Int32Array(yLen)];
    jsKernels.maxPool(x, g, jy, ja);
    const [y, a] = [new Float32Array(yLen), new Int32Array(yLen)];
    native().maxPool(x, g, y, a);
    expect(Buffer.from(y.buffer).equals(Buffer.from(jy.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(ja.buffer))).toBe(true);
  });

  it('maxPool without argmax gives the JS bits for every channel count (the fixed-channel loops and the general one): -0/+0 ties, NaN, -Infinity', () => {
    // 1-4, 6, 8, 12, 16, 24, 32 have their own loop in native/windows.c; 5 and 40 take the general one.
    for (const c of [1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 40])
      for (const g of [geometry(3, 8, 8, c, 2, 2, 0), geometry(2, 9, 7, c, 3, 2, 0)]) {
        // On a coarse grid with signed zeros: which of -0 and +0 a window keeps depends on the order it is walked in.
        const x = Float32Array.from(filled(g.batch * g.h * g.w * g.c, 60 + c), (v) =>
          v < 0.3 ? (v < 0.15 ? -0 : 0) : Math.round(v * 4) / 4,
        );
        for (let i = 0; i < x.length; i += 37) x[i] = i % 2 ? Number.NaN : Number.NEGATIVE_INFINITY;
        const yLen = g.batch * g.oh * g.ow * g.c;
        const [want, got] = [new Float32Array(yLen), new Float32Array(yLen).fill(7)];
        jsKernels.maxPool(x, g, want);
        native().maxPool(x, g, got);
        expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `c=${c} k=${g.k}`).toBe(true);
      }
  });

  it('maxPoolGrad scatters dy onto the argmax cells: JS and native the same bits; bad indices rejected', () => {
    for (const g of [geometry(20, 28, 28, 6, 2, 2, 0), geometry(3, 9, 9, 2, 3, 2, 0)]) {
      const x = Float32Array.from(filled(g.batch * g.h * g.w * g.c, 51), (v) => Math.round(v * 4) / 4);
      for (let i = 0; i < x.length; i += 89) x[i] = Number.NaN;
      const yLen = g.batch * g.oh * g.ow * g.c;
      const [y, am] = [new Float32Array(yLen), new Int32Array(yLen)];
      jsKernels.maxPool(x, g, y, am);
      const dy = filled(yLen, 52);
      const ref = filled(x.length, 53);
      for (let o = 0; o < yLen; o++) if (am[o] >= 0) ref[am[o]] += dy[o];
      const js = filled(x.length, 53);
      jsKernels.maxPoolGrad(dy, am, g, js);
      expect(Buffer.from(js.buffer).equals(Buffer.from(ref.buffer))).toBe(true);
      const dx = filled(x.length, 53);
      native().maxPoolGrad(dy, am, g, dx);
      expect(Buffer.from(dx.buffer).equals(Buffer.from(ref.buffer))).toBe(true);
      const bad = am.slice();
      bad[bad.length - 1] = 0; // the last image's output pointing into the first image
      for (const k of [jsKernels, native()])
        expect(() => k.maxPoolGrad(dy, bad, g, new Float32Array(x.length))).toThrow(
          /maxPoolGrad: argmax holds an index outside its image's input/,
        );
    }
  });

  it('spmm computes each output as one chain over its row in order, on awkward shapes and 1 or 2 threads', () => {
    // Packed 32-column panels (nonzeros >= k) or not (sparse rows, k = 300), groups of 3 rows and
    // their remainders, rows of unequal lengths and empty rows, 8-column and single-column tails;
    // 131 rows go to 2 threads as 65 + 66.
    let fusedDiffers = false;
    const shapes = [
      [1, 5],
      [1, 300],
      [2, 5],
      [4, 300],
      [7, 5],
      [7, 300],
      [131, 5],
      [131, 40],
    ];
    for (const [m, k] of shapes)
      for (const n of [1, 9, 33, 72, 97]) {
        const seed = m * 1000 + n * 10 + k;
        const share = (row: number) => [0.9, 0.5, 0.2, 0, 0.05][row % 5] * (k >= 300 ? 0.1 : 1);
        const a = filled(m * k, seed).map((v, i) => ((v + 1) / 2 < share(Math.floor(i / k)) ? v : 0));
        const b = filled(k * n, seed + 1).map((v, i) => (i % 11 === 0 ? 0 : v));
        const c0 = filled(m * n, seed + 2).map((v, i) => (i % 13 === 0 ? -0 : v));
        const csr = toCsr(a, m, k) as Csr;
        const fused = spmmChains(m, n, csr, b, c0, true);
        const unfused = spmmChains(m, n, csr, b, c0, false);
        const same = (x: Float32Array, y: Float32Array) => Buffer.from(x.buffer).equals(Buffer.from(y.buffer));
        fusedDiffers ||= !same(fused, unfused);
        for (const threads of [1, 2]) {
          const c = c0.slice();
          loadKernels({ prefer: 'native', threads }).spmm(m, n, k, csr, b, c);
          // AVX2/AVX-512 fuse every term; the plain C loop (no AVX2) multiplies, then adds.
          expect(same(c, fused) || same(c, unfused), `m ${m} n ${n} k ${k} threads ${threads}`).toBe(true);
        }
      }
    expect(fusedDiffers).toBe(true);
  });

  it("spmm with its rows planned in pairs gives each row's own chain, bit for bit", () => {
    // MNIST-like rows (a share of 10-40% nonzeros), with -0 starts (a pair falls back to its rows'
    // chains), a +Infinity in B (the panel holding it falls back: 0 x inf would be NaN), zeros in
    // B; odd row counts (a single row left), tails of 8 and 1 columns, 1 or 2 threads.
    const same = (x: Float32Array, y: Float32Array) => Buffer.from(x.buffer).equals(Buffer.from(y.buffer));
    let planned = 0;
    for (const [m, k] of [
      [2, 40],
      [131, 40],
      [67, 97],
    ])
      for (const n of [32, 33, 97])
        for (const variant of ['plain', 'negative zero starts', 'infinity in B']) {
          const seed = m * 1000 + n * 10 + k;
          const a = filled(m * k, seed).map((v, i) => ((v + 1) / 2 < 0.1 + (0.3 * ((Math.floor(i / k) * 7) % 5)) / 4 ? v : 0));
          const b = filled(k * n, seed + 1).map((v, i) =>
            i % 11 === 0 ? 0 : variant === 'infinity in B' && i === 5 * n + 3 ? Infinity : v,
          );
          const c0 = filled(m * n, seed + 2).map((v, i) => (variant === 'negative zero starts' && i % 13 === 0 ? -0 : v));
          const csr = toCsr(a, m, k) as Csr;
          const pairs = native().pairRows?.(m, k, csr);
          expect(pairs, `m ${m} k ${k}`).toBeTruthy();
          planned++;
          const want = spmmChains(m, n, csr, b, c0, true);
          for (const threads of [1, 2]) {
            const c = c0.slice();
            loadKernels({ prefer: 'native', threads }).spmm(m, n, k, { ...csr, pairs: pairs ?? undefined }, b, c);
            expect(same(c, want), `m ${m} n ${n} k ${k} ${variant} threads ${threads}`).toBe(true);
          }
          // The paths without AVX2 take no plan: each thread still runs only its own rows.
          if (variant === 'plain' && n === 33) {
            process.env.XBAR_NO_AVX2 = '1';
            try {
              const c = c0.slice();
              loadKernels({ prefer: 'native', threads: 2 }).spmm(m, n, k, { ...csr, pairs: pairs ?? undefined }, b, c);
              expect(same(c, spmmChains(m, n, csr, b, c0, false)), `m ${m} k ${k} without AVX2`).toBe(true);
            } finally {
              delete process.env.XBAR_NO_AVX2;
            }
          }
        }
    expect(planned).toBe(27);
  });

  it('pairRows plans only matrices whose rows hold ascending columns, and spmm refuses a plan of another matrix', () => {
    const k = native();
    const csr = toCsr(
      filled(6 * 50, 3).map((v) => (v > 0.3 ? v : 0)),
      6,
      50,
    ) as Csr;
    expect(k.pairRows?.(6, 50, csr)).toBeTruthy();
    // Row 0's first two columns swapped: pairing would reorder its terms.
    const col = csr.col.slice();
    [col[0], col[1]] = [col[1], col[0]];
    expect(k.pairRows?.(6, 50, { ...csr, col })).toBeNull();
    expect(k.pairRows?.(1, 50, { rowPtr: csr.rowPtr.subarray(0, 2), col: csr.col, val: csr.val })).toBeNull();
    const other = toCsr(
      filled(6 * 50, 4).map((v) => (v > 0.3 ? v : 0)),
      6,
      50,
    ) as Csr;
    const b = filled(50 * 40, 5);
    const c = new Float32Array(6 * 40);
    expect(() => k.spmm(6, 40, 50, { ...other, pairs: k.pairRows?.(6, 50, csr) ?? undefined }, b, c)).toThrow(/planned for another matrix/);
    expect(() => k.spmm(6, 40, 50, { ...csr, pairs: {} }, b, c)).toThrow(/pairs must come from spmmPairs/);
  });

  it('conv2d gives the same bits with 1 or 2 threads (images are split, never a sum)', () => {
    const g = geometry(7, 14, 14, 16, 3, 1, 1);
    const x = filled(g.batch * g.h * g.w * g.c, 21);
    const w = filled(g.k * g.k * g.c * 32, 22);
    const bias = filled(32, 23);
    const one = new Float32Array(g.batch * g.oh * g.ow * 32);
    const two = new Float32Array(one.length);
    loadKernels({ prefer: 'native', threads: 1 }).conv2d(x, g, w, bias, one);
    loadKernels({ prefer: 'native', threads: 2 }).conv2d(x, g, w, bias, two);
    expect(Buffer.from(two.buffer).equals(Buffer.from(one.buffer))).toBe(true);
  });

  it('conv2d without AVX2 (XBAR_NO_AVX2: im2col + sgemm in blocks) matches the reference too', () => {
    process.env.XBAR_NO_AVX2 = '1';
    try {
      for (const [i, g] of [geometry(3, 28, 28, 8, 3, 1, 1), geometry(2, 9, 7, 3, 3, 2, 1)].entries())
        for (const n of [6, 16, 45]) expectConv(native(), g, n, 7 * i + n);
    } finally {
      delete process.env.XBAR_NO_AVX2;
    }
  });

  it('conv2d refuses arrays shorter than the geometry and a y that overlaps its inputs', () => {
    const g = geometry(2, 6, 6, 2, 3, 1, 1);
    const x = new Float32Array(2 * 6 * 6 * 2);
    const w = new Float32Array(9 * 2 * 4);
    const bias = new Float32Array(4);
    expect(() => native().conv2d(x.subarray(1), g, w, bias, new Float32Array(2 * 36 * 4))).toThrow(/x has 143 elements/);
    expect(() => native().conv2d(x, g, w.subarray(4), bias, new Float32Array(2 * 36 * 4))).toThrow(/weights has/);
    expect(() => native().conv2d(x, g, w, bias, new Float32Array(10))).toThrow(/y has 10 elements/);
    const shared = new Float32Array(2 * 36 * 4 + x.length);
    expect(() => native().conv2d(shared.subarray(0, x.length), g, w, bias, shared.subarray(8))).toThrow(/must not share memory/);
  });

  it('spmm gives the same bits with 512-bit and 256-bit registers (XBAR_NO_AVX512 picks the latter)', () => {
    const [m, n, k] = [300, 64 * 3 + 8 * 2 + 3, 200];
    const a = filled(m * k, 13).map((v) => (v > 0.4 ? v : 0));
    const b = filled(k * n, 14);
    const csr = toCsr(a, m, k) as Csr;
    const wide = filled(m * n, 15);
    const narrow = wide.slice();
    native().spmm(m, n, k, csr, b, wide);
    process.env.XBAR_NO_AVX512 = '1';
    try {
      native().spmm(m, n, k, csr, b, narrow);
    } finally {
      delete process.env.XBAR_NO_AVX512;
    }
    expect(Buffer.from(narrow.buffer).equals(Buffer.from(wide.buffer))).toBe(true);
  });

  it("maxPool gives the JS kernel's bits, signed zeros included (v > m ? v : m, windows in the same order)", () => {
    for (const [c, k, stride] of [
      [1, 2, 2],
      [6, 2, 2],
      [16, 3, 2],
      [17, 2, 1],
      [40, 2, 2],
    ]) {
      const g = geometry(3, 9, 8, c, k, stride, 0);
      // A third of the inputs are +0 or -0, so that ties between zeros of both signs occur.
      const x = filled(3 * 9 * 8 * c, c + k).map((v, i) => (i % 3 === 0 ? 0 : i % 3 === 1 && v < 0 ? -0 : v));
      const got = new Float32Array(3 * g.oh * g.ow * c);
      native().maxPool(x, g, got);
      const js = new Float32Array(got.length);
      jsKernels.maxPool(x, g, js);
      expect(Buffer.from(got.buffer).equals(Buffer.from(js.buffer))).toBe(true);
      // With argmax (training): the same maxima and the same indices, ties between signed zeros included.
      const [gotAt, jsAt] = [new Int32Array(got.length), new Int32Array(got.length)];
      const [got2, js2] = [new Float32Array(got.length), new Float32Array(got.length)];
      native().maxPool(x, g, got2, gotAt);
      jsKernels.maxPool(x, g, js2, jsAt);
      expect(Buffer.from(got2.buffer).equals(Buffer.from(js.buffer))).toBe(true);
      expect(gotAt).toEqual(jsAt);
    }
  });

  it('lognormalPairs draws the JS loop bits over a million cells: AVX2 and scalar, 1 and 2 threads, any sigma', () => {
    const n = 1_000_003; // odd, and not a multiple of 8: every tail path runs
    const tPos = Float64Array.from(filled(n, 16), (v) => 1e-6 * (50 + 49 * v));
    const tNeg = Float64Array.from(filled(n, 17), (v) => 1e-6 * (50 + 49 * v));
    const st = philoxStream(3, 1, 2, 1);
    const same = (x: Float64Array, y: Float64Array) => Buffer.from(x.buffer).equals(Buffer.from(y.buffer));
    const js = [new Float64Array(n), new Float64Array(n)];
    jsKernels.lognormalPairs(tPos, tNeg, 0.7, st, js[0], js[1]);
    const nat = [new Float64Array(n), new Float64Array(n)];
    for (const [threads, scalar] of [
      [1, false],
      [2, false],
      [2, true],
    ] as const) {
      const k = loadKernels({ prefer: 'native', threads });
      expect(k.lognormalPairs).not.toBe(jsKernels.lognormalPairs);
      if (scalar) process.env.XBAR_NO_AVX2 = '1';
      try {
        k.lognormalPairs(tPos, tNeg, 0.7, st, nat[0], nat[1]);
      } finally {
        delete process.env.XBAR_NO_AVX2;
      }
      expect(same(nat[0], js[0]) && same(nat[1], js[1])).toBe(true);
    }
    // Other sigmas (0: the targets exactly; 40: overflow to Infinity and underflow to 0) on fewer cells.
    const m = 4099;
    for (const sigma of [0, 0.05, 3, 40]) {
      const a = [new Float64Array(m), new Float64Array(m)];
      const b = [new Float64Array(m), new Float64Array(m)];
      jsKernels.lognormalPairs(tPos.subarray(0, m), tNeg.subarray(0, m), sigma, st, a[0], a[1]);
      native().lognormalPairs(tPos.subarray(0, m), tNeg.subarray(0, m), sigma, st, b[0], b[1]);
      expect(same(a[0], b[0]) && same(a[1], b[1])).toBe(true);
      if (sigma === 0) expect(Array.from(a[0])).toEqual(Array.from(tPos.subarray(0, m)));
    }
    const t = new Float64Array(4);
    expect(() => native().lognormalPairs(t, t, -1, st, new Float64Array(4), new Float64Array(4))).toThrow(/sigma/);
    expect(() => native().lognormalPairs(t, t, 0.1, st, new Float64Array(3), new Float64Array(4))).toThrow(/one length/);
  });

  it('normalPairs draws the JS loop bits over a million cells: AVX2 and scalar, 1 and 2 threads', () => {
    const n = 1_000_003;
    const st = philoxStream(3, 1, 2, 0x9234abcd);
    const same = (x: Float64Array, y: Float64Array) => Buffer.from(x.buffer).equals(Buffer.from(y.buffer));
    const js = [new Float64Array(n), new Float64Array(n)];
    jsKernels.normalPairs(st, js[0], js[1]);
    for (const [threads, scalar] of [
      [1, false],
      [2, false],
      [2, true],
    ] as const) {
      const k = loadKernels({ prefer: 'native', threads });
      expect(k.normalPairs).not.toBe(jsKernels.normalPairs);
      const nat = [new Float64Array(n), new Float64Array(n)];
      if (scalar) process.env.XBAR_NO_AVX2 = '1';
      try {
        k.normalPairs(st, nat[0], nat[1]);
      } finally {
        delete process.env.XBAR_NO_AVX2;
      }
      expect(same(nat[0], js[0]) && same(nat[1], js[1])).toBe(true);
    }
    // Short arrays (every tail path, and a range that starts mid-block on the second thread).
    for (const m of [0, 1, 7, 9, 33]) {
      const a = [new Float64Array(m), new Float64Array(m)];
      const b = [new Float64Array(m), new Float64Array(m)];
      jsKernels.normalPairs(st, a[0], a[1]);
      native().normalPairs(st, b[0], b[1]);
      expect(same(a[0], b[0]) && same(a[1], b[1])).toBe(true);
    }
    expect(() => native().normalPairs(st, new Float64Array(3), new Float64Array(4))).toThrow(/one length/);
  });

  it('expScaled gives the JS loop bits over a million cells: AVX2 and scalar, 1 and 2 threads, any c', () => {
    const n = 1_000_003;
    // Drift exponents (|N(0.05, 0.03^2)|-like, from filled's values) and a few extremes.
    const x = Float32Array.from(filled(n, 18), (v) => Math.abs(0.05 + 0.03 * v));
    x.set([0, -0, 1e-30, 3e38, -3e38, 0.1], 0);
    const same = (a: Float64Array, b: Float64Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
    for (const c of [-Math.log((365 * 86400 + 20) / 20), -Math.log(21 / 20), 0, 2]) {
      const js = new Float64Array(n);
      jsKernels.expScaled(x, c, js);
      for (const [threads, scalar] of [
        [1, false],
        [2, false],
        [2, true],
      ] as const) {
        const k = loadKernels({ prefer: 'native', threads });
        expect(k.expScaled).not.toBe(jsKernels.expScaled);
        const nat = new Float64Array(n);
        if (scalar) process.env.XBAR_NO_AVX2 = '1';
        try {
          k.expScaled(x, c, nat);
        } finally {
          delete process.env.XBAR_NO_AVX2;
        }
        expect(same(nat, js)).toBe(true);
      }
    }
    expect(() => native().expScaled(x, Number.POSITIVE_INFINITY, new Float64Array(n))).toThrow(/finite/);
    expect(() => native().expScaled(x, 1, new Float64Array(3))).toThrow(/one length/);
  });

  it("adamStep gives the JS loop's bits: AVX2 and scalar, over steps, with decay, gradients from tiny to huge", () => {
    const n = 100_003; // not a multiple of 4: the scalar tail runs
    const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
    const g0 = Float32Array.from(filled(n, 21), (v, i) => v * 10 ** ((i % 13) - 8));
    g0.set([0, -0, 1e-38, 3e38, -1e-45], 0);
    for (const scalar of [false, true]) {
      const js = [Float32Array.from(filled(n, 22)), new Float32Array(n), new Float32Array(n)];
      const nat = js.map((a) => a.slice());
      for (let t = 1; t <= 5; t++) {
        const g = Float32Array.from(g0, (v, i) => (i % 7 === t ? -v : v * t));
        const h = {
          beta1: 0.9,
          beta2: 0.999,
          c1: 1 - 0.9 ** t,
          c2: 1 - 0.999 ** t,
          lr: 0.003 / t,
          eps: 1e-8,
          decay: t % 2 ? 1 : 1 - 0.003 * 0.01,
        };
        jsKernels.adamStep(js[0], g, js[1], js[2], h);
        if (scalar) process.env.XBAR_NO_AVX2 = '1';
        try {
          native().adamStep(nat[0], g, nat[1], nat[2], h);
        } finally {
          delete process.env.XBAR_NO_AVX2;
        }
        for (let k = 0; k < 3; k++) expect(same(nat[k], js[k])).toBe(true);
      }
    }
    const a = new Float32Array(8);
    const h = { beta1: 0.9, beta2: 0.999, c1: 0.1, c2: 0.001, lr: 0.001, eps: 1e-8, decay: 1 };
    expect(() => native().adamStep(a, a, a, new Float32Array(3), h)).toThrow(/adamStep: w, g, m and v must have one length/);
    expect(() => native().adamStep(a, a, a, a, { ...h, lr: Number.NaN })).toThrow(/adamStep: lr must be a finite number/);
  });

  it('rejects sizes that would read or write out of bounds', () => {
    const k = native();
    const g = geometry(2, 14, 14, 6, 5, 1, 0);
    const x = new Float32Array(2 * 14 * 14 * 6);
    const cols = new Float32Array(2 * 10 * 10 * 150);
    expect(() => k.im2col(x, g, cols)).not.toThrow();
    expect(() => k.im2col(x.subarray(1), g, cols)).toThrow(/x has .* elements/);
    expect(() => k.im2col(x, g, cols.subarray(1))).toThrow(/cols has .* elements/);
    expect(() => k.im2col(x, { ...g, oh: 11 }, cols)).toThrow(/does not fit/);
    expect(() => k.im2col(x, { ...g, k: -1 }, cols)).toThrow(/k must be an integer/);
    expect(() => k.maxPool(x, { ...geometry(2, 14, 14, 6, 2, 2, 0), pad: 1 }, new Float32Array(2 * 49 * 6))).toThrow(/no padding/);
    expect(() => k.maxPool(x, geometry(2, 14, 14, 6, 2, 2, 0), new Float32Array(10))).toThrow(/y has 10 elements/);
    const y = new Float32Array(2 * 49 * 6);
    expect(() => k.maxPool(x, geometry(2, 14, 14, 6, 2, 2, 0), y, new Int32Array(5))).toThrow(/maxPool: argmax has 5 elements/);
    expect(() => k.maxPool(x, geometry(2, 14, 14, 6, 2, 2, 0), y, new Float32Array(y.length) as never)).toThrow(/maxPool: argmax/);
    expect(() => (k.clamp as unknown as (...a: unknown[]) => void)(new Float64Array(3), 0, 1)).toThrow(/Float32Array/);
    const csr = toCsr(Float32Array.from([1, 0, 0, 2]), 2, 2) as Csr;
    const b = new Float32Array(2 * 3);
    const c = new Float32Array(2 * 3);
    expect(() => k.spmm(2, 3, 2, csr, b, c)).not.toThrow();
    expect(() => k.spmm(2, 3, 2, { ...csr, col: Int32Array.from([0, 2]) }, b, c)).toThrow(/col index 2 is outside/);
    expect(() => k.spmm(2, 3, 2, { ...csr, rowPtr: Int32Array.from([0, 2, 1]) }, b, c)).toThrow(/must not decrease/);
    expect(() => k.spmm(2, 3, 2, { ...csr, rowPtr: Int32Array.from([0, 1]) }, b, c)).toThrow(/rowPtr has 2 elements/);
    expect(() => k.spmm(2, 3, 2, csr, b.subarray(1), c)).toThrow(/b has 5 elements/);
    expect(() => k.spmm(2, 3, 2, csr, b, c.subarray(1))).toThrow(/c has 5 elements/);
    expect(() => k.spmm(2, 3, 2, csr, b, b)).toThrow(/share memory/);
  });
});
