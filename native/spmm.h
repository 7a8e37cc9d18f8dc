/* Sparse times dense (native/spmm.c), for xbar_blas.c. */
#ifndef XBAR_SPMM_H
#define XBAR_SPMM_H

/* C [m, n] += A B, A [m, k] sparse in CSR (row_ptr, col, val; col checked to lie in [0, k)), B
 * [k, n] and C row-major. Each C element is one chain c += val * b over its row's nonzeros in
 * storage order (fused multiply-adds on the AVX2 and AVX-512 paths), whatever the blocking and
 * `threads`: rows are split between threads, never a sum. */
void xbar_spmm(int m, int n, int k, const int *row_ptr, const int *col, const float *val, const float *b, float *c,
               int threads);

#endif
