import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { Rng } from '../core/rng.js';
import type { Conv2d } from '../nn/conv.js';
import type { Dense } from '../nn/dense.js';
import type { Model } from '../nn/model.js';
import type { TrainHooks } from '../nn/train.js';
import { weightedLayers } from './noise.js';

/**
 * Lipschitz-constant regularisation (CorrectNet's error suppression). Each weighted layer's
 * weight, as the matrix that goes onto the crossbar (dense: [in, out]; conv2d: the im2col matrix
 * [k*k*C, filters]), should not amplify errors:
 *
 * - 'orthogonal' (classic, Parseval-style): R = ||W^T W - I||_F^2 on the smaller Gram matrix,
 *   which pushes every singular value to 1. Gradient 4 W (W^T W - I) (or 4 (W W^T - I) W).
 *   Cost per step: two GEMMs, 2 * in * out * min(in, out) multiply-adds per layer.
 * - 'spectral' (modified): R = max(0, sigma_max(W) - bound)^2, penalising only the spectral norm
 *   above the bound and leaving the other singular values free. sigma_max comes from power
 *   iteration warm-started from the previous step's vector (`iterations` per step, default 1),
 *   and its gradient is u v^T (the top singular pair). Cost per step: 2 * in * out multiply-adds
 *   per iteration per layer, negligible next to a training step.
 *
 * The bias is not part of the Lipschitz constant of an affine map, so it is not penalised.
 * Penalty added to the loss: lambda * sum over layers of R.
 */
export type LipschitzKind = 'orthogonal' | 'spectral';
export const lipschitzKinds: readonly LipschitzKind[] = ['orthogonal', 'spectral'];

export interface LipschitzConfig {
  kind: LipschitzKind;
  lambda: number;
  /** Spectral norm allowed before the 'spectral' penalty starts (default 1). */
  bound?: number;
  /** Power iterations per training step for 'spectral' (default 1, warm-started). */
  iterations?: number;
}

export function checkLipschitz(cfg: LipschitzConfig): void {
  if (!lipschitzKinds.includes(cfg.kind))
    throw new XbarError(`unknown Lipschitz regulariser '${cfg.kind}': use ${lipschitzKinds.join(' or ')}`);
  if (!(cfg.lambda >= 0) || !Number.isFinite(cfg.lambda)) throw new XbarError(`--lambda must be a number >= 0, got ${cfg.lambda}`);
  if (cfg.bound !== undefined && !(cfg.bound > 0)) throw new XbarError(`--lipschitz-bound must be > 0, got ${cfg.bound}`);
}

export interface SpectralResult {
  sigma: number;
  /** Left (rows) and right (cols) singular vectors: W v = sigma u. */
  u: Float64Array;
  v: Float64Array;
}

/**
 * Largest singular value of the row-major [rows, cols] matrix W by power iteration on W^T W,
 * from `v0` (a warm start) or a seeded random vector. Each iteration costs 2 * rows * cols
 * multiply-adds; the error shrinks as (sigma_2 / sigma_1)^(2k).
 */
export function spectralNorm(
  W: ArrayLike<number>,
  rows: number,
  cols: number,
  iterations: number,
  v0?: Float64Array,
  seed = 1,
): SpectralResult {
  let v = v0 ? Float64Array.from(v0) : new Float64Array(cols);
  if (!v0) {
    const rng = new Rng(seed);
    for (let j = 0; j < cols; j++) v[j] = rng.normal();
  }
  normalise(v);
  const u = new Float64Array(rows);
  let sigma = 0;
  for (let it = 0; it < Math.max(1, iterations); it++) {
    // u = W v
    for (let i = 0; i < rows; i++) {
      let acc = 0;
      const o = i * cols;
      for (let j = 0; j < cols; j++) acc += W[o + j] * v[j];
      u[i] = acc;
    }
    normalise(u);
    // v = W^T u
    const nv = new Float64Array(cols);
    for (let i = 0; i < rows; i++) {
      const ui = u[i];
      if (ui === 0) continue;
      const o = i * cols;
      for (let j = 0; j < cols; j++) nv[j] += W[o + j] * ui;
    }
    sigma = normalise(nv);
    v = nv;
  }
  // sigma = ||W^T u|| with u = W v / ||W v||: a lower bound that converges to sigma_max.
  if (sigma === 0) v.fill(0);
  return { sigma, u, v };
}

function normalise(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < x.length; i++) x[i] /= n;
  return n;
}

/**
 * ||G - I||_F^2 with G the smaller Gram matrix of W [rows, cols]; adds scale * dR/dW to `grad`
 * when given. Uses the kernels' GEMM.
 */
export function orthogonalPenalty(W: Float32Array, rows: number, cols: number, kernels: Kernels, grad?: Float32Array, scale = 1): number {
  const tall = rows >= cols;
  const k = tall ? cols : rows;
  const G = new Float32Array(k * k);
  // tall: G = W^T W [cols, cols]; wide: G = W W^T [rows, rows].
  if (tall) kernels.sgemm(true, false, cols, cols, rows, 1, W, cols, W, cols, 0, G, cols);
  else kernels.sgemm(false, true, rows, rows, cols, 1, W, cols, W, cols, 0, G, rows);
  let r = 0;
  for (let i = 0; i < k; i++) G[i * k + i] -= 1;
  for (let i = 0; i < G.length; i++) r += G[i] * G[i];
  if (grad) {
    // tall: dR/dW = 4 W E; wide: dR/dW = 4 E W (E = G - I, symmetric).
    if (tall) kernels.sgemm(false, false, rows, cols, cols, 4 * scale, W, cols, G, cols, 1, grad, cols);
    else kernels.sgemm(false, false, rows, cols, rows, 4 * scale, G, rows, W, cols, 1, grad, cols);
  }
  return r;
}

/** max(0, sigma - bound)^2 from a (warm-started) power iteration; adds scale * dR/dW to `grad`. */
export function spectralPenalty(
  W: Float32Array,
  rows: number,
  cols: number,
  bound: number,
  iterations: number,
  state: { v?: Float64Array },
  grad?: Float32Array,
  scale = 1,
): { penalty: number; sigma: number } {
  const r = spectralNorm(W, rows, cols, iterations, state.v);
  state.v = r.v;
  const excess = r.sigma - bound;
  if (excess <= 0) return { penalty: 0, sigma: r.sigma };
  if (grad) {
    const c = 2 * excess * scale;
    for (let i = 0; i < rows; i++) {
      const cu = c * r.u[i];
      if (cu === 0) continue;
      const o = i * cols;
      for (let j = 0; j < cols; j++) grad[o + j] += cu * r.v[j];
    }
  }
  return { penalty: excess * excess, sigma: r.sigma };
}

/** The regulariser bound to a model's weighted layers; adds its gradient after each backward pass. */
export class LipschitzRegularizer {
  private readonly layers: (Dense | Conv2d)[];
  private readonly states: { v?: Float64Array }[];

  constructor(
    model: Model,
    readonly cfg: LipschitzConfig,
    private readonly kernels: Kernels,
  ) {
    checkLipschitz(cfg);
    this.layers = weightedLayers(model);
    this.states = this.layers.map(() => ({}));
  }

  /** Adds lambda * dR/dW to the weight gradients; returns lambda * R. */
  addGradient(): number {
    const { kind, lambda } = this.cfg;
    let total = 0;
    this.layers.forEach((l, k) => {
      const [rows, cols] = l.weight.shape;
      if (kind === 'orthogonal') total += orthogonalPenalty(l.weight.value, rows, cols, this.kernels, l.weight.grad, lambda);
      else
        total += spectralPenalty(
          l.weight.value,
          rows,
          cols,
          this.cfg.bound ?? 1,
          this.cfg.iterations ?? 1,
          this.states[k],
          l.weight.grad,
          lambda,
        ).penalty;
    });
    return lambda * total;
  }

  hooks(): Pick<TrainHooks, 'afterBackward'> {
    return { afterBackward: () => this.addGradient() };
  }
}

/** Each weighted layer's spectral norm (crossbar matrix, bias excluded), converged by power iteration. */
export function layerSpectralNorms(model: Model, iterations = 200): number[] {
  return weightedLayers(model).map((l) => spectralNorm(l.weight.value, l.weight.shape[0], l.weight.shape[1], iterations).sigma);
}
