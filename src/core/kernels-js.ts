import {
  checkAdamStep,
  checkChannelAffine,
  checkChannelAffineGrad,
  checkChannelMeans,
  checkClamp,
  checkColumnSums,
  checkConvInputGrad,
  checkExpScaled,
  checkLognormalPairs,
  checkMaxPool,
  checkMaxPoolGrad,
  checkNormalPairs,
  checkPairInPlace,
  checkReluGrad,
  checkReluInPlace,
  checkSgemm,
  checkSpmm,
  checkWindows,
} from './kernel-checks.js';
import type { AdamHyper, ConvThen, Csr, Kernels, WindowGeometry } from './kernels.js';
import { type PhiloxStream, philox4x32 } from './philox.js';
import { cosSinTurn, expPortable, logUnit } from './portable-math.js';

/**
 * Portable GEMM in TypeScript: packs op(A) row-major and op(B) column-major (so both operands of
 * each dot product are contiguous), then computes 2x4 output blocks with eight accumulators.
 * About 3-4 GFLOP/s on this machine; the native addon is ~40x faster, so Node uses it when built.
 */
export const jsKernels: Kernels = {
  name: 'js',
  sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
    checkSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    const pa = new Float32Array(m * k);
    for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) pa[i * k + p] = transA ? a[p * lda + i] : a[i * lda + p];
    const pb = new Float32Array(n * k);
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) pb[j * k + p] = transB ? b[j * ldb + p] : b[p * ldb + j];

    const store = (i: number, j: number, v: number): void => {
      const idx = i * ldc + j;
      c[idx] = beta === 0 ? alpha * v : alpha * v + beta * c[idx];
    };
    let i = 0;
    for (; i + 1 < m; i += 2) {
      const r0 = i * k;
      const r1 = r0 + k;
      let j = 0;
      for (; j + 3 < n; j += 4) {
        const c0 = j * k;
        const c1 = c0 + k;
        const c2 = c1 + k;
        const c3 = c2 + k;
        let s00 = 0,
          s01 = 0,
          s02 = 0,
          s03 = 0,
          s10 = 0,
          s11 = 0,
          s12 = 0,
          s13 = 0; // prettier-ignore
        for (let p = 0; p < k; p++) {
          const x0 = pa[r0 + p];
          const x1 = pa[r1 + p];
          const y0 = pb[c0 + p];
          const y1 = pb[c1 + p];
          const y2 = pb[c2 + p];
          const y3 = pb[c3 + p];
          s00 += x0 * y0;
          s01 += x0 * y1;
          s02 += x0 * y2;
          s03 += x0 * y3;
          s10 += x1 * y0;
          s11 += x1 * y1;
          s12 += x1 * y2;
          s13 += x1 * y3;
        }
        store(i, j, s00);
        store(i, j + 1, s01);
        store(i, j + 2, s02);
        store(i, j + 3, s03);
        store(i + 1, j, s10);
        store(i + 1, j + 1, s11);
        store(i + 1, j + 2, s12);
        store(i + 1, j + 3, s13);
      }
      for (; j < n; j++) {
        let s0 = 0;
        let s1 = 0;
        const cj = j * k;
        for (let p = 0; p < k; p++) {
          s0 += pa[r0 + p] * pb[cj + p];
          s1 += pa[r1 + p] * pb[cj + p];
        }
        store(i, j, s0);
        store(i + 1, j, s1);
      }
    }
    for (; i < m; i++) {
      const r0 = i * k;
      for (let j = 0; j < n; j++) {
        let s = 0;
        const cj = j * k;
        for (let p = 0; p < k; p++) s += pa[r0 + p] * pb[cj + p];
        store(i, j, s);
      }
    }
  },
  im2col,
  col2im,
  convInputGrad,
  conv2d,
  maxPool,
  maxPoolGrad(dy, argmax, g, dx) {
    checkMaxPoolGrad(dy, argmax, g, dx);
    for (let o = 0, n = g.batch * g.oh * g.ow * g.c; o < n; o++) if (argmax[o] >= 0) dx[argmax[o]] += dy[o];
  },
  spmm,
  lognormalPairs,
  normalPairs,
  expScaled,
  adamStep,
  columnSums(x, rows, out) {
    checkColumnSums(x, rows, out);
    const c = out.length;
    for (let i = 0, o = 0; i < rows; i++) for (let j = 0; j < c; j++, o++) out[j] += x[o];
  },
  channelMeans(x, pixels, c, y) {
    checkChannelMeans(x, pixels, c, y);
    const acc = new Float64Array(c);
    for (let n = 0, images = y.length / c; n < images; n++) {
      acc.fill(0);
      for (let p = 0, at = n * pixels * c; p < pixels; p++, at += c) for (let ch = 0; ch < c; ch++) acc[ch] += x[at + ch];
      for (let ch = 0; ch < c; ch++) y[n * c + ch] = acc[ch] / pixels;
    }
  },
  reluGrad(x, dy, dx) {
    checkReluGrad(x, dy, dx);
    // dx[i] = x[i] > 0 ? dy[i] : 0 as a mask on the bits (a branch per value is mispredicted about half the time).
    const gb = new Int32Array(dy.buffer, dy.byteOffset, dy.length);
    const ob = new Int32Array(dx.buffer, dx.byteOffset, dx.length);
    for (let i = 0, n = x.length; i < n; i++) ob[i] = gb[i] & -(x[i] > 0);
  },
  reluInPlace(y) {
    checkReluInPlace(y);
    // As a mask on the bits (bitsOf): -0 and NaN are not < 0 and stay.
    const b = new Int32Array(y.buffer, y.byteOffset, y.length);
    for (let i = 0, n = y.length; i < n; i++) b[i] &= -!(y[i] < 0);
  },
  reluGradInPlace(x, dy) {
    checkPairInPlace('reluGradInPlace', x, dy, ['x', 'dy'], 1);
    const g = new Int32Array(dy.buffer, dy.byteOffset, dy.length);
    for (let i = 0, n = x.length; i < n; i++) g[i] &= -!(x[i] <= 0);
  },
  addInto(y, x) {
    checkPairInPlace('addInto', y, x, ['y', 'x'], 0);
    for (let i = 0, n = y.length; i < n; i++) y[i] += x[i];
  },
  channelAffine(x, scale, shift, y) {
    checkChannelAffine(x, scale, shift, y);
    const c = scale.length;
    for (let i = 0, n = x.length; i < n; i += c) for (let ch = 0; ch < c; ch++) y[i + ch] = x[i + ch] * (1 + scale[ch]) + shift[ch];
  },
  channelAffineGrad(x, dy, scale, gScale, gShift, dx) {
    checkChannelAffineGrad(x, dy, scale, gScale, gShift, dx);
    const c = scale.length;
    const n = x.length;
    for (let i = 0; i < n; i += c)
      for (let ch = 0; ch < c; ch++) {
        const g = dy[i + ch];
        gScale[ch] += g * x[i + ch];
        gShift[ch] += g;
      }
    if (dx) for (let i = 0; i < n; i += c) for (let ch = 0; ch < c; ch++) dx[i + ch] = dy[i + ch] * (1 + scale[ch]);
  },
  clamp(y, lo, hi) {
    checkClamp(y, lo, hi);
    for (let i = 0; i < y.length; i++) {
      const v = Math.max(y[i], lo);
      y[i] = v < hi ? v : hi;
    }
  },
};

function im2col(x: Float32Array, g: WindowGeometry, cols: Float32Array): void {
  checkWindows('im2col', x, g, cols);
  windows(x, g, cols, false);
}

function col2im(cols: Float32Array, g: WindowGeometry, x: Float32Array): void {
  checkWindows('col2im', cols, g, x);
  windows(x, g, cols, true);
}

function convInputGrad(dy: Float32Array, g: WindowGeometry, w: Float32Array, dx: Float32Array): void {
  const f = checkConvInputGrad(dy, g, w, dx);
  const { batch, h, c, k, stride, pad, oh, ow } = g;
  const width = g.w;
  const rowLen = k * k * c;
  // The weights by filter (column ff of w contiguous) and one pixel's row v.
  const wt = new Float32Array(rowLen * f);
  for (let j = 0; j < rowLen; j++) for (let ff = 0; ff < f; ff++) wt[ff * rowLen + j] = w[j * f + ff];
  const v = new Float32Array(rowLen);
  dx.fill(0, 0, batch * h * width * c);
  let d = 0;
  for (let n = 0; n < batch; n++) {
    const img = n * h * width * c;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++, d += f) {
        let any = false;
        for (let ff = 0; ff < f; ff++) {
          const a = dy[d + ff];
          if (a === 0) continue;
          if (!any) v.fill(0);
          any = true;
          // fround: the float product the native kernel rounds to before adding.
          for (let j = 0, o = ff * rowLen; j < rowLen; j++) v[j] += Math.fround(a * wt[o + j]);
        }
        // v = +0 everywhere changes no value of dx (never -0: it starts at +0).
        if (!any) continue;
        const x0 = ox * stride - pad;
        const kx0 = Math.max(0, -x0);
        const kx1 = Math.min(k, width - x0);
        if (kx1 <= kx0) continue;
        const len = (kx1 - kx0) * c;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * stride + ky - pad;
          if (iy < 0 || iy >= h) continue;
          const dst = img + (iy * width + x0 + kx0) * c;
          const src = (ky * k + kx0) * c;
          for (let t = 0; t < len; t++) dx[dst + t] += v[src + t];
        }
      }
    }
  }
}

/**
 * The window walk of im2col: each window's pixels within one kernel row are contiguous in x, so
 * each run is one straight copy into cols or, for the adjoint, one add back onto x.
 */
function windows(x: Float32Array, g: WindowGeometry, cols: Float32Array, adjoint: boolean): void {
  const { batch, h, w, c, k, stride, pad, oh, ow } = g;
  const rowLen = k * k * c;
  let r = 0;
  for (let n = 0; n < batch; n++) {
    const img = n * h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++, r += rowLen) {
        const x0 = ox * stride - pad;
        const kx0 = Math.max(0, -x0);
        const kx1 = Math.min(k, w - x0);
        if (kx1 <= kx0) continue;
        const len = (kx1 - kx0) * c;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * stride + ky - pad;
          if (iy < 0 || iy >= h) continue;
          const src = img + (iy * w + x0 + kx0) * c;
          const dst = r + (ky * k + kx0) * c;
          if (adjoint) for (let t = 0; t < len; t++) x[src + t] += cols[dst + t];
          else for (let t = 0; t < len; t++) cols[dst + t] = x[src + t];
        }
      }
    }
  }
}

/** Unrolled rows per im2col block of conv2d: a block stays within 16 MB whatever the batch. */
const CONV_BLOCK_FLOATS = 1 << 22;
/** conv2d's unrolled block, kept between calls (one per thread: workers load their own module). */
let convCols = new Float32Array(0);

/**
 * im2col + GEMM over blocks of whole images, bias first (fillRows) and the product added, as
 * Conv2d.forward computed it before the kernel existed: each output row is the same dot product
 * whatever the block, so the result does not depend on the batch size.
 */
function conv2d(x: Float32Array, g: WindowGeometry, w: Float32Array, bias: Float32Array, y: Float32Array, then?: ConvThen): void {
  const { batch, h, c, k, oh, ow } = g;
  const n = bias.length;
  const rowLen = k * k * c;
  const per = oh * ow;
  if (x.length < batch * h * g.w * c || w.length < rowLen * n || y.length < batch * per * n)
    throw new RangeError('conv2d: x, w or y is shorter than the geometry needs');
  const images = Math.max(1, Math.min(batch, Math.floor(CONV_BLOCK_FLOATS / (per * rowLen))));
  if (convCols.length < images * per * rowLen) convCols = new Float32Array(images * per * rowLen);
  const cols = convCols.subarray(0, images * per * rowLen);
  for (let n0 = 0; n0 < batch; n0 += images) {
    const nb = Math.min(images, batch - n0);
    const rows = nb * per;
    cols.fill(0); // im2col leaves the padding cells as they are
    im2col(x.subarray(n0 * h * g.w * c), { ...g, batch: nb }, cols);
    const out = y.subarray(n0 * per * n, (n0 + nb) * per * n);
    for (let r = 0; r < rows; r++) out.set(bias, r * n);
    jsKernels.sgemm(false, false, rows, n, rowLen, 1, cols, rowLen, w, n, 1, out, n);
  }
  if (!then) return;
  const out = y.subarray(0, batch * per * n);
  const add = then.add;
  if (add) {
    if (add.length < out.length) throw new RangeError('conv2d: add is shorter than y');
    for (let i = 0; i < out.length; i++) out[i] += add[i];
  }
  if (then.lo !== undefined || then.hi !== undefined)
    jsKernels.clamp(out, then.lo ?? Number.NEGATIVE_INFINITY, then.hi ?? Number.POSITIVE_INFINITY);
}

function maxPool(x: Float32Array, g: WindowGeometry, y: Float32Array, argmax?: Int32Array): void {
  checkMaxPool(x, g, y, argmax);
  const { batch, h, w, c, k, stride, oh, ow } = g;
  let o = 0;
  for (let n = 0; n < batch; n++) {
    const img = n * h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const corner = img + (oy * stride * w + ox * stride) * c;
        for (let ch = 0; ch < c; ch++, o++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let ky = 0; ky < k; ky++) {
            const row = corner + ky * w * c + ch;
            for (let kx = 0; kx < k; kx++) {
              const v = x[row + kx * c];
              if (v > best) {
                best = v;
                at = row + kx * c;
              }
            }
          }
          y[o] = best;
          if (argmax) argmax[o] = at;
        }
      }
    }
  }
}

/**
 * Sums in double in column order, then adds C once: exactly what sgemm above computes for the
 * same dense matrix with beta = 1 (the skipped zeros add exact zeros), so switching between the
 * two never changes a result on the JS kernels.
 */
function spmm(m: number, n: number, k: number, a: Csr, b: Float32Array, c: Float32Array): void {
  checkSpmm(m, n, k, a, b, c);
  const { rowPtr, col, val } = a;
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) {
      const x = val[p];
      const row = col[p] * n;
      for (let j = 0; j < n; j++) acc[j] += x * b[row + j];
    }
    const o = i * n;
    for (let j = 0; j < n; j++) c[o + j] = acc[j] + c[o + j];
  }
}

/**
 * Cell i takes words (2(i mod 2), 2(i mod 2) + 1) of Philox block floor(i / 2) of the stream:
 * u from the first, v from the second, Box-Muller with the portable log, cos and sin, the cos
 * normal for G+ and the sin normal for G-. native/xbar_blas.c computes the same bits.
 */
function lognormalPairs(
  tPos: Float64Array,
  tNeg: Float64Array,
  sigma: number,
  stream: PhiloxStream,
  gPos: Float64Array,
  gNeg: Float64Array,
): void {
  checkLognormalPairs(tPos, tNeg, sigma, gPos, gNeg);
  const words = new Uint32Array(4);
  const z = new Float64Array(2);
  for (let i = 0; i < tPos.length; i++) {
    cellNormals(stream, i, words, z);
    gPos[i] = tPos[i] * expPortable(sigma * z[0]);
    gNeg[i] = tNeg[i] * expPortable(sigma * z[1]);
  }
}

/** The pairs lognormalPairs exponentiates, as they are: zPos[i] = r cos, zNeg[i] = r sin of cell i. */
function normalPairs(stream: PhiloxStream, zPos: Float64Array, zNeg: Float64Array): void {
  checkNormalPairs(zPos, zNeg);
  const words = new Uint32Array(4);
  const z = new Float64Array(2);
  for (let i = 0; i < zPos.length; i++) {
    cellNormals(stream, i, words, z);
    zPos[i] = z[0];
    zNeg[i] = z[1];
  }
}

/**
 * Cell i's two normals by Box-Muller, r cos and r sin, into z: words 2(i mod 2) and 2(i mod 2) + 1
 * of the stream's block floor(i / 2), which `words` holds (drawn here when i is even, so cells go
 * in order).
 */
function cellNormals(stream: PhiloxStream, i: number, words: Uint32Array, z: Float64Array): void {
  const w = (i & 1) * 2;
  if (w === 0) {
    const b = i / 2;
    philox4x32(b >>> 0, Math.floor(b / 4294967296) >>> 0, stream.ctr2, stream.ctr3, stream.key0, stream.key1, words);
  }
  const r = Math.sqrt(-2 * logUnit(words[w]));
  cosSinTurn(words[w + 1], z);
  z[0] = r * z[0];
  z[1] = r * z[1];
}

/**
 * Adam in double precision per element, each moment rounded to float when stored and read back
 * rounded (the update uses the stored m and v), the products left to right: native/xbar_blas.c's
 * adam_step computes the same operations in the same order, unfused.
 */
function adamStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, h: AdamHyper): void {
  checkAdamStep(w, g, m, v, h);
  const { beta1, beta2, c1, c2, lr, eps, decay } = h;
  for (let i = 0; i < w.length; i++) {
    m[i] = beta1 * m[i] + (1 - beta1) * g[i];
    v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    w[i] = w[i] * decay - (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
  }
}

/** out[i] = exp(c x[i]) with the portable exp, x[i] widened to a double first (as the C does). */
function expScaled(x: Float32Array, c: number, out: Float64Array): void {
  checkExpScaled(x, c, out);
  for (let i = 0; i < x.length; i++) out[i] = expPortable(c * x[i]);
}
