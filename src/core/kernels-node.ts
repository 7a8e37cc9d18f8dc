import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { XbarError } from './errors.js';
import { checkAdamStep, checkExpScaled, checkLognormalPairs, checkNormalPairs } from './kernel-checks.js';
import type { Csr, Kernels } from './kernels.js';
import { jsKernels } from './kernels-js.js';

/** The N-API addon built from native/xbar_blas.c by scripts/build-native.mjs. */
interface BlasAddon {
  sgemm: Kernels['sgemm'];
  im2col(x: Float32Array, ...geometry: [...number[], Float32Array]): void;
  col2im(cols: Float32Array, ...geometry: [...number[], Float32Array]): void;
  /** Kernels.convInputGrad: absent from builds before it (then the JS kernel runs). */
  convInputGrad?(dy: Float32Array, ...args: [...number[], Float32Array, Float32Array]): void;
  /** Kernels.maxPool (named apart from an older build's maxPool, which ignored argmax). */
  maxPoolIndexed(x: Float32Array, ...geometry: [...number[], Float32Array, Int32Array | undefined]): void;
  /** Kernels.conv2d (named apart from an older build's conv2d, which lacked add, lo and hi). */
  convolve(
    x: Float32Array,
    ...args: [...number[], Float32Array, Float32Array, Float32Array, number, Float32Array | null, number, number]
  ): void;
  clamp: Kernels['clamp'];
  spmm(
    m: number,
    n: number,
    k: number,
    rowPtr: Int32Array,
    col: Int32Array,
    val: Float32Array,
    b: Float32Array,
    c: Float32Array,
    threads: number,
    pairs?: object,
  ): void;
  /** Absent from builds before the paired spmm (then spmm runs row by row). */
  spmmPairs?(m: number, k: number, rowPtr: Int32Array, col: Int32Array, val: Float32Array): object | null;
  /** Absent from builds of xbar before the Philox stream (then the JS loop draws). */
  lognormalPhilox?(
    tPos: Float64Array,
    tNeg: Float64Array,
    sigma: number,
    key0: number,
    key1: number,
    ctr2: number,
    ctr3: number,
    gPos: Float64Array,
    gNeg: Float64Array,
    threads: number,
  ): void;
  /** Absent from builds of xbar before the per-read aging stream (then the JS loop draws). */
  normalPhilox?(key0: number, key1: number, ctr2: number, ctr3: number, zPos: Float64Array, zNeg: Float64Array, threads: number): void;
  /** Absent from builds before the native drift factors (then the JS loop computes them). */
  expScaled?(x: Float32Array, c: number, out: Float64Array): void;
  adamStep?(
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    ...h: [beta1: number, beta2: number, c1: number, c2: number, lr: number, eps: number, decay: number]
  ): void;
  /** Absent from builds before the native per-channel passes of training (then the JS loops run). */
  columnSums?: Kernels['columnSums'];
  maxPoolGrad?(dy: Float32Array, argmax: Int32Array, ...geometry: [...number[], Float32Array]): void;
  reluGrad?: Kernels['reluGrad'];
  /** Absent from builds before the native global average pooling. */
  channelMeans?: Kernels['channelMeans'];
  /** Absent from builds before the native module passes (then the JS loops run). */
  reluInPlace?: Kernels['reluInPlace'];
  reluGradInPlace?: Kernels['reluGradInPlace'];
  addInto?: Kernels['addInto'];
  channelAffine?: Kernels['channelAffine'];
  channelAffineGrad?: Kernels['channelAffineGrad'];
  setThreads(n: number): void;
  getThreads(): number;
  config(): string;
}

export type NodeKernels = Kernels & { readonly threads: number; readonly blas?: string };

export interface LoadKernelsOptions {
  /** Default 'native' when the addon is built, else 'js'. Env XBAR_KERNELS=js|native overrides. */
  prefer?: 'native' | 'js';
  /** OpenBLAS threads for the native kernels; default os.availableParallelism(). */
  threads?: number;
}

// src/core and dist/core are both two levels below the repository root.
const ADDON_PATH = fileURLToPath(new URL('../../build/Release/xbar_blas.node', import.meta.url));
const FIX = 'install OpenBLAS and build the addon: apt-get install libopenblas-dev && node scripts/build-native.mjs';

let addon: BlasAddon | undefined;
let loadError: string | undefined;

function loadAddon(): BlasAddon | undefined {
  if (addon) return addon;
  try {
    const loaded = createRequire(import.meta.url)(ADDON_PATH) as BlasAddon;
    // A build from an older xbar lacks the newer kernels: fall back rather than fail mid-run.
    const missing = (['sgemm', 'im2col', 'col2im', 'convolve', 'maxPoolIndexed', 'clamp', 'spmm'] as const).filter(
      (f) => typeof loaded[f] !== 'function',
    );
    if (missing.length) throw new Error(`the built addon is out of date (no ${missing.join(', ')})`);
    addon = loaded;
    loadError = undefined;
  } catch (e) {
    loadError = e instanceof Error ? e.message.split('\n')[0] : String(e);
  }
  return addon;
}

/** Why the native kernels could not be loaded, or undefined if they can. */
export function nativeUnavailableReason(): string | undefined {
  return loadAddon() ? undefined : loadError;
}

export function loadKernels(opts: LoadKernelsOptions = {}): NodeKernels {
  const env = process.env.XBAR_KERNELS;
  if (env !== undefined && env !== '' && env !== 'js' && env !== 'native')
    throw new XbarError(`XBAR_KERNELS must be 'js' or 'native', not '${env}'`);
  const prefer = env || opts.prefer;
  if (prefer === 'js') return { ...jsKernels, threads: 1 };

  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new XbarError(`threads must be a positive integer, not ${threads}`);
  const blas = loadAddon();
  if (!blas) {
    if (prefer === 'native') throw new XbarError(`native kernels are unavailable (${loadError}); ${FIX}`);
    return { ...jsKernels, threads: 1 };
  }
  return {
    name: 'native',
    threads,
    blas: blas.config(),
    sgemm(...args) {
      // The OpenBLAS thread count is process-wide; two instances may want different counts.
      if (blas.getThreads() !== threads) blas.setThreads(threads);
      blas.sgemm(...args);
    },
    im2col: (x, g, cols) => blas.im2col(x, g.batch, g.h, g.w, g.c, g.k, g.stride, g.pad, g.oh, g.ow, cols),
    col2im: (cols, g, x) => blas.col2im(cols, g.batch, g.h, g.w, g.c, g.k, g.stride, g.pad, g.oh, g.ow, x),
    convInputGrad: blas.convInputGrad
      ? (dy, g, w, dx) => blas.convInputGrad?.(dy, g.batch, g.h, g.w, g.c, g.k, g.stride, g.pad, g.oh, g.ow, w, dx)
      : jsKernels.convInputGrad,
    // Images split over the threads: the same result whatever the thread count.
    conv2d: (x, g, w, bias, y, then) =>
      blas.convolve(
        x,
        ...[g.batch, g.h, g.w, g.c, g.k, g.stride, g.pad, g.oh, g.ow],
        w,
        bias,
        y,
        threads,
        then?.add ?? null,
        then?.lo ?? Number.NEGATIVE_INFINITY,
        then?.hi ?? Number.POSITIVE_INFINITY,
      ),
    maxPool: (x, g, y, argmax) => blas.maxPoolIndexed(x, g.batch, g.h, g.w, g.c, g.k, g.stride, g.pad, g.oh, g.ow, y, argmax),
    maxPoolGrad: blas.maxPoolGrad
      ? (dy, argmax, g, dx) => blas.maxPoolGrad?.(dy, argmax, g.batch, g.h, g.w, g.c, g.k, g.stride, g.pad, g.oh, g.ow, dx)
      : jsKernels.maxPoolGrad,
    clamp: (y, lo, hi) => blas.clamp(y, lo, hi),
    // Rows split over the threads: the same result whatever the thread count.
    spmm: (m, n, k, a, b, c) => blas.spmm(m, n, k, a.rowPtr, a.col, a.val, b, c, threads, a.pairs),
    ...(blas.spmmPairs ? { pairRows: (m: number, k: number, a: Csr) => blas.spmmPairs?.(m, k, a.rowPtr, a.col, a.val) ?? null } : {}),
    lognormalPairs: blas.lognormalPhilox
      ? (tPos, tNeg, sigma, st, gPos, gNeg) => {
          checkLognormalPairs(tPos, tNeg, sigma, gPos, gNeg);
          blas.lognormalPhilox?.(tPos, tNeg, sigma, st.key0, st.key1, st.ctr2, st.ctr3, gPos, gNeg, threads);
        }
      : jsKernels.lognormalPairs,
    normalPairs: blas.normalPhilox
      ? (st, zPos, zNeg) => {
          checkNormalPairs(zPos, zNeg);
          blas.normalPhilox?.(st.key0, st.key1, st.ctr2, st.ctr3, zPos, zNeg, threads);
        }
      : jsKernels.normalPairs,
    expScaled: blas.expScaled
      ? (x, c, out) => {
          checkExpScaled(x, c, out);
          blas.expScaled?.(x, c, out);
        }
      : jsKernels.expScaled,
    adamStep: blas.adamStep
      ? (w, g, m, v, h) => {
          checkAdamStep(w, g, m, v, h);
          blas.adamStep?.(w, g, m, v, h.beta1, h.beta2, h.c1, h.c2, h.lr, h.eps, h.decay);
        }
      : jsKernels.adamStep,
    // The per-channel passes check their arguments in C (the same messages as kernel-checks.ts).
    columnSums: blas.columnSums ? blas.columnSums.bind(blas) : jsKernels.columnSums,
    reluGrad: blas.reluGrad ? blas.reluGrad.bind(blas) : jsKernels.reluGrad,
    channelMeans: blas.channelMeans ? blas.channelMeans.bind(blas) : jsKernels.channelMeans,
    reluInPlace: blas.reluInPlace ? blas.reluInPlace.bind(blas) : jsKernels.reluInPlace,
    reluGradInPlace: blas.reluGradInPlace ? blas.reluGradInPlace.bind(blas) : jsKernels.reluGradInPlace,
    addInto: blas.addInto ? blas.addInto.bind(blas) : jsKernels.addInto,
    channelAffine: blas.channelAffine ? blas.channelAffine.bind(blas) : jsKernels.channelAffine,
    channelAffineGrad: blas.channelAffineGrad ? blas.channelAffineGrad.bind(blas) : jsKernels.channelAffineGrad,
  };
}
