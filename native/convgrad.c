/* The input gradient of a convolution whose weights are frozen (per-chip calibration trains
 * modules through a chip's fixed layers), without the unrolled gradient rows dy W^T that a GEMM
 * and col2im would write and read back: each output pixel's row v = dy W^T is formed in a small
 * buffer and added onto its window at once. The gradient reaching a layer that feeds max pooling
 * and a ReLU is mostly exact zeros (pooling passes one of k*k values), and those filters are
 * skipped: about a quarter of the GEMM's work remains (LeNet-5's second convolution).
 *
 * The same bits as the JS kernel (src/core/kernels-js.ts, convInputGrad): no FMA (fp-contract
 * off, no -mfma), one float rounding per product and per addition, sums in filter order. */
#include "convgrad.h"

#include <stdlib.h>
#include <string.h>

#define NOCONTRACT __attribute__((optimize("O3", "tree-vectorize", "fp-contract=off")))

typedef float v4 __attribute__((vector_size(16)));

/* Row v[0..n4*4) = the sum over the nz nonzero filters of a[t] * wt[idx[t]] in order, from +0: the
 * row in blocks of 32 floats held in registers across the filters (8 accumulators), so each
 * weight is loaded once and v stored once. n4 counts 4-float groups (rows padded with zeros). */
static NOCONTRACT void pixel_row(int64_t n4, int nz, const float *restrict a, const int *restrict idx, const v4 *restrict wt,
                                 int64_t stride4, v4 *restrict v) {
  int64_t j = 0;
  for (; j + 8 <= n4; j += 8) {
    v4 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, s4 = {0}, s5 = {0}, s6 = {0}, s7 = {0};
    for (int t = 0; t < nz; t++) {
      const v4 *restrict w = wt + idx[t] * stride4 + j;
      const v4 b = {a[t], a[t], a[t], a[t]};
      s0 += b * w[0];
      s1 += b * w[1];
      s2 += b * w[2];
      s3 += b * w[3];
      s4 += b * w[4];
      s5 += b * w[5];
      s6 += b * w[6];
      s7 += b * w[7];
    }
    v[j] = s0;
    v[j + 1] = s1;
    v[j + 2] = s2;
    v[j + 3] = s3;
    v[j + 4] = s4;
    v[j + 5] = s5;
    v[j + 6] = s6;
    v[j + 7] = s7;
  }
  for (; j < n4; j++) {
    v4 s = {0};
    for (int t = 0; t < nz; t++) {
      const v4 b = {a[t], a[t], a[t], a[t]};
      s += b * wt[idx[t] * stride4 + j];
    }
    v[j] = s;
  }
}

NOCONTRACT int xbar_conv_input_grad(const struct xbar_windows *g, int f, const float *restrict dy, const float *restrict w,
                                    float *restrict dx) {
  const int64_t c = g->c, k = g->k, rowLen = k * k * c, n4 = (rowLen + 3) / 4;
  /* The weights by filter (wt[ff] = column ff of w, contiguous, padded with zeros to whole v4s),
   * one pixel's row v, and its nonzero gradients (values a, filters idx). */
  v4 *wt = aligned_alloc(16, sizeof(v4) * (size_t)(n4 * f + n4));
  float *a = malloc(sizeof(float) * (size_t)f);
  int *idx = malloc(sizeof(int) * (size_t)f);
  if (!wt || !a || !idx) {
    free(wt);
    free(a);
    free(idx);
    return -1;
  }
  v4 *vv = wt + n4 * f;
  float *wf = (float *)wt, *v = (float *)vv;
  memset(wt, 0, sizeof(v4) * (size_t)(n4 * f));
  for (int64_t j = 0; j < rowLen; j++)
    for (int ff = 0; ff < f; ff++) wf[ff * n4 * 4 + j] = w[j * f + ff];
  memset(dx, 0, sizeof(float) * (size_t)((int64_t)g->batch * g->h * g->w * c));
  const float *d = dy;
  for (int64_t n = 0; n < g->batch; n++) {
    float *img = dx + n * g->h * g->w * c;
    for (int64_t oy = 0; oy < g->oh; oy++)
      for (int64_t ox = 0; ox < g->ow; ox++, d += f) {
        int nz = 0;
        for (int ff = 0; ff < f; ff++)
          if (d[ff] != 0.0f) {
            a[nz] = d[ff];
            idx[nz++] = ff;
          }
        /* v = +0 everywhere: adding it changes no value of dx (never -0, as it starts at +0). */
        if (!nz) continue;
        pixel_row(n4, nz, a, idx, wt, n4, vv);
        /* col2im's walk: within one kernel row the window's pixels in bounds are contiguous. */
        const int64_t x0 = ox * g->stride - g->pad;
        const int64_t kx0 = x0 < 0 ? -x0 : 0, kx1 = k < g->w - x0 ? k : g->w - x0;
        if (kx1 <= kx0) continue;
        const int64_t len = (kx1 - kx0) * c;
        for (int64_t ky = 0; ky < k; ky++) {
          const int64_t iy = oy * g->stride + ky - g->pad;
          if (iy < 0 || iy >= g->h) continue;
          float *dst = img + (iy * g->w + x0 + kx0) * c;
          const float *src = v + (ky * k + kx0) * c;
          for (int64_t i = 0; i < len; i++) dst[i] += src[i];
        }
      }
  }
  free(wt);
  free(a);
  free(idx);
  return 0;
}
