/*
 * A convolution's product computed from the NHWC images themselves ("direct" convolution), for
 * the small-channel networks (8 to 32 filters on 28x28 maps) where im2col + one GEMM loses: the
 * unrolled matrix of a batch is k*k times the images (225 MB for 1000 MNIST images at 8 channels),
 * so writing it and reading it back runs at memory speed, and a GEMM of 8 output columns keeps
 * OpenBLAS's kernels half empty. Here each group of up to 32 output columns of a few neighbouring
 * pixels stays in AVX registers while the weights (at most 288 x 32 floats, L1/L2-resident) and
 * the image rows stream past; groups of at most 8 filters take two output rows per pass, and
 * single-channel images put pixels rather than filters in the lanes (native/README.md says which
 * kernel takes a layer). Without AVX2 the rows go through im2col + sgemm in blocks that stay in
 * cache. Each output is the same chain of operations wherever its pixel falls in a block.
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
  int64_t yrow;        /* floats between two output rows in y (pair kernels) */
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
 * beside the R weight registers and the broadcast input (WIDTH[R]); a row of ow pixels is cut into
 * ceil(ow / WIDTH[R]) blocks of nearly equal size, so no pixel falls into a block of one, whose
 * single chain of dependent FMAs would run at a fifth of the kernel's speed. */
#define ROW_1(M) M(1, 1) M(1, 2) M(1, 3) M(1, 4) M(1, 5) M(1, 6) M(1, 7) M(1, 8)
#define ROW_2(M) M(2, 1) M(2, 2) M(2, 3) M(2, 4) M(2, 5) M(2, 6)
#define ROW_3(M) M(3, 1) M(3, 2) M(3, 3) M(3, 4)
#define ROW_4(M) M(4, 1) M(4, 2)
#define DEFINE(R, P) DEFINE_BLOCK(R, P)
ROW_1(DEFINE) ROW_2(DEFINE) ROW_3(DEFINE) ROW_4(DEFINE)

/* Groups of one register (at most 8 filters) broadcast one input per FMA, and the loads, not the
 * FMAs, set their speed. Two vertically neighbouring output rows share their window rows but one:
 * window row ky of the upper row is row ky - 1 of the lower one, so each broadcast input feeds both
 * rows, with weight rows ky and ky - 1 in two registers (k + 1 image rows for 2 output rows: about
 * (k + 1) / 2k of the broadcasts). Each output still sums its window rows in increasing order and
 * each row's inputs in order, as block_1_P does: the same bits. Only for output rows whose windows
 * lie whole inside the image vertically, on padded images (whole window rows horizontally). */
__attribute__((target("avx2,fma"))) static inline void store_one(const struct block *b, __m256 acc, float *yp,
                                                                   const float *ap) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(b->last), lane);
  const bool full = b->last == 8;
  __m256 v = _mm256_add_ps(acc, _mm256_loadu_ps(b->bp));
  if (ap) v = _mm256_add_ps(v, full ? _mm256_loadu_ps(ap) : _mm256_maskload_ps(ap, mask));
  if (b->clamp) v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(b->lo)), _mm256_set1_ps(b->hi));
  if (full) _mm256_storeu_ps(yp, v);
  else _mm256_maskstore_ps(yp, mask, v);
}

#define PAIR_ROW(P, UPPER, LOWER)                                                              \
  for (int t = 0; t < b->run; t++) {                                                           \
    const __m256 w0 = UPPER ? _mm256_loadu_ps(w0r + 8 * t) : _mm256_setzero_ps();               \
    const __m256 w1 = LOWER ? _mm256_loadu_ps(w1r + 8 * t) : _mm256_setzero_ps();               \
    _Pragma("GCC unroll 8") for (int p = 0; p < P; p++) {                                        \
      const __m256 xv = _mm256_broadcast_ss(xr + t + p * b->sx);                                 \
      if (UPPER) a0[p] = _mm256_fmadd_ps(xv, w0, a0[p]);                                         \
      if (LOWER) a1[p] = _mm256_fmadd_ps(xv, w1, a1[p]);                                         \
    }                                                                                            \
  }

#define DEFINE_PAIR(P)                                                                                    \
  __attribute__((target("avx2,fma"), optimize("O3"))) static void pair_##P(const struct block *b) {      \
    __m256 a0[P], a1[P];                                                                                  \
    _Pragma("GCC unroll 8") for (int p = 0; p < P; p++) a0[p] = a1[p] = _mm256_setzero_ps();            \
    for (int r = 0; r <= b->nky; r++) {                                                                   \
      const float *xr = b->x + (int64_t)r * b->xrow;                                                      \
      const float *w0r = b->wp + (int64_t)r * b->wrow, *w1r = r ? w0r - b->wrow : w0r;                    \
      if (r == 0) PAIR_ROW(P, 1, 0)                                                                          \
      else if (r == b->nky) PAIR_ROW(P, 0, 1)                                                                \
      else PAIR_ROW(P, 1, 1)                                                                                 \
    }                                                                                                     \
    _Pragma("GCC unroll 8") for (int p = 0; p < P; p++) {                                                \
      store_one(b, a0[p], b->y + (int64_t)p * b->ldy, b->add ? b->add + (int64_t)p * b->ldy : NULL);      \
      store_one(b, a1[p], b->y + b->yrow + (int64_t)p * b->ldy,                                           \
                b->add ? b->add + b->yrow + (int64_t)p * b->ldy : NULL);                                  \
    }                                                                                                     \
  }
#define PAIRS(M) M(1) M(2) M(3) M(4) M(5) M(6)
PAIRS(DEFINE_PAIR)

/* Single-channel images (MNIST's first layer) with at most 8 filters: a window row is k floats and
 * at most 8 of a register's lanes hold filters, so the kernels above broadcast one input per FMA with
 * lanes to spare. Here the lanes hold 8 neighbouring pixels instead (stride 1: their inputs are 8
 * consecutive floats of a padded image row) and each filter's weight is broadcast once for V
 * vectors of pixels: n * V accumulators, every lane used. Each output sums its window rows in
 * order and each row's k inputs in order with one FMA per term, as the kernels above do: the same
 * bits. The bias and clamp are applied per lane as there, then transposes turn the filter-major
 * registers into pixel rows. */
struct pix {
  const float *x;  /* padded image at the first window row's column of the block's first pixel */
  const float *w;  /* weight row of that window row: [k][n] per window row */
  const float *bias;
  float *y;        /* output of the block's first pixel */
  const float *add;
  float lo, hi;
  bool clamp;
  int nky, k, xrow, n, count; /* window rows; window width; floats between image rows; filters; pixels (<= 8V) */
};

/* The first k (0..4) floats of v at y. */
__attribute__((target("avx2,fma"))) static inline void store_first(float *y, __m128 v, int k) {
  if (k >= 4) _mm_storeu_ps(y, v);
  else if (k >= 2) {
    _mm_storel_pi((__m64 *)y, v);
    if (k == 3) _mm_store_ss(y + 2, _mm_movehl_ps(v, v));
  } else if (k == 1)
    _mm_store_ss(y, v);
}

/* Pixels p0.. of one vector: acc[o] holds filter o of 8 pixels. With an addition to make, the
 * pixels are finished one value at a time in the same order of operations (sum, bias, addition,
 * clamp); without, in the registers, then turned into pixel rows by 4 x 4 transposes of 128-bit
 * halves (one-uop shuffles on AVX2 machines that split 256-bit registers, where the 8 x 8
 * transpose's cross-half permutes cost 8 uops each) and stored n floats per pixel. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void pix_store(const struct pix *b,
                                                                                                 __m256 acc[8], int p0,
                                                                                                 const int n) {
  const int m = b->count - p0 < 8 ? b->count - p0 : 8;
  if (b->add) {
    float v[8][8];
    for (int o = 0; o < n; o++) _mm256_storeu_ps(v[o], acc[o]);
    for (int p = 0; p < m; p++)
      for (int o = 0; o < n; o++) {
        const int64_t at = (int64_t)(p0 + p) * n + o;
        float u = v[o][p] + b->bias[o];
        u = u + b->add[at];
        if (b->clamp) {
          u = u > b->lo ? u : b->lo;
          u = u < b->hi ? u : b->hi;
        }
        b->y[at] = u;
      }
    return;
  }
  const __m256 lo = _mm256_set1_ps(b->lo), hi = _mm256_set1_ps(b->hi);
  __m256 r[8];
  for (int o = 0; o < 8; o++) {
    if (o >= n) {
      r[o] = _mm256_setzero_ps();
      continue;
    }
    __m256 v = _mm256_add_ps(acc[o], _mm256_set1_ps(b->bias[o]));
    if (b->clamp) v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    r[o] = v;
  }
  for (int half = 0; half < 2 && 4 * half < m; half++) {
    __m128 q[8];
    for (int o = 0; o < 8; o++) q[o] = half ? _mm256_extractf128_ps(r[o], 1) : _mm256_castps256_ps128(r[o]);
    _MM_TRANSPOSE4_PS(q[0], q[1], q[2], q[3]); /* q[p]: filters 0-3 of pixel 4 half + p */
    if (n > 4) _MM_TRANSPOSE4_PS(q[4], q[5], q[6], q[7]); /* q[4 + p]: filters 4-7 */
    for (int p = 0; p < 4 && 4 * half + p < m; p++) {
      float *yp = b->y + (int64_t)(p0 + 4 * half + p) * n;
      store_first(yp, q[p], n);
      if (n > 4) store_first(yp + 4, q[4 + p], n - 4);
    }
  }
}

#define DEFINE_PIX(N, V)                                                                                  \
  __attribute__((target("avx2,fma"), optimize("O3"))) static void pix_##N(const struct pix *b) {         \
    __m256 acc[V][N];                                                                                     \
    _Pragma("GCC unroll 4") for (int v = 0; v < V; v++)                                                   \
      _Pragma("GCC unroll 8") for (int o = 0; o < N; o++) acc[v][o] = _mm256_setzero_ps();                \
    for (int ky = 0; ky < b->nky; ky++) {                                                                 \
      const float *xr = b->x + (int64_t)ky * b->xrow, *wr = b->w + (int64_t)ky * b->k * N;                \
      for (int kx = 0; kx < b->k; kx++, wr += N) {                                                        \
        __m256 xv[V];                                                                                     \
        _Pragma("GCC unroll 4") for (int v = 0; v < V; v++) xv[v] = _mm256_loadu_ps(xr + kx + 8 * v);     \
        _Pragma("GCC unroll 8") for (int o = 0; o < N; o++) {                                             \
          const __m256 wv = _mm256_broadcast_ss(wr + o);                                                  \
          _Pragma("GCC unroll 4") for (int v = 0; v < V; v++) acc[v][o] = _mm256_fmadd_ps(xv[v], wv, acc[v][o]); \
        }                                                                                                 \
      }                                                                                                   \
    }                                                                                                     \
    /* A copy: handing acc's own address out would keep it in memory through the loops. */              \
    _Pragma("GCC unroll 4") for (int v = 0; v < V; v++) {                                                 \
      if (8 * v >= b->count) break;                                                                       \
      __m256 out[8];                                                                                      \
      _Pragma("GCC unroll 8") for (int o = 0; o < N; o++) out[o] = acc[v][o];                            \
      pix_store(b, out, 8 * v, N);                                                                        \
    }                                                                                                     \
  }
/* V vectors of pixels for n filters: n * V accumulators within the 16 registers (with V inputs and
 * the broadcast weight). */
#define PIXES(M) M(1, 3) M(2, 3) M(3, 3) M(4, 3) M(5, 2) M(6, 2) M(7, 1) M(8, 1)
PIXES(DEFINE_PIX)
typedef void (*pix_fn)(const struct pix *);
#define PIX_NAME(N, V) pix_##N,
static const pix_fn PIX[9] = {NULL, PIXES(PIX_NAME)};
#define PIX_V(N, V) V,
static const int PIX_VECTORS[9] = {0, PIXES(PIX_V)};

typedef void (*block_fn)(const struct block *);
#define NAME(R, P) block_##R##_##P,
static const block_fn BLOCK1[] = {NULL, ROW_1(NAME)};
static const block_fn BLOCK2[] = {NULL, ROW_2(NAME)};
static const block_fn BLOCK3[] = {NULL, ROW_3(NAME)};
static const block_fn BLOCK4[] = {NULL, ROW_4(NAME)};
static const block_fn *const BLOCKS[5] = {NULL, BLOCK1, BLOCK2, BLOCK3, BLOCK4};
static const int WIDTH[5] = {0, 8, 6, 4, 2};
#define PAIR_NAME(P) pair_##P,
static const block_fn PAIR[] = {NULL, PAIRS(PAIR_NAME)};
#define PAIR_WIDTH 6

/* One output row's pixels [ox0, ox1), all with whole window rows, in blocks of nearly equal size
 * (the first (count mod blocks) get one pixel more). x is the window's first row in the image (or
 * the padded image), whose column ox * s + shift is pixel ox's first input. */
static void run_row(struct block *b, block_fn const *fns, int width, const float *x, int shift, int s, int c, int ox0,
                    int ox1, float *y, const float *add) {
  const int count = ox1 - ox0, blocks = (count + width - 1) / width;
  for (int bi = 0, ox = ox0; bi < blocks; bi++) {
    const int P = count / blocks + (bi < count % blocks);
    b->x = x + ((int64_t)ox * s + shift) * c;
    b->y = y + (int64_t)ox * b->ldy;
    b->add = add ? add + (int64_t)ox * b->ldy : NULL;
    fns[P](b);
    ox += P;
  }
}

/* Edge pixels, whose windows stick out of the image on the left or right, either run alone with
 * their window rows cut to the image (no wasted FMA), or from a copy of the image with `pad` zero
 * columns on each side, so that every pixel's window rows are whole and the row is cut into blocks
 * as the interior is. The zeros add +-0 to a sum that starts at +0 and so cannot be -0: the sum is
 * the same bit for bit as long as the weights are finite (an infinite weight facing the padding
 * gives NaN, as im2col + sgemm does). Measured on the ResNet's and LeNet-5's shapes (Zen 1), the
 * copy pays for groups of one register (at most 8 filters: +30% on 8 filters at 28x28 with the row
 * pairs) and costs about what it saves for wider groups, whose lone edge pixels overlap with the
 * next block's work; hence the choice. Window rows above and below the image are skipped. */
static void run_avx2(struct conv_job *j) {
  const struct xbar_conv *g = j->g;
  const int c = g->c, k = g->k, s = g->stride, n = g->n, pad = g->pad, wpad = g->w + 2 * pad;
  const int64_t img = (int64_t)g->h * g->w * c;
  const int groups = (n + GROUP - 1) / GROUP;
  /* The interior: pixels whose windows lie inside the image horizontally. */
  int in0 = (pad + s - 1) / s, in1 = g->w + pad - k >= 0 ? (g->w + pad - k) / s + 1 : 0;
  if (in1 > g->ow) in1 = g->ow;
  if (in0 > in1) in0 = in1;
  /* Output rows [v0, v1) have whole windows vertically; with stride 1, groups of one register take
   * rows [v0, p1) two at a time (pair kernels), an odd last one alone. */
  const int v0 = (pad + s - 1) / s, v1 = g->h + pad - k >= 0 ? (g->h + pad - k) / s + 1 : 0;
  const int p1 = s == 1 && v1 > v0 ? v0 + (v1 - v0) / 2 * 2 : v0;
  /* Only the last group can be a group of one register. */
  const bool last_one = n - (groups - 1) * GROUP <= 8;
  float *padded = NULL;
  if (last_one && (in0 > 0 || in1 < g->ow)) {
    padded = calloc((size_t)g->h * wpad * c, sizeof(float));
    if (!padded) {
      j->failed = true;
      return;
    }
  }
  for (int im = j->n0; im < j->n1; im++) {
    const float *xi = j->x + im * img;
    if (padded)
      for (int r = 0; r < g->h; r++)
        memcpy(padded + ((int64_t)r * wpad + pad) * c, xi + (int64_t)r * g->w * c, sizeof(float) * g->w * c);
    for (int oy = 0; oy < g->oh; oy++) {
      const int iy = oy * s - pad, ky0 = iy < 0 ? -iy : 0, ky1 = k < g->h - iy ? k : g->h - iy;
      float *yrow = j->y + ((int64_t)im * g->oh + oy) * g->ow * n;
      const float *arow = j->add ? j->add + ((int64_t)im * g->oh + oy) * g->ow * n : NULL;
      for (int gi = 0; gi < groups; gi++) {
        const int c0 = gi * GROUP, gw = n - c0 < GROUP ? n - c0 : GROUP, R = (gw + 7) / 8, ld = R * 8;
        struct block b = {.wp = j->wp[gi] + (int64_t)ky0 * k * c * ld,
                          .bp = j->bp[gi],
                          .lo = j->lo,
                          .hi = j->hi,
                          .clamp = j->lo > -INFINITY || j->hi < INFINITY,
                          .nky = ky1 > ky0 ? ky1 - ky0 : 0,
                          .run = k * c,
                          .xrow = g->w * c,
                          .wrow = k * c * ld,
                          .sx = s * c,
                          .ldy = n,
                          .last = gw - (R - 1) * 8};
        float *y = yrow + c0;
        const float *add = arow ? arow + c0 : NULL;
        if (R == 1) {
          /* Whole window rows horizontally: from the padded copy, or from the image when no pixel
           * has an edge (then padded is NULL). */
          const int cols = padded ? wpad : g->w, shift = padded ? 0 : -pad;
          const float *xr = (padded ? padded : xi) + (int64_t)(iy + ky0) * cols * c;
          b.xrow = cols * c;
          if (oy < v0 || oy >= p1) {
            run_row(&b, BLOCKS[R], WIDTH[R], xr, shift, s, c, 0, g->ow, y, add);
          } else if ((oy - v0) % 2 == 0) {
            /* The pair's second row is written with this one. */
            b.yrow = (int64_t)g->ow * n;
            run_row(&b, PAIR, PAIR_WIDTH, xr, shift, s, c, 0, g->ow, y, add);
          }
          continue;
        }
        const float *xr = xi + (int64_t)(iy + ky0) * g->w * c;
        run_row(&b, BLOCKS[R], WIDTH[R], xr, -pad, s, c, in0, in1, y, add);
        for (int side = 0; side < 2; side++)
          for (int ox = side ? in1 : 0; ox < (side ? g->ow : in0); ox++) {
          const int ix = ox * s - pad, kx0 = ix < 0 ? -ix : 0, kx1 = k < g->w - ix ? k : g->w - ix;
          struct block e = b;
          e.x = xr + (int64_t)(ix + kx0) * c;
          e.wp = b.wp + (int64_t)kx0 * c * ld;
          e.run = kx1 > kx0 ? (kx1 - kx0) * c : 0;
          e.y = y + (int64_t)ox * n;
          e.add = add ? add + (int64_t)ox * n : NULL;
          BLOCKS[R][1](&e);
        }
      }
    }
  }
  free(padded);
}

/* Single-channel images, stride 1, at most 8 filters (pix kernels): per image a zero-padded copy
 * (whole window rows; slack after the last row for the vectors that read past a row's end, whose
 * lanes are not stored), per output row blocks of 8V pixels. */
static void run_pix(struct conv_job *j) {
  const struct xbar_conv *g = j->g;
  const int k = g->k, n = g->n, pad = g->pad, wpad = g->w + 2 * pad, V = PIX_VECTORS[n];
  float *padded = calloc((size_t)g->h * wpad + 8 * V + k, sizeof(float));
  if (!padded) {
    j->failed = true;
    return;
  }
  for (int im = j->n0; im < j->n1; im++) {
    const float *xi = j->x + (int64_t)im * g->h * g->w;
    for (int r = 0; r < g->h; r++) memcpy(padded + (int64_t)r * wpad + pad, xi + (int64_t)r * g->w, sizeof(float) * g->w);
    for (int oy = 0; oy < g->oh; oy++) {
      const int iy = oy - pad, ky0 = iy < 0 ? -iy : 0, ky1 = k < g->h - iy ? k : g->h - iy;
      const int64_t row = ((int64_t)im * g->oh + oy) * g->ow * n;
      for (int ox = 0; ox < g->ow; ox += 8 * V) {
        const int count = g->ow - ox < 8 * V ? g->ow - ox : 8 * V;
        const struct pix b = {.x = padded + (int64_t)(iy + ky0) * wpad + ox,
                              .w = j->w + (int64_t)ky0 * k * n,
                              .bias = j->bias,
                              .y = j->y + row + (int64_t)ox * n,
                              .add = j->add ? j->add + row + (int64_t)ox * n : NULL,
                              .lo = j->lo,
                              .hi = j->hi,
                              .clamp = j->lo > -INFINITY || j->hi < INFINITY,
                              .nky = ky1 > ky0 ? ky1 - ky0 : 0,
                              .k = k,
                              .xrow = wpad,
                              .n = n,
                              .count = count};
        PIX[n](&b);
      }
    }
  }
  free(padded);
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
  if (j->avx2 && j->g->c == 1 && j->g->stride == 1 && j->g->n <= 8) {
    run_pix(j);
    return NULL;
  }
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
