import type { Kernels } from './kernels.js';

/**
 * Portable GEMM in TypeScript: packs op(A) row-major and op(B) column-major (so both operands of
 * each dot product are contiguous), then computes 2x4 output blocks with eight accumulators.
 * About 3-4 GFLOP/s on this machine; the native addon is ~40x faster, so Node uses it when built.
 */
export const jsKernels: Kernels = {
  name: 'js',
  sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
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
};
