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
 *
 * Pairs (xbar_spmm_pair_rows): a matrix used in many products (a Monte Carlo's test images, one
 * product per chip) can be planned once into pairs of rows with similar columns. A pair walks the
 * union of its two rows' columns in order, loads each row of B once for both rows (8 accumulators),
 * and gives a row the term val * b where it has the column and +0 * b where it lacks it. That
 * padded term leaves the sum's bits alone whenever B is finite and the running sum is not -0
 * (c + (+-0) = c for c != 0, and +0 + +-0 = +0), so a pair falls back to the rows' own chains when
 * its starting values hold a -0 and a panel falls back when it holds a non-finite value; a running
 * sum can still reach -0 from a nonzero start only by a product underflowing to it, which MNIST
 * pixels (>= 1/255) times conductance weights never do, and then at most an exactly-zero output's
 * sign can differ. On the `mlp`'s first layer (1000 MNIST test images, 784 x 256) the pairs run
 * ~1.2x faster than the three-row groups on one thread (`node bench/gemm.mjs`'s last line).
 */
#include "spmm.h"

/* Columns per packed panel of the AVX2 path (PANEL below), named outside it for xbar_spmm. */
#define PANEL_COLS 32

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define XBAR_X86 1
#endif

#ifdef XBAR_X86
/* Columns per packed panel (4 AVX registers per row) and rows of A per group. */
#define PANEL PANEL_COLS
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

/* The union of a pair's columns (plan->ucol) with each row's value or +0 (plan->uval: row i's, row
 * j's, interleaved), into both rows' 32 columns of C: each row of the packed panel loaded once. */
__attribute__((target("avx2,fma"), always_inline)) static inline void pair_panel(const int *ucol, const float *uv,
                                                                                   int len, const float *b, float *ci,
                                                                                   float *cj) {
  __m256 a0 = _mm256_loadu_ps(ci), a1 = _mm256_loadu_ps(ci + 8), a2 = _mm256_loadu_ps(ci + 16),
         a3 = _mm256_loadu_ps(ci + 24);
  __m256 b0 = _mm256_loadu_ps(cj), b1 = _mm256_loadu_ps(cj + 8), b2 = _mm256_loadu_ps(cj + 16),
         b3 = _mm256_loadu_ps(cj + 24);
  for (int t = 0; t < len; t++) {
    const float *bp = b + (int64_t)ucol[t] * PANEL;
    const __m256 w0 = _mm256_load_ps(bp), w1 = _mm256_load_ps(bp + 8), w2 = _mm256_load_ps(bp + 16),
                 w3 = _mm256_load_ps(bp + 24);
    const __m256 x = _mm256_broadcast_ss(uv + 2 * t), y = _mm256_broadcast_ss(uv + 2 * t + 1);
    a0 = _mm256_fmadd_ps(x, w0, a0);
    a1 = _mm256_fmadd_ps(x, w1, a1);
    a2 = _mm256_fmadd_ps(x, w2, a2);
    a3 = _mm256_fmadd_ps(x, w3, a3);
    b0 = _mm256_fmadd_ps(y, w0, b0);
    b1 = _mm256_fmadd_ps(y, w1, b1);
    b2 = _mm256_fmadd_ps(y, w2, b2);
    b3 = _mm256_fmadd_ps(y, w3, b3);
  }
  _mm256_storeu_ps(ci, a0);
  _mm256_storeu_ps(ci + 8, a1);
  _mm256_storeu_ps(ci + 16, a2);
  _mm256_storeu_ps(ci + 24, a3);
  _mm256_storeu_ps(cj, b0);
  _mm256_storeu_ps(cj + 8, b1);
  _mm256_storeu_ps(cj + 16, b2);
  _mm256_storeu_ps(cj + 24, b3);
}

/* Whether any of the 32 floats at c is -0 (a start the padded terms could turn into +0). */
__attribute__((target("avx2,fma"), always_inline)) static inline bool neg_zero32(const float *c) {
  const __m256i nz = _mm256_set1_epi32(INT32_MIN);
  __m256i any = _mm256_setzero_si256();
#pragma GCC unroll 4
  for (int q = 0; q < 4; q++)
    any = _mm256_or_si256(any, _mm256_cmpeq_epi32(_mm256_loadu_si256((const __m256i *)(c + 8 * q)), nz));
  return !_mm256_testz_si256(any, any);
}

/* Whether the packed panel (k rows of 32) holds only finite values: x - x is +0 for those, NaN
 * for an infinity or a NaN. */
__attribute__((target("avx2,fma"))) static bool panel_finite(const float *panel, int k) {
  __m256 any = _mm256_setzero_ps();
  for (int64_t i = 0; i < (int64_t)k * PANEL; i += 8) {
    const __m256 x = _mm256_load_ps(panel + i);
    any = _mm256_or_ps(any, _mm256_sub_ps(x, x));
  }
  return _mm256_testz_si256(_mm256_castps_si256(any), _mm256_castps_si256(any));
}
#endif

struct xbar_spmm_pairs {
  int m, k;
  long long nnz;
  int np, ns;     /* pairs, rows left single */
  int *rows;      /* pairs: row i, row j (2 np); then the single rows (ns) */
  int *uptr;      /* np + 1 */
  int *ucol;      /* uptr[np] */
  float *uval;    /* 2 uptr[np] */
};

void xbar_spmm_pairs_free(struct xbar_spmm_pairs *p) {
  if (!p) return;
  free(p->rows);
  free(p->uptr);
  free(p->ucol);
  free(p->uval);
  free(p);
}

void xbar_spmm_pairs_shape(const struct xbar_spmm_pairs *p, int *m, int *k, long long *nnz) {
  *m = p->m;
  *k = p->k;
  *nnz = p->nnz;
}

/* Rows looked at as partners of each row: the pairing costs m x min(m, WINDOW) unions of bit sets
 * (~6 ms for 1000 MNIST images, once per batch of a run). */
#define WINDOW 1024

/* |x | y| for bit sets of `words` words: with the POPCNT instruction where the CPU has it (the
 * generic build's __builtin_popcountll is a ~10x slower bit trick). */
static int union_plain(const uint64_t *x, const uint64_t *y, int words) {
  int u = 0;
  for (int w = 0; w < words; w++) u += __builtin_popcountll(x[w] | y[w]);
  return u;
}
#ifdef XBAR_X86
__attribute__((target("popcnt"))) static int union_popcnt(const uint64_t *x, const uint64_t *y, int words) {
  int u = 0;
  for (int w = 0; w < words; w++) u += __builtin_popcountll(x[w] | y[w]);
  return u;
}
#else
#define union_popcnt union_plain
#endif

struct xbar_spmm_pairs *xbar_spmm_pair_rows(int m, int k, const int *row_ptr, const int *col, const float *val,
                                            int *oom) {
  *oom = 0;
#ifdef XBAR_X86
  const bool fast_popcount = __builtin_cpu_supports("popcnt");
#else
  const bool fast_popcount = false;
#endif
  const long long nnz = row_ptr[m] - row_ptr[0];
  if (m < 2 || k <= 0 || nnz == 0) return NULL;
  for (int i = 0; i < m; i++)
    for (int p = row_ptr[i] + 1; p < row_ptr[i + 1]; p++)
      if (col[p] <= col[p - 1]) return NULL;
  const int words = (k + 63) / 64;
  uint64_t *bits = calloc((size_t)m * words, sizeof(uint64_t));
  unsigned char *used = calloc((size_t)m, 1);
  int *single = malloc((size_t)m * sizeof(int));
  struct xbar_spmm_pairs *p = calloc(1, sizeof *p);
  if (p) {
    /* A pair's union holds at most its two rows' nonzeros: nnz entries in all. */
    p->rows = malloc((size_t)m * sizeof(int));
    p->uptr = malloc(((size_t)m / 2 + 1) * sizeof(int));
    p->ucol = malloc((size_t)nnz * sizeof(int));
    p->uval = malloc((size_t)2 * nnz * sizeof(float));
  }
  if (!bits || !used || !single || !p || !p->rows || !p->uptr || !p->ucol || !p->uval) {
    free(bits);
    free(used);
    free(single);
    xbar_spmm_pairs_free(p);
    *oom = 1;
    return NULL;
  }
  p->m = m;
  p->k = k;
  p->nnz = nnz;
  for (int i = 0; i < m; i++)
    for (int q = row_ptr[i]; q < row_ptr[i + 1]; q++) bits[(int64_t)i * words + col[q] / 64] |= (uint64_t)1 << (col[q] % 64);
  /* Greedy: each row in turn takes the free row among the next WINDOW whose union with it pads the
   * fewest terms (2 |union| - both lengths); empty rows stay single (nothing to share). */
  int np = 0, ns = 0, nu = 0;
  p->uptr[0] = 0;
  for (int i = 0; i < m; i++) {
    if (used[i]) continue;
    used[i] = 1;
    const int li = row_ptr[i + 1] - row_ptr[i];
    int best = -1;
    long long best_cost = LLONG_MAX;
    if (li > 0)
      for (int j = i + 1, seen = 0; j < m && seen < WINDOW; j++) {
        if (used[j] || row_ptr[j + 1] == row_ptr[j]) continue;
        seen++;
        const int u = fast_popcount ? union_popcnt(bits + (int64_t)i * words, bits + (int64_t)j * words, words)
                                    : union_plain(bits + (int64_t)i * words, bits + (int64_t)j * words, words);
        const long long cost = 2LL * u - li - (row_ptr[j + 1] - row_ptr[j]);
        if (cost < best_cost) {
          best_cost = cost;
          best = j;
        }
      }
    if (best < 0) {
      single[ns++] = i;
      continue;
    }
    used[best] = 1;
    p->rows[2 * np] = i;
    p->rows[2 * np + 1] = best;
    /* Merge the two ascending column lists. */
    int a = row_ptr[i], ae = row_ptr[i + 1], b = row_ptr[best], be = row_ptr[best + 1];
    while (a < ae || b < be) {
      if (b >= be || (a < ae && col[a] < col[b])) {
        p->ucol[nu] = col[a];
        p->uval[2 * nu] = val[a++];
        p->uval[2 * nu + 1] = 0.0f;
      } else if (a >= ae || col[b] < col[a]) {
        p->ucol[nu] = col[b];
        p->uval[2 * nu] = 0.0f;
        p->uval[2 * nu + 1] = val[b++];
      } else {
        p->ucol[nu] = col[a];
        p->uval[2 * nu] = val[a++];
        p->uval[2 * nu + 1] = val[b++];
      }
      nu++;
    }
    p->uptr[++np] = nu;
  }
  memcpy(p->rows + 2 * np, single, (size_t)ns * sizeof(int));
  free(single);
  free(bits);
  free(used);
  p->np = np;
  p->ns = ns;
  if (np == 0) {
    xbar_spmm_pairs_free(p);
    return NULL;
  }
  return p;
}

#ifdef XBAR_X86
__attribute__((target("avx2,fma"))) static void spmm_avx2(int m, int n, int k, const int *row_ptr, const int *col,
                                                          const float *val, const float *b, float *c, int j0);

/* The r-th row (counted from 2 p0) a plan's job owns: its pairs' rows up to 2 p1, then its single
 * rows from s0. */
static inline int owned_row(const struct xbar_spmm_pairs *pl, int p1, int s0, int r) {
  return r < 2 * p1 ? pl->rows[r] : pl->rows[2 * pl->np + s0 + (r - 2 * p1)];
}

/* Row i alone over columns [j0, n): spmm_avx2 on a one-row matrix, so the same chains. */
static void row_alone(int i, int n, int k, const int *row_ptr, const int *col, const float *val, const float *b,
                      float *c, int j0) {
  const int one[2] = {0, row_ptr[i + 1] - row_ptr[i]};
  spmm_avx2(1, n, k, one, col + row_ptr[i], val + row_ptr[i], b, c + (int64_t)i * n, j0);
}

/* A plan's pairs [p0, p1) and single rows [s0, s1) over all n columns: packed 32-column panels
 * (the pairs through pair_panel unless a start holds -0 or the panel a non-finite value, single
 * rows and fallbacks through row_panel), then the tail columns row by row as spmm_avx2 does. */
__attribute__((target("avx2,fma"))) static void spmm_avx2_pairs(int n, int k, const int *row_ptr, const int *col,
                                                                const float *val, const float *b, float *c,
                                                                const struct xbar_spmm_pairs *pl, int p0, int p1,
                                                                int s0, int s1, float *panel) {
  int j0 = 0;
  for (; j0 + PANEL <= n; j0 += PANEL) {
    for (int p = 0; p < k; p++) memcpy(panel + (int64_t)p * PANEL, b + (int64_t)p * n + j0, PANEL * sizeof(float));
    const bool finite = panel_finite(panel, k);
    for (int q = p0; q < p1; q++) {
      const int i = pl->rows[2 * q], j = pl->rows[2 * q + 1];
      float *ci = c + (int64_t)i * n + j0, *cj = c + (int64_t)j * n + j0;
      if (finite && !neg_zero32(ci) && !neg_zero32(cj))
        pair_panel(pl->ucol + pl->uptr[q], pl->uval + 2 * (int64_t)pl->uptr[q], pl->uptr[q + 1] - pl->uptr[q], panel, ci, cj);
      else {
        row_panel(col + row_ptr[i], val + row_ptr[i], row_ptr[i + 1] - row_ptr[i], panel, PANEL, ci);
        row_panel(col + row_ptr[j], val + row_ptr[j], row_ptr[j + 1] - row_ptr[j], panel, PANEL, cj);
      }
    }
    for (int s = s0; s < s1; s++) {
      const int i = pl->rows[2 * pl->np + s];
      row_panel(col + row_ptr[i], val + row_ptr[i], row_ptr[i + 1] - row_ptr[i], panel, PANEL, c + (int64_t)i * n + j0);
    }
  }
  if (j0 < n)
    for (int r = 2 * p0; r < 2 * p1 + (s1 - s0); r++) row_alone(owned_row(pl, p1, s0, r), n, k, row_ptr, col, val, b, c, j0);
}
#endif

#ifdef XBAR_X86
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

/* Which kernels a call runs: chosen once per call, so that every thread takes the same path and a
 * plan goes only to the path that uses it. XBAR_NO_AVX512 and XBAR_NO_AVX2 pick the narrower
 * paths (their tests). */
enum spmm_path { SPMM_PLAIN, SPMM_AVX2, SPMM_AVX512 };

static enum spmm_path spmm_path(void) {
#ifdef XBAR_X86
  if (__builtin_cpu_supports("avx512f") && !getenv("XBAR_NO_AVX512") && !getenv("XBAR_NO_AVX2")) return SPMM_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !getenv("XBAR_NO_AVX2")) return SPMM_AVX2;
#endif
  return SPMM_PLAIN;
}

struct spmm_job {
  int m, n, k;
  const int *row_ptr, *col;
  const float *val, *b;
  float *c;
  enum spmm_path path;
  /* With a plan (AVX2 path only): its pairs [p0, p1) and single rows [s0, s1), rows indexed from the
   * matrix's first; m, row_ptr and c are then the whole matrix's. */
  const struct xbar_spmm_pairs *pairs;
  int p0, p1, s0, s1;
};

static void *spmm_run(void *arg) {
  const struct spmm_job *j = arg;
#ifdef XBAR_X86
  if (j->path == SPMM_AVX512) {
    spmm_avx512(j->m, j->n, j->k, j->row_ptr, j->col, j->val, j->b, j->c);
    return NULL;
  }
  if (j->path == SPMM_AVX2) {
    float *panel = j->pairs ? aligned_alloc(64, (size_t)j->k * PANEL * sizeof(float)) : NULL;
    if (panel)
      spmm_avx2_pairs(j->n, j->k, j->row_ptr, j->col, j->val, j->b, j->c, j->pairs, j->p0, j->p1, j->s0, j->s1, panel);
    else if (j->pairs) {
      /* No memory for the panel: the plan's rows one by one. */
      for (int r = 2 * j->p0; r < 2 * j->p1 + (j->s1 - j->s0); r++)
        row_alone(owned_row(j->pairs, j->p1, j->s0, r), j->n, j->k, j->row_ptr, j->col, j->val, j->b, j->c, 0);
    } else
      spmm_avx2(j->m, j->n, j->k, j->row_ptr, j->col, j->val, j->b, j->c, 0);
    free(panel);
    return NULL;
  }
#endif
  spmm_plain(j->m, j->n, j->row_ptr, j->col, j->val, j->b, j->c);
  return NULL;
}

void xbar_spmm(int m, int n, int k, const int *row_ptr, const int *col, const float *val, const float *b, float *c,
               int threads, const struct xbar_spmm_pairs *pairs) {
  /* Rows split between threads, at least 64 each. */
  if (threads > m / 64) threads = m / 64 > 1 ? m / 64 : 1;
  if (threads > 16) threads = 16;
  struct spmm_job jobs[16];
  pthread_t ids[16];
  int started = 0;
  /* A plan is used on the AVX2 path only (the others run rows, and would each run all of them), when
   * its panels are packed (as many nonzeros as B has rows at least, spmm_avx2's rule); the caller
   * checks it was made for this matrix's shape. */
  const enum spmm_path path = spmm_path();
  const bool planned = pairs && path == SPMM_AVX2 && n >= PANEL_COLS && row_ptr[m] - row_ptr[0] >= k && k > 0;
  for (int t = 0; t < threads; t++) {
    if (planned) {
      const int p0 = (int)((int64_t)pairs->np * t / threads), p1 = (int)((int64_t)pairs->np * (t + 1) / threads);
      const int s0 = (int)((int64_t)pairs->ns * t / threads), s1 = (int)((int64_t)pairs->ns * (t + 1) / threads);
      jobs[t] = (struct spmm_job){m, n, k, row_ptr, col, val, b, c, path, pairs, p0, p1, s0, s1};
    } else {
      const int i0 = (int)((int64_t)m * t / threads), i1 = (int)((int64_t)m * (t + 1) / threads);
      jobs[t] = (struct spmm_job){i1 - i0, n, k, row_ptr + i0, col, val, b, c + (int64_t)i0 * n, path, NULL, 0, 0, 0, 0};
    }
    if (t == threads - 1 || pthread_create(&ids[t], NULL, spmm_run, &jobs[t]) != 0) spmm_run(&jobs[t]);
    else started |= 1 << t;
  }
  for (int t = 0; t < threads; t++)
    if (started & (1 << t)) pthread_join(ids[t], NULL);
}
