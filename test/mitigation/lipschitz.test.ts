import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels-js.js';
import { Rng } from '../../src/core/rng.js';
import { loadDataset } from '../../src/data/node.js';
import {
  LipschitzRegularizer,
  layerSpectralNorms,
  orthogonalPenalty,
  spectralNorm,
  spectralPenalty,
} from '../../src/mitigation/lipschitz.js';
import { buildModel } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';
import { train } from '../../src/nn/train.js';

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (the exact reference). */
function jacobiEigenvalues(S: number[][]): number[] {
  const n = S.length;
  const a = S.map((r) => r.slice());
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] ** 2;
    if (off < 1e-26) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
      }
  }
  return a.map((r, i) => r[i]).sort((x, y) => y - x);
}

/** Singular values of a row-major [rows, cols] matrix: square roots of the eigenvalues of W^T W. */
function singularValues(W: ArrayLike<number>, rows: number, cols: number): number[] {
  const G = Array.from({ length: cols }, (_, i) =>
    Array.from({ length: cols }, (_, j) => {
      let s = 0;
      for (let r = 0; r < rows; r++) s += W[r * cols + i] * W[r * cols + j];
      return s;
    }),
  );
  return jacobiEigenvalues(G).map((e) => Math.sqrt(Math.max(0, e)));
}

const randomMatrix = (rows: number, cols: number, seed: number) => new Rng(seed).fillNormal(new Float32Array(rows * cols), 0, 1);

describe('spectral norm', () => {
  it('the Jacobi reference is right on a known matrix', () => {
    // diag(3, 2) rotated: singular values 3 and 2.
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const W = [3 * c, -2 * s, 3 * s, 2 * c];
    const sv = singularValues(W, 2, 2);
    expect(sv[0]).toBeCloseTo(3, 10);
    expect(sv[1]).toBeCloseTo(2, 10);
  });

  it.each([
    [6, 4, 1],
    [4, 9, 2],
    [12, 12, 3],
    [25, 6, 4],
    [3, 1, 5],
  ])('power iteration matches an exact SVD on a %i x %i matrix', (rows, cols, seed) => {
    const W = randomMatrix(rows, cols, seed);
    const exact = singularValues(W, rows, cols)[0];
    const r = spectralNorm(W, rows, cols, 500);
    expect(Math.abs(r.sigma - exact) / exact).toBeLessThan(1e-6);
    // The singular pair: W v = sigma u.
    for (let i = 0; i < rows; i++) {
      let wv = 0;
      for (let j = 0; j < cols; j++) wv += W[i * cols + j] * r.v[j];
      expect(wv).toBeCloseTo(r.sigma * r.u[i], 4);
    }
  });

  it('a warm start converges in one iteration per step', () => {
    const W = randomMatrix(10, 8, 9);
    const exact = singularValues(W, 10, 8)[0];
    let state: Float64Array | undefined;
    let sigma = 0;
    for (let step = 0; step < 300; step++) {
      const r = spectralNorm(W, 10, 8, 1, state);
      state = r.v;
      sigma = r.sigma;
    }
    expect(Math.abs(sigma - exact) / exact).toBeLessThan(1e-5);
  });
});

/** Central finite differences of f at every entry of W. */
function finiteDifferences(W: Float32Array, f: (W: Float32Array) => number, eps = 1e-3): Float64Array {
  const g = new Float64Array(W.length);
  for (let i = 0; i < W.length; i++) {
    const w0 = W[i];
    W[i] = w0 + eps;
    const up = f(W);
    W[i] = w0 - eps;
    const down = f(W);
    W[i] = w0;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

function expectClose(analytic: ArrayLike<number>, numeric: ArrayLike<number>, tol: number) {
  let maxAbs = 0;
  for (let i = 0; i < numeric.length; i++) maxAbs = Math.max(maxAbs, Math.abs(numeric[i]));
  for (let i = 0; i < numeric.length; i++) expect(Math.abs(analytic[i] - numeric[i])).toBeLessThan(tol * Math.max(1, maxAbs));
}

describe('regulariser gradients', () => {
  it.each([
    [5, 3],
    [3, 5],
    [4, 4],
  ])('orthogonal penalty ||W^T W - I||^2 on %i x %i matches finite differences', (rows, cols) => {
    const W = randomMatrix(rows, cols, rows * 10 + cols).map((v) => v * 0.6);
    const grad = new Float32Array(W.length);
    orthogonalPenalty(W, rows, cols, jsKernels, grad, 1);
    const numeric = finiteDifferences(W, (w) => orthogonalPenalty(w, rows, cols, jsKernels));
    expectClose(grad, numeric, 2e-3);
    // Either Gram matrix gives the same penalty: ||W^T W - I||^2 and ||W W^T - I||^2 differ by |rows - cols| only.
    const ref = (() => {
      let s = 0;
      for (let i = 0; i < cols; i++)
        for (let j = 0; j < cols; j++) {
          let g = 0;
          for (let r = 0; r < rows; r++) g += W[r * cols + i] * W[r * cols + j];
          s += (g - (i === j ? 1 : 0)) ** 2;
        }
      return s;
    })();
    const small = orthogonalPenalty(W, rows, cols, jsKernels);
    expect(small).toBeCloseTo(rows >= cols ? ref : ref - (cols - rows), 3);
  });

  it('spectral penalty max(0, sigma - bound)^2 matches finite differences of the exact SVD', () => {
    const rows = 6;
    const cols = 4;
    const W = randomMatrix(rows, cols, 21);
    const bound = 1;
    const grad = new Float32Array(W.length);
    const r = spectralPenalty(W, rows, cols, bound, 2000, {}, grad, 1);
    const exact = singularValues(W, rows, cols)[0];
    expect(r.sigma).toBeCloseTo(exact, 5);
    const numeric = finiteDifferences(W, (w) => Math.max(0, singularValues(w, rows, cols)[0] - bound) ** 2);
    expectClose(grad, numeric, 2e-3);
  });

  it('spectral penalty is zero with zero gradient below the bound', () => {
    const W = randomMatrix(5, 5, 3).map((v) => v * 0.01);
    const grad = new Float32Array(W.length);
    expect(spectralPenalty(W, 5, 5, 1, 50, {}, grad).penalty).toBe(0);
    expect(grad.every((g) => g === 0)).toBe(true);
  });
});

describe('Lipschitz-regularised training', () => {
  const digits = loadDataset('digits8', { limitTrain: 1500, limitTest: 200 });
  const cfg = { epochs: 3, batchSize: 32, optimizer: { name: 'adam' as const, lr: 0.01 }, schedule: 'cosine' as const, seed: 3 };

  it('the spectral penalty pulls every layer to its bound; without it the norms grow past it', () => {
    // Adam moves each weight by about lr per step, so a constant rate reaches the bound in 3 epochs.
    const cfg = { epochs: 3, batchSize: 32, optimizer: { name: 'adam' as const, lr: 0.01 }, schedule: 'constant' as const, seed: 3 };
    const plain = buildModel(presets['mlp-paper'].spec, 1);
    train(plain, digits.train, null, cfg, jsKernels);
    const reg = buildModel(presets['mlp-paper'].spec, 1);
    const lip = new LipschitzRegularizer(reg, { kind: 'spectral', lambda: 10, bound: 1 }, jsKernels);
    const history = train(reg, digits.train, null, cfg, jsKernels, lip.hooks());
    expect(history[0].penalty).toBeGreaterThan(0);
    const plainNorms = layerSpectralNorms(plain);
    const regNorms = layerSpectralNorms(reg);
    expect(Math.max(...plainNorms)).toBeGreaterThan(1.5);
    for (const s of regNorms) expect(s).toBeLessThan(1.15);
  });

  it('the orthogonal penalty drives W^T W towards I', () => {
    const m = buildModel(presets['mlp-paper'].spec, 2);
    const lip = new LipschitzRegularizer(m, { kind: 'orthogonal', lambda: 1 }, jsKernels);
    const before = lip.addGradient();
    m.zeroGrad();
    train(m, digits.train, null, cfg, jsKernels, lip.hooks());
    m.zeroGrad();
    expect(lip.addGradient()).toBeLessThan(0.2 * before);
  });
});
