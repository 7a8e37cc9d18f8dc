/* The window walk of im2col over rows (n, oy, ox) of k*k*c values (ky, kx, c): each window's
 * pixels within one kernel row are contiguous in x, so each run is one copy into cols or, for the
 * adjoint (col2im), one add back onto x in the JS loop's order (the sums agree bit for bit). Cells
 * over the padding are not touched (im2col callers reuse a zeroed buffer).
 *
 * Max pooling's windows (training keeps each maximum's index, and scatters the gradient back onto
 * it) are walked here too.
 *
 * Not split between threads: a split by images (the same bits for any thread count) was tried; on
 * the shared, oversubscribed 2-core machine LeNet-5's epochs ran at 0.62-0.86x main's speed with it
 * against 0.79-1.22x without (a thread created per call waits for a core), and its gain on a quiet
 * machine (at most ~3-5% of an epoch) could not be measured (docs/decisions.md). */
#include "windows.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

struct windows_job {
  const struct xbar_windows *g;
  float *x, *cols;
  bool adjoint;
  int n0, n1;
  /* Max pooling: its input, output and argmax (NULL for im2col and col2im). */
  const float *px;
  float *py;
  int *am;
};

static void *windows_run(void *arg) {
  const struct windows_job *j = arg;
  const struct xbar_windows *g = j->g;
  const int h = g->h, w = g->w, c = g->c, k = g->k, stride = g->stride, pad = g->pad, oh = g->oh, ow = g->ow;
  const int64_t rowLen = (int64_t)k * k * c;
  for (int n = j->n0; n < j->n1; n++) {
    float *img = j->x + (int64_t)n * h * w * c;
    int64_t r = (int64_t)n * oh * ow * rowLen;
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++, r += rowLen) {
        const int x0 = ox * stride - pad;
        const int kx0 = x0 < 0 ? -x0 : 0;
        const int kx1 = k < w - x0 ? k : w - x0;
        if (kx1 <= kx0) continue;
        const size_t len = (size_t)(kx1 - kx0) * c;
        for (int ky = 0; ky < k; ky++) {
          const int iy = oy * stride + ky - pad;
          if (iy < 0 || iy >= h) continue;
          float *px = img + ((int64_t)iy * w + x0 + kx0) * c;
          float *pc = j->cols + r + ((int64_t)ky * k + kx0) * c;
          if (j->adjoint)
            for (size_t t = 0; t < len; t++) px[t] += pc[t];
          else
            memcpy(pc, px, len * sizeof(float));
        }
      }
  }
  return NULL;
}

/* Per channel, the same comparisons in the same order as the JS kernel; channels in the inner loop,
 * contiguous, and the argmax updated by a select rather than a branch (mispredicted about half the
 * time), so that it vectorises. */
__attribute__((optimize("O3", "tree-vectorize"))) static void *pool_run(void *arg) {
  const struct windows_job *j = arg;
  const struct xbar_windows *g = j->g;
  const int h = g->h, w = g->w, c = g->c, s = g->k, stride = g->stride, oh = g->oh, ow = g->ow;
  const float *x = j->px;
  int64_t o = (int64_t)j->n0 * oh * ow * c;
  for (int n = j->n0; n < j->n1; n++) {
    const int64_t img = (int64_t)n * h * w * c;
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++, o += c) {
        const int64_t corner = img + ((int64_t)oy * stride * w + (int64_t)ox * stride) * c;
        float *restrict out = j->py + o;
        for (int ch = 0; ch < c; ch++) out[ch] = -INFINITY;
        if (j->am) {
          int *restrict at = j->am + o;
          for (int ch = 0; ch < c; ch++) at[ch] = -1;
          for (int ky = 0; ky < s; ky++)
            for (int kx = 0; kx < s; kx++) {
              const int p = (int)(corner + ((int64_t)ky * w + kx) * c);
              const float *restrict px = x + p;
              for (int ch = 0; ch < c; ch++) {
                const float v = px[ch];
                const int gt = v > out[ch];
                out[ch] = gt ? v : out[ch];
                at[ch] = gt ? p + ch : at[ch];
              }
            }
        } else
          for (int ky = 0; ky < s; ky++)
            for (int kx = 0; kx < s; kx++) {
              const float *restrict px = x + corner + ((int64_t)ky * w + kx) * c;
              for (int ch = 0; ch < c; ch++) {
                const float v = px[ch];
                out[ch] = v > out[ch] ? v : out[ch];
              }
            }
      }
  }
  return NULL;
}

/* Max pooling without the argmax (inference) for a channel count C known at compile time: each
 * pixel's C running maxima stay in registers across its window instead of going through the
 * output in memory (the loop above, with c unknown, ran at ~0.5 G inputs/s on LeNet-5's 6
 * channels, ~1 G/s with this). The same comparisons in the same order (ky, then kx; v > m ? v : m
 * from -inf), so the same bits, ties between -0 and +0 and NaNs included. */
static inline __attribute__((always_inline)) void pool_fixed(const struct windows_job *j, const int C) {
  const struct xbar_windows *g = j->g;
  const int h = g->h, w = g->w, s = g->k, stride = g->stride, oh = g->oh, ow = g->ow;
  const float *restrict x = j->px;
  float *restrict y = j->py + (int64_t)j->n0 * oh * ow * C;
  for (int n = j->n0; n < j->n1; n++) {
    const float *img = x + (int64_t)n * h * w * C;
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++, y += C) {
        const float *corner = img + ((int64_t)oy * stride * w + (int64_t)ox * stride) * C;
        float m[C];
        for (int ch = 0; ch < C; ch++) m[ch] = -INFINITY;
        for (int ky = 0; ky < s; ky++)
          for (int kx = 0; kx < s; kx++) {
            const float *px = corner + ((int64_t)ky * w + kx) * C;
            for (int ch = 0; ch < C; ch++) m[ch] = px[ch] > m[ch] ? px[ch] : m[ch];
          }
        for (int ch = 0; ch < C; ch++) y[ch] = m[ch];
      }
  }
}

#define POOL_FIXED(C) \
  __attribute__((optimize("O3", "tree-vectorize"))) static void pool_c##C(const struct windows_job *j) { pool_fixed(j, C); }
POOL_FIXED(1)
POOL_FIXED(2)
POOL_FIXED(3)
POOL_FIXED(4)
POOL_FIXED(6)
POOL_FIXED(8)
POOL_FIXED(12)
POOL_FIXED(16)
POOL_FIXED(24)
POOL_FIXED(32)

/* The inference pass: a fixed-channel loop where one exists, else the general one. */
static void *pool_infer(void *arg) {
  const struct windows_job *j = arg;
  switch (j->g->c) {
    case 1: pool_c1(j); break;
    case 2: pool_c2(j); break;
    case 3: pool_c3(j); break;
    case 4: pool_c4(j); break;
    case 6: pool_c6(j); break;
    case 8: pool_c8(j); break;
    case 12: pool_c12(j); break;
    case 16: pool_c16(j); break;
    case 24: pool_c24(j); break;
    case 32: pool_c32(j); break;
    default: pool_run(arg);
  }
  return NULL;
}

static void *pool_grad_run(void *arg) {
  const struct windows_job *j = arg;
  const struct xbar_windows *g = j->g;
  const int64_t per = (int64_t)g->oh * g->ow * g->c;
  const float *dy = j->px;
  for (int64_t o = j->n0 * per, end = j->n1 * per; o < end; o++)
    if (j->am[o] >= 0) j->py[j->am[o]] += dy[o];
  return NULL;
}

static void run_all(struct windows_job job, void *(*fn)(void *)) {
  job.n0 = 0;
  job.n1 = job.g->batch;
  fn(&job);
}

void xbar_windows(const struct xbar_windows *g, float *x, float *cols, bool adjoint) {
  run_all((struct windows_job){g, x, cols, adjoint, 0, 0, NULL, NULL, NULL}, windows_run);
}

void xbar_max_pool(const struct xbar_windows *g, const float *x, float *y, int *am) {
  run_all((struct windows_job){g, NULL, NULL, false, 0, 0, x, y, am}, am ? pool_run : pool_infer);
}

void xbar_max_pool_grad(const struct xbar_windows *g, const float *dy, const int *am, float *dx) {
  run_all((struct windows_job){g, NULL, NULL, false, 0, 0, dy, dx, (int *)am}, pool_grad_run);
}
