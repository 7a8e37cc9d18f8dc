/*
 * A convolution's product computed from the NHWC images themselves ("direct" convolution), for
 * the small-channel networks (8 to 32 filters on 28x28 maps) where im2col + one GEMM loses: the
 * unrolled matrix of a batch is k*k times the images (225 MB for 1000 MNIST images at 8 channels),
 * so writing it and reading it back runs at memory speed, and a GEMM of 8 output columns keeps
 * OpenBLAS's kernels half empty. Here each group of up to 32 output columns of a few neighbouring
 * pixels stays in AVX registers while the weights (at most 288 x 32 floats, L1/L2-resident) and
 * the image rows stream past. Without AVX2 the rows go through im2col + sgemm in blocks that stay
 * in cache. Each output is the same chain of operations wherever its pixel falls in a block.
 */
#include "conv.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define XBAR_X86 1
#endif

/* Output columns per register group: 4 AVX registers. */
#define GROUP 32

struct conv_job {
  const struct xbar_conv *g;
  const float *x, *w, *bias, *add;
  float lo, hi;
  float *y;
  int n0, n1; /* images */
  /* AVX2 path: weights and bias repacked per group, [K][regs*8] and [regs*8], zero-padded. */
  const float *const *wp;
  const float *const *bp;
  bool avx2;
  bool failed;
};

/* The window rows [ky0, ky1) and columns [kx0, kx1) of output (oy, ox) that fall inside the image. */
static inline void window(const struct xbar_conv *g, int oy, int ox, int *ky0, int *ky1, int *kx0, int *kx1) {
  const int iy = oy * g->stride - g->pad, ix = ox * g->stride - g->pad;
  *ky0 = iy < 0 ? -iy : 0;
  *ky1 = g->k < g->h - iy ? g->k : g->h - iy;
  *kx0 = ix < 0 ? -ix : 0;
  *kx1 = g->k < g->w - ix ? g->k : g->w - ix;
}

#ifdef XBAR_X86
/* One block: P output pixels (stride apart in x) by R registers of 8 columns. x points at the first
 * pixel's first in-image input (window row ky0, column kx0), wp at the packed weight row of
 * (ky0, kx0); each window row contributes nkx*c contiguous inputs and packed weight rows. */
struct block {
  const float *x, *wp, *bp, *add; /* add: NULL, or at y's offset in an array of y's layout */
  float *y;
  float lo, hi;
  bool clamp; /* lo > -inf or hi < inf: without, NaN stays NaN */
  int nky, run;        /* window rows; inputs per window row (nkx * c) */
  int xrow, wrow, sx;  /* floats between window rows in x and in wp; between the block's pixels in x */
  int ldy, last;       /* floats between the pixels in y; valid columns of the last register (1..8) */
};

#define DEFINE_BLOCK(R, P)                                                                                 \
  __attribute__((target("avx2,fma"), optimize("O3"))) static void block_##R##_##P(const struct block *b) { \
    __m256 acc[P][R];                                                                                      \
    _Pragma("GCC unroll 8") for (int p = 0; p < P; p++)                                                    \
      _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) acc[p][r] = _mm256_setzero_ps();                 \
    for (int ky = 0; ky < b->nky; ky++) {                                                                  \
      const float *xr = b->x + (int64_t)ky * b->xrow;                                                      \
      const float *wr = b->wp + (int64_t)ky * b->wrow;                                                     \
      for (int t = 0; t < b->run; t++, wr += R * 8) {                                                      \
        __m256 wv[R];                                                                                      \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) wv[r] = _mm256_loadu_ps(wr + 8 * r);           \
        _Pragma("GCC unroll 8") for (int p = 0; p < P; p++) {                                              \
          const __m256 xv = _mm256_broadcast_ss(xr + t + p * b->sx);                                       \
          _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) acc[p][r] = _mm256_fmadd_ps(xv, wv[r], acc[p][r]); \
        }                                                                                                  \
      }                                                                                                    \
    }                                                                                                      \
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);                                        \
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(b->last), lane);                             \
    const __m256 lo = _mm256_set1_ps(b->lo), hi = _mm256_set1_ps(b->hi);                                   \
    _Pragma("GCC unroll 8") for (int p = 0; p < P; p++) {                                                  \
      float *yp = b->y + (int64_t)p * b->ldy;                                                              \
      const float *ap = b->add ? b->add + (int64_t)p * b->ldy : NULL;                                      \
      _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                                                \
        const bool full = r < R - 1 || b->last == 8;                                                       \
        __m256 v = _mm256_add_ps(acc[p][r], _mm256_loadu_ps(b->bp + 8 * r));                               \
        if (ap) v = _mm256_add_ps(v, full ? _mm256_loadu_ps(ap + 8 * r) : _mm256_maskload_ps(ap + 8 * r, mask)); \
        /* max(v, lo) is v > lo ? v : lo and min(., hi) is . < hi ? . : hi, as clamp_floats. */            \
        if (b->clamp) v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);                                         \
        if (full) _mm256_storeu_ps(yp + 8 * r, v);                                                         \
        else _mm256_maskstore_ps(yp + 8 * r, mask, v);                                                     \
      }                                                                                                    \
    }                                                                                                      \
  }

/* Pixels per block for R registers: as many accumulators as the 16 AVX registers leave room for
 * beside the R weight registers and the broadcast input. */
DEFINE_BLOCK(1, 1)
DEFINE_BLOCK(1, 8)
DEFINE_BLOCK(2, 1)
DEFINE_BLOCK(2, 6)
DEFINE_BLOCK(3, 1)
DEFINE_BLOCK(3, 4)
DEFINE_BLOCK(4, 1)
DEFINE_BLOCK(4, 2)

typedef void (*block_fn)(const struct block *);
static const block_fn WIDE[5] = {NULL, block_1_8, block_2_6, block_3_4, block_4_2};
static const block_fn SINGLE[5] = {NULL, block_1_1, block_2_1, block_3_1, block_4_1};
static const int WIDTH[5] = {0, 8, 6, 4, 2};

static void run_avx2(const struct conv_job *j) {
  const struct xbar_conv *g = j->g;
  const int c = g->c, k = g->k, s = g->stride, n = g->n;
  const int64_t img = (int64_t)g->h * g->w * c;
  const int groups = (n + GROUP - 1) / GROUP;
  for (int im = j->n0; im < j->n1; im++)
    for (int oy = 0; oy < g->oh; oy++)
      for (int gi = 0; gi < groups; gi++) {
        const int c0 = gi * GROUP, gw = n - c0 < GROUP ? n - c0 : GROUP, R = (gw + 7) / 8, ld = R * 8;
        struct block b = {.bp = j->bp[gi],
                          .lo = j->lo,
                          .hi = j->hi,
                          .clamp = j->lo > -INFINITY || j->hi < INFINITY,
                          .xrow = g->w * c,
                          .wrow = k * c * ld,
                          .sx = s * c,
                          .ldy = n,
                          .last = gw - (R - 1) * 8};
        for (int ox = 0; ox < g->ow;) {
          int ky0, ky1, kx0, kx1;
          window(g, oy, ox, &ky0, &ky1, &kx0, &kx1);
          int P = 1;
          /* A block of WIDTH[R] pixels when all of them see their whole window row. */
          if (kx0 == 0 && kx1 == k && ox + WIDTH[R] <= g->ow) {
            int e0, e1, f0, f1;
            window(g, oy, ox + WIDTH[R] - 1, &e0, &e1, &f0, &f1);
            if (f0 == 0 && f1 == k) P = WIDTH[R];
          }
          const int ix = ox * s - g->pad;
          b.x = j->x + im * img + ((int64_t)(oy * s - g->pad + ky0) * g->w + ix + kx0) * c;
          b.wp = j->wp[gi] + (int64_t)(ky0 * k + kx0) * c * ld;
          const int64_t at = (((int64_t)im * g->oh + oy) * g->ow + ox) * n + c0;
          b.y = j->y + at;
          b.add = j->add ? j->add + at : NULL;
          b.nky = ky1 > ky0 ? ky1 - ky0 : 0;
          b.run = kx1 > kx0 ? (kx1 - kx0) * c : 0;
          (P == 1 ? SINGLE[R] : WIDE[R])(&b);
          ox += P;
        }
      }
}
#endif

/* Rows per im2col block of the portable path: the block and its output stay in L2. */
#define BLOCK_ROWS 256

static void run_blocked(struct conv_job *j) {
  const struct xbar_conv *g = j->g;
  const int c = g->c, k = g->k, n = g->n, K = k * k * c;
  const int64_t img = (int64_t)g->h * g->w * c, per = (int64_t)g->oh * g->ow;
  float *cols = malloc(sizeof(float) * BLOCK_ROWS * K);
  if (!cols) {
    j->failed = true;
    return;
  }
  const int64_t r0 = j->n0 * per, r1 = j->n1 * per;
  for (int64_t b0 = r0; b0 < r1; b0 += BLOCK_ROWS) {
    const int rows = (int)(r1 - b0 < BLOCK_ROWS ? r1 - b0 : BLOCK_ROWS);
    memset(cols, 0, sizeof(float) * rows * K);
    for (int i = 0; i < rows; i++) {
      const int64_t r = b0 + i, im = r / per;
      const int oy = (int)(r % per) / g->ow, ox = (int)(r % per) % g->ow;
      int ky0, ky1, kx0, kx1;
      window(g, oy, ox, &ky0, &ky1, &kx0, &kx1);
      for (int ky = ky0; ky < ky1 && kx1 > kx0; ky++)
        memcpy(cols + (int64_t)i * K + (ky * k + kx0) * c,
               j->x + im * img + ((int64_t)(oy * g->stride - g->pad + ky) * g->w + ox * g->stride - g->pad + kx0) * c,
               sizeof(float) * (kx1 - kx0) * c);
    }
    float *y = j->y + b0 * n;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, n, K, 1, cols, K, j->w, n, 0, y, n);
    const float *add = j->add ? j->add + b0 * n : NULL;
    for (int i = 0; i < rows; i++)
      for (int o = 0; o < n; o++) {
        float v = y[(int64_t)i * n + o] + j->bias[o];
        if (add) v += add[(int64_t)i * n + o];
        if (j->lo > -INFINITY || j->hi < INFINITY) {
          v = v > j->lo ? v : j->lo;
          v = v < j->hi ? v : j->hi;
        }
        y[(int64_t)i * n + o] = v;
      }
  }
  free(cols);
}

static void *conv_run(void *arg) {
  struct conv_job *j = arg;
#ifdef XBAR_X86
  if (j->avx2) {
    run_avx2(j);
    return NULL;
  }
#endif
  run_blocked(j);
  return NULL;
}

int xbar_conv2d(const struct xbar_conv *g, const float *x, const float *w, const float *bias, const float *add,
                float lo, float hi, float *y, int threads) {
  const int groups = (g->n + GROUP - 1) / GROUP, K = g->k * g->k * g->c;
  bool avx2 = false;
#ifdef XBAR_X86
  /* XBAR_NO_AVX2 picks the portable path (its tests). */
  avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !getenv("XBAR_NO_AVX2");
#endif
  /* Packed per group: [K][regs * 8] weights and [regs * 8] bias, zero beyond the group's columns. */
  float **wp = NULL, **bp = NULL;
  if (avx2) {
    wp = calloc(groups, sizeof *wp);
    bp = calloc(groups, sizeof *bp);
    bool ok = wp && bp;
    for (int gi = 0; ok && gi < groups; gi++) {
      const int c0 = gi * GROUP, gw = g->n - c0 < GROUP ? g->n - c0 : GROUP, ld = (gw + 7) / 8 * 8;
      wp[gi] = calloc((size_t)K * ld, sizeof(float));
      bp[gi] = calloc(ld, sizeof(float));
      ok = wp[gi] && bp[gi];
      if (!ok) break;
      for (int r = 0; r < K; r++) memcpy(wp[gi] + (int64_t)r * ld, w + (int64_t)r * g->n + c0, sizeof(float) * gw);
      memcpy(bp[gi], bias + c0, sizeof(float) * gw);
    }
    if (!ok) {
      for (int gi = 0; wp && bp && gi < groups; gi++) free(wp[gi]), free(bp[gi]);
      free(wp), free(bp);
      return -1;
    }
  }
  if (threads > g->batch) threads = g->batch > 1 ? g->batch : 1;
  if (threads > 16) threads = 16;
  struct conv_job jobs[16];
  pthread_t ids[16];
  int started = 0;
  for (int t = 0; t < threads; t++) {
    jobs[t] = (struct conv_job){g, x, w, bias, add, lo, hi, y, (int)((int64_t)g->batch * t / threads),
                                (int)((int64_t)g->batch * (t + 1) / threads), (const float *const *)wp,
                                (const float *const *)bp, avx2, false};
    if (t == threads - 1 || pthread_create(&ids[t], NULL, conv_run, &jobs[t]) != 0) conv_run(&jobs[t]);
    else started |= 1 << t;
  }
  bool failed = false;
  for (int t = 0; t < threads; t++) {
    if (started & (1 << t)) pthread_join(ids[t], NULL);
    failed |= jobs[t].failed;
  }
  if (avx2) {
    for (int gi = 0; gi < groups; gi++) free(wp[gi]), free(bp[gi]);
    free(wp), free(bp);
  }
  return failed ? -1 : 0;
}
