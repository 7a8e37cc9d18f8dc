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
}
