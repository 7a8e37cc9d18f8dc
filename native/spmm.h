/* Sparse times dense (native/spmm.c), for xbar_blas.c. */
#ifndef XBAR_SPMM_H
#define XBAR_SPMM_H

/* C [m, n] += A B, A [m, k] sparse in CSR (row_ptr, col, val; col checked to lie in [0, k)), B
 * [k, n] and C row-major. Each C element is one chain c += val * b over its row's nonzeros in
 * storage order (fused multiply-adds on the AVX2 and AVX-512 paths), whatever the blocking and
 * `threads`: rows are split between threads, never a sum. */
struct xbar_spmm_pairs;

void xbar_spmm(int m, int n, int k, const int *row_ptr, const int *col, const float *val, const float *b, float *c,
               int threads, const struct xbar_spmm_pairs *pairs);

/* A plan that runs the rows of a CSR matrix in pairs with similar columns (xbar_spmm_pair_rows),
 * for a matrix used in many products (the test images of a Monte Carlo batch, one product per
 * chip). NULL when the rows' columns are not strictly increasing (the pairs' merged lists would
 * reorder a row's terms) or there is nothing to pair; *oom set when out of memory. */
struct xbar_spmm_pairs *xbar_spmm_pair_rows(int m, int k, const int *row_ptr, const int *col, const float *val,
                                            int *oom);
void xbar_spmm_pairs_free(struct xbar_spmm_pairs *p);
/* The plan's shape, to check it against the matrix it is used with. */
void xbar_spmm_pairs_shape(const struct xbar_spmm_pairs *p, int *m, int *k, long long *nnz);

#endif
