import type { PhiloxStream } from './philox.js';

/**
 * The numeric kernels every other module calls, behind one interface (as TensorFlow.js keeps its
 * kernels behind a backend). Two implementations: a native OpenBLAS addon in Node (fast, both
 * cores) and portable TypeScript (browser, or Node without the addon). See docs/decisions.md.
 *
 * All matrices are row-major Float32Array views; lda/ldb/ldc are row strides in elements.
 */
export interface Kernels {
  readonly name: string;
  /** C = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T; op(A) is m x k, op(B) is k x n. */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;
  /**
   * Unrolls NHWC images x [batch, h, w, c] into receptive-field rows cols [batch*oh*ow, k*k*c]
   * (row = (n, oy, ox), column = (ky*k + kx)*c + ch), the input of a convolution as one GEMM.
   * Cells over the padding are not written: pass a zeroed buffer (and reuse it).
   */
  im2col(x: Float32Array, g: WindowGeometry, cols: Float32Array): void;
  /**
   * The adjoint of im2col: adds every receptive-field row of cols back onto the image it came
   * from, x += col2im(cols) (a convolution's input gradient). Overlapping windows are summed in
   * im2col's row order on every implementation, so results agree bit for bit.
   */
  col2im(cols: Float32Array, g: WindowGeometry, x: Float32Array): void;
  /**
   * A convolution's input gradient through fixed weights w [k*k*c, f] (f = w.length / (k*k*c)):
   * dx [batch, h, w, c] = col2im(dy w^T) for dy [batch*oh*ow, f], overwritten, without forming
   * the rows dy w^T. Per output pixel in order, row v[j] = the sum over the filters in order of
   * dy * w[j, filter] from +0, rounded to float per product and per addition, exact zeros of dy
   * skipped (the same as adding them while w is finite); then v is added onto dx as col2im adds
   * it. The same bits on every implementation.
   */
  convInputGrad(dy: Float32Array, g: WindowGeometry, w: Float32Array, dx: Float32Array): void;
  /**
   * A convolution's product: y [batch*oh*ow, n] = im2col(x) w + bias for NHWC images x, with
   * w [k*k*c, n] row-major (its first k*k*c*n floats are read, so a crossbar matrix with its bias
   * row after them passes as it is) and n = bias.length; y is overwritten. With `then`, what the
   * passes after it would do, in their order and rounding: + then.add (an array of y's size: a
   * residual addition), then clamp(then.lo, then.hi) as `clamp` (a ReLU, a neuron's rail). The
   * native kernel never forms the im2col matrix (k*k times the images: memory-bound for small
   * channel counts) and makes one pass over y.
   */
  conv2d(x: Float32Array, g: WindowGeometry, w: Float32Array, bias: Float32Array, y: Float32Array, then?: ConvThen): void;
  /**
   * Max pooling of NHWC images over k x k windows (no padding). With `argmax` (y's length), also
   * each maximum's index in x, for training's backward pass: the first in window order on ties,
   * -1 where no value exceeds -Infinity.
   */
  maxPool(x: Float32Array, g: WindowGeometry, y: Float32Array, argmax?: Int32Array): void;
  /**
   * Max pooling's gradient: dx[argmax[o]] += dy[o] over the outputs o in order, skipping -1, for
   * the argmax maxPool gave with this geometry (each index in its own image's input, else a
   * RangeError).
   */
  maxPoolGrad(dy: Float32Array, argmax: Int32Array, g: WindowGeometry, dx: Float32Array): void;
  /** y = min(max(y, lo), hi) in place, in double precision (max(-0, 0) is +0, as Math.max). */
  clamp(y: Float32Array, lo: number, hi: number): void;
  /**
   * C [m, n] += A B for a sparse A [m, k] (CSR) and a dense B [k, n], both row-major without
   * padding: a layer's product when most inputs are exactly zero (MNIST pixels: ~80%).
   */
  spmm(m: number, n: number, k: number, a: Csr, b: Float32Array, c: Float32Array): void;
  /**
   * A plan for spmm with a matrix used in many products (Csr.pairs): its rows paired by similar
   * columns, so that each row of B is loaded once per pair. The product's bits are the same with
   * or without it (native/spmm.c says when a padded term could differ: the sign of an exactly zero
   * output whose sum underflowed to -0). Null when the rows cannot be paired. Native only: the JS
   * kernels have no use for it.
   */
  pairRows?(m: number, k: number, a: Csr): object | null;
  /**
   * Log-normal programming variation of conductance pairs: gPos[i] = tPos[i] * exp(sigma * z1),
   * gNeg[i] = tNeg[i] * exp(sigma * z2), (z1, z2) the Box-Muller pair of cell i of the Philox
   * stream (philox.ts; the transform in kernels-js.ts): the same bits on every implementation,
   * whatever the thread count.
   */
  lognormalPairs(tPos: Float64Array, tNeg: Float64Array, sigma: number, stream: PhiloxStream, gPos: Float64Array, gNeg: Float64Array): void;
  /**
   * Standard normal pairs of the Philox stream: zPos[i] = r cos, zNeg[i] = r sin, the Box-Muller
   * pair of cell i that lognormalPairs exponentiates (the same words, transform and bits on every
   * implementation and thread count). Aging draws its per-read 1/f noise from it.
   */
  normalPairs(stream: PhiloxStream, zPos: Float64Array, zNeg: Float64Array): void;
  /**
   * out[i] = exp(c * x[i]) with the portable exp (portable-math.ts): the same bits on every
   * implementation. Aging's drift factors exp(-nu ln F) for a layer's drift exponents nu.
   */
  expScaled(x: Float32Array, c: number, out: Float64Array): void;
  /**
   * One Adam step over a parameter (w, its gradient g, moments m and v, all one length), in double
   * precision per element and rounded to float at each store, exactly as the JS loop in
   * nn/optim.ts writes it: the same bits on every implementation.
   */
  adamStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, h: AdamHyper): void;
  /**
   * out[j] += x[i * c + j] over the rows i = 0..rows-1 in order, c = out.length, rounded to float
   * after each addition (a dense or convolution layer's bias gradient): the same bits everywhere.
   */
  columnSums(x: Float32Array, rows: number, out: Float32Array): void;
  /**
   * Global average pooling of NHWC images: y[n * c + ch] = the mean of channel ch over image n's
   * pixels (x holds y.length * pixels floats), summed in double in pixel order and divided once.
   */
  channelMeans(x: Float32Array, pixels: number, c: number, y: Float32Array): void;
  /** dx[i] = x[i] > 0 ? dy[i] : +0 (a ReLU's gradient; a NaN input passes none), the bits of dy. */
  reluGrad(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** y[i] = y[i] < 0 ? +0 : y[i] in place (a ReLU on a module's hidden units; -0 and NaN stay). */
  reluInPlace(y: Float32Array): void;
  /** dy[i] = x[i] <= 0 ? +0 : dy[i] in place (a ReLU's gradient from its output x; a NaN x passes dy). */
  reluGradInPlace(x: Float32Array, dy: Float32Array): void;
  /** y[i] += x[i], one float addition per value (a residual branch onto its trunk). */
  addInto(y: Float32Array, x: Float32Array): void;
  /**
   * y = x * (1 + scale[ch]) + shift[ch] over rows of c = scale.length channels, in double and
   * rounded once per value (a compensation module's affine): the same bits everywhere.
   */
  channelAffine(x: Float32Array, scale: Float32Array, shift: Float32Array, y: Float32Array): void;
  /**
   * channelAffine's gradients: gScale[ch] += dy * x and gShift[ch] += dy over the rows in order
   * (double, rounded to float per addition), and, unless dx is null, dx = dy * (1 + scale[ch]).
   */
  channelAffineGrad(
    x: Float32Array,
    dy: Float32Array,
    scale: Float32Array,
    gScale: Float32Array,
    gShift: Float32Array,
    dx: Float32Array | null,
  ): void;
}

/** Adam's constants for one step (Kernels.adamStep): c1 = 1 - beta1^t, c2 = 1 - beta2^t. */
export interface AdamHyper {
  beta1: number;
  beta2: number;
  c1: number;
  c2: number;
  lr: number;
  eps: number;
  /** Decoupled weight decay's factor, 1 - lr * weightDecay (1 for none). */
  decay: number;
}

/** What conv2d applies to its output before it writes it (Kernels.conv2d). */
export interface ConvThen {
  add?: Float32Array;
  lo?: number;
  hi?: number;
}

/** A sparse matrix by rows: row i's nonzeros are val[rowPtr[i]..rowPtr[i+1]) in columns col[...]. */
export interface Csr {
  rowPtr: Int32Array;
  col: Int32Array;
  val: Float32Array;
  /**
   * Kernels.pairRows's plan for this matrix (opaque), when it is used in many products: the
   * matrix must not change once planned. Kernels without pairRows ignore it.
   */
  pairs?: object;
}

/**
 * The nonzeros of a dense row-major [rows, cols] matrix, in CSR; null as soon as more than
 * maxDensity of the cells are nonzero (one pass either way).
 */
export function toCsr(x: Float32Array, rows: number, cols: number, maxDensity = 1): Csr | null {
  const cap = Math.floor(maxDensity * rows * cols);
  const col = new Int32Array(cap);
  const val = new Float32Array(cap);
  const rowPtr = new Int32Array(rows + 1);
  let p = 0;
  for (let r = 0, o = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++, o++) {
      const v = x[o];
      if (v !== 0) {
        if (p === cap) return null;
        col[p] = j;
        val[p++] = v;
      }
    }
    rowPtr[r + 1] = p;
  }
  return { rowPtr, col: col.subarray(0, p), val: val.subarray(0, p) };
}
/** Sliding windows over a batch of NHWC images: k x k windows, stride, zero padding, output size. */
export interface WindowGeometry {
  batch: number;
  h: number;
  w: number;
  c: number;
  k: number;
  stride: number;
  pad: number;
  oh: number;
  ow: number;
}
