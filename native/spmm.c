/*
 * C += A B with A sparse (CSR): the first layer of a Monte Carlo on MNIST-like inputs, whose rows
 * (images) are ~80% zeros. Each nonzero a[i][p] streams row p of B through the accumulators of
 * row i of C, so the cost is where B's rows come from. B's columns go in panels of 32 copied into
 * one contiguous, 64-byte-aligned block (k x 32 floats): with B row-major, a panel's rows lie n
 * floats apart and their lines crowd a few cache sets; packed, the rows the inputs touch (about
 * 400 of MNIST's 784 pixels) stay in L1/L2 for every image. Three rows of A go through a panel
 * at once (12 AVX accumulators) so that their independent chains hide the FMA latency. On a Zen 1
 * EPYC (AVX2 as 128-bit halves), 1000 MNIST images x 784 x 256: ~1.3x the previous kernel (64
 * unpacked columns, one row at a time); narrower, L1-sized panels were slower (each nonzero's
 * index and value loads then serve fewer FMAs). docs/decisions.md has the figures and what was
 * tried.
 *
 * Every output element is the same chain, c = fma(val, b, c) over its row's nonzeros in storage
 * order, whichever panel, group or thread computes it, so the result is the same bits as an
 * unblocked loop and does not depend on the thread count (test/core/simulator-kernels.test.ts).
 */
#include "spmm.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define XBAR_X86 1
#endif

#ifdef XBAR_X86
/* Columns per packed panel (4 AVX registers per row) and rows of A per group. */
#define PANEL 32
#define GROUP 3

/* Nonzeros [0, len) of one row into its 32 columns of C; b is the panel (row stride ldb). */
__attribute__((target("avx2,fma"), always_inline)) static inline void row_panel(const int *cp, const float *vp,
                                                                                  int len, const float *b,
                                                                                  int64_t ldb, float *ci) {
  __m256 a0 = _mm256_loadu_ps(ci), a1 = _mm256_loadu_ps(ci + 8), a2 = _mm256_loadu_ps(ci + 16),
         a3 = _mm256_loadu_ps(ci + 24);
  for (int t = 0; t < len; t++) {
    const __m256 x = _mm256_set1_ps(vp[t]);
    const float *bp = b + (int64_t)cp[t] * ldb;
    a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp), a0);
    a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 8), a1);
    a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 16), a2);
    a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 24), a3);
  }
  _mm256_storeu_ps(ci, a0);
  _mm256_storeu_ps(ci + 8, a1);
  _mm256_storeu_ps(ci + 16, a2);
  _mm256_storeu_ps(ci + 24, a3);
}

/* Rows i, i+1, i+2 of A into their 32 columns of C (c points at row i's): the nonzeros all three
 * rows have go interleaved, each row's remaining ones after; each row's order is unchanged. */
__attribute__((target("avx2,fma"), always_inline)) static inline void group_panel(int i, const int *row_ptr,
                                                                                    const int *col, const float *val,
                                                                                    const float *b, int64_t ldb,
                                                                                    float *c, int64_t n) {
  __m256 a[GROUP][4];
  const int *cp[GROUP];
  const float *vp[GROUP];
  int len[GROUP], common = row_ptr[i + 1] - row_ptr[i];
#pragma GCC unroll 3
  for (int r = 0; r < GROUP; r++) {
    cp[r] = col + row_ptr[i + r];
    vp[r] = val + row_ptr[i + r];
    len[r] = row_ptr[i + r + 1] - row_ptr[i + r];
    common = len[r] < common ? len[r] : common;
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) a[r][q] = _mm256_loadu_ps(c + r * n + 8 * q);
  }
  for (int t = 0; t < common; t++) {
#pragma GCC unroll 3
    for (int r = 0; r < GROUP; r++) {
      const __m256 x = _mm256_set1_ps(vp[r][t]);
      const float *bp = b + (int64_t)cp[r][t] * ldb;
#pragma GCC unroll 4
      for (int q = 0; q < 4; q++) a[r][q] = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 8 * q), a[r][q]);
    }
  }
#pragma GCC unroll 3
  for (int r = 0; r < GROUP; r++) {
    float *ci = c + r * n;
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) _mm256_storeu_ps(ci + 8 * q, a[r][q]);
    row_panel(cp[r] + common, vp[r] + common, len[r] - common, b, ldb, ci);
  }
}

/* Every row of A into one panel's 32 columns of C (c points at the panel's first column); inlined
 * twice, so that the packed panel's row stride is a constant shift. */
__attribute__((target("avx2,fma"), always_inline)) static inline void rows_panel(int m, const int *row_ptr,
                                                                                   const int *col, const float *val,
                                                                                   const float *b, int64_t ldb,
                                                                                   float *c, int64_t n) {
  int i = 0;
  for (; i + GROUP <= m; i += GROUP) group_panel(i, row_ptr, col, val, b, ldb, c + i * n, n);
  for (; i < m; i++) row_panel(col + row_ptr[i], val + row_ptr[i], row_ptr[i + 1] - row_ptr[i], b, ldb, c + i * n);
}

/* Columns [j0, n): panels of 32 (packed when A has at least as many nonzeros as B has rows, so
 * that the copy costs less than the products it speeds up, and when the buffer can be had), then
 * single registers of 8, then one column at a time, every one a chain of FMAs. */
__attribute__((target("avx2,fma"))) static void spmm_avx2(int m, int n, int k, const int *row_ptr, const int *col,
                                                          const float *val, const float *b, float *c, int j0) {
  float *panel = NULL;
  if (n - j0 >= PANEL && row_ptr[m] - row_ptr[0] >= k && k > 0)
    panel = aligned_alloc(64, (size_t)k * PANEL * sizeof(float));
  for (; j0 + PANEL <= n; j0 += PANEL) {
    const float *bp = b + j0;
    int64_t ldb = n;
    if (panel) {
      for (int p = 0; p < k; p++) memcpy(panel + (int64_t)p * PANEL, b + (int64_t)p * n + j0, PANEL * sizeof(float));
      bp = panel;
      ldb = PANEL;
    }
    if (panel) rows_panel(m, row_ptr, col, val, bp, PANEL, c + j0, n);
    else rows_panel(m, row_ptr, col, val, bp, ldb, c + j0, n);
  }
  free(panel);
  for (; j0 + 8 <= n; j0 += 8)
    for (int i = 0; i < m; i++) {
      float *ci = c + (int64_t)i * n + j0;
      __m256 a = _mm256_loadu_ps(ci);
      for (int p = row_ptr[i]; p < row_ptr[i + 1]; p++)
        a = _mm256_fmadd_ps(_mm256_set1_ps(val[p]), _mm256_loadu_ps(b + (int64_t)col[p] * n + j0), a);
      _mm256_storeu_ps(ci, a);
    }
  for (; j0 < n; j0++)
    for (int i = 0; i < m; i++) {
      __m128 a = _mm_set_ss(c[(int64_t)i * n + j0]);
      for (int p = row_ptr[i]; p < row_ptr[i + 1]; p++)
        a = _mm_fmadd_ss(_mm_set_ss(val[p]), _mm_set_ss(b[(int64_t)col[p] * n + j0]), a);
      c[(int64_t)i * n + j0] = _mm_cvtss_f32(a);
    }
}

/* 64 columns in 4 512-bit registers, one row at a time, B unpacked (as before the AVX2 path
 * was packed: this CPU has no AVX-512 to measure a packed variant on); the columns past the
 * last 64 go through the AVX2 path. Each output is the same chain of FMAs as there, so the
 * result is the same bit for bit. */
__attribute__((target("avx512f"))) static void spmm_avx512(int m, int n, int k, const int *row_ptr, const int *col,
                                                           const float *val, const float *b, float *c) {
  int j0 = 0;
  for (; j0 + 64 <= n; j0 += 64)
    for (int i = 0; i < m; i++) {
      float *ci = c + (int64_t)i * n + j0;
      __m512 a0 = _mm512_loadu_ps(ci), a1 = _mm512_loadu_ps(ci + 16), a2 = _mm512_loadu_ps(ci + 32),
             a3 = _mm512_loadu_ps(ci + 48);
      for (int p = row_ptr[i]; p < row_ptr[i + 1]; p++) {
        const __m512 x = _mm512_set1_ps(val[p]);
        const float *bp = b + (int64_t)col[p] * n + j0;
        a0 = _mm512_fmadd_ps(x, _mm512_loadu_ps(bp), a0);
        a1 = _mm512_fmadd_ps(x, _mm512_loadu_ps(bp + 16), a1);
        a2 = _mm512_fmadd_ps(x, _mm512_loadu_ps(bp + 32), a2);
        a3 = _mm512_fmadd_ps(x, _mm512_loadu_ps(bp + 48), a3);
      }
      _mm512_storeu_ps(ci, a0);
      _mm512_storeu_ps(ci + 16, a1);
      _mm512_storeu_ps(ci + 32, a2);
      _mm512_storeu_ps(ci + 48, a3);
    }
  spmm_avx2(m, n, k, row_ptr, col, val, b, c, j0);
}
#endif

/* Without AVX2: a multiply and an add per term (no FMA), in the same order. */
static void spmm_plain(int m, int n, const int *row_ptr, const int *col, const float *val, const float *b, float *c) {
  for (int i = 0; i < m; i++) {
    float *ci = c + (int64_t)i * n;
    for (int p = row_ptr[i]; p < row_ptr[i + 1]; p++) {
      const float x = val[p];
      const float *bp = b + (int64_t)col[p] * n;
      for (int j = 0; j < n; j++) ci[j] += x * bp[j];
    }
  }
}

struct spmm_job {
  int m, n, k;
  const int *row_ptr, *col;
  const float *val, *b;
  float *c;
};

static void *spmm_run(void *arg) {
  const struct spmm_job *j = arg;
#ifdef XBAR_X86
  if (__builtin_cpu_supports("avx512f") && !getenv("XBAR_NO_AVX512")) {
    spmm_avx512(j->m, j->n, j->k, j->row_ptr, j->col, j->val, j->b, j->c);
    return NULL;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    spmm_avx2(j->m, j->n, j->k, j->row_ptr, j->col, j->val, j->b, j->c, 0);
    return NULL;
  }
#endif
  spmm_plain(j->m, j->n, j->row_ptr, j->col, j->val, j->b, j->c);
  return NULL;
}

void xbar_spmm(int m, int n, int k, const int *row_ptr, const int *col, const float *val, const float *b, float *c,
               int threads) {
  /* Rows split between threads, at least 64 each. */
  if (threads > m / 64) threads = m / 64 > 1 ? m / 64 : 1;
  if (threads > 16) threads = 16;
  struct spmm_job jobs[16];
  pthread_t ids[16];
  int started = 0;
  for (int t = 0; t < threads; t++) {
    const int i0 = (int)((int64_t)m * t / threads), i1 = (int)((int64_t)m * (t + 1) / threads);
    jobs[t] = (struct spmm_job){i1 - i0, n, k, row_ptr + i0, col, val, b, c + (int64_t)i0 * n};
    if (t == threads - 1 || pthread_create(&ids[t], NULL, spmm_run, &jobs[t]) != 0) spmm_run(&jobs[t]);
    else started |= 1 << t;
  }
  for (int t = 0; t < threads; t++)
    if (started & (1 << t)) pthread_join(ids[t], NULL);
}
