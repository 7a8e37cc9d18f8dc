/* Per-channel passes of training that ran as JS loops: a layer's bias gradient (a column sum), a
 * ReLU's gradient, and the per-channel affine of a CorrectNet compensation module with its
 * gradients. Each computes in the JS loop's precision and order (double where JS computes in
 * double, a float store after each addition), so the native and JS kernels give the same bits.
 * No FMA: this file is built without -mfma and with fp-contract off, so a*b + c rounds twice as in
 * JS. Channels are the inner loop over contiguous floats, which GCC vectorises. */
#include "channels.h"

#define NOCONTRACT __attribute__((optimize("O3", "tree-vectorize", "fp-contract=off")))

NOCONTRACT void xbar_column_sums(const float *restrict x, int64_t rows, int64_t c, float *restrict out) {
  for (int64_t i = 0; i < rows; i++) {
    const float *restrict row = x + i * c;
    for (int64_t j = 0; j < c; j++) out[j] += row[j];
  }
}

/* Global average pooling: per image, each channel's sum over the pixels in order, in double, then
 * divided in double and rounded once (the JS loop's operations). Channels go 64 at a time so the
 * sums live in a stack array, each channel's additions still in pixel order. */
NOCONTRACT void xbar_channel_means(const float *restrict x, int64_t images, int64_t pixels, int64_t c, float *restrict y) {
  double acc[64];
  for (int64_t n = 0; n < images; n++)
    for (int64_t c0 = 0; c0 < c; c0 += 64) {
      const int64_t cc = c - c0 < 64 ? c - c0 : 64;
      for (int64_t ch = 0; ch < cc; ch++) acc[ch] = 0;
      for (int64_t p = 0; p < pixels; p++) {
        const float *restrict row = x + (n * pixels + p) * c + c0;
        for (int64_t ch = 0; ch < cc; ch++) acc[ch] += row[ch];
      }
      for (int64_t ch = 0; ch < cc; ch++) y[n * c + c0 + ch] = (float)(acc[ch] / (double)pixels);
    }
}

/* The gradient's bits and'ed with a mask of x > 0 (all ones or zero): a select written as a branch
 * compiles to one here, mispredicted about half the time on activations. */
typedef uint32_t __attribute__((may_alias)) bits32;

NOCONTRACT void xbar_relu_grad(const float *restrict x, const float *restrict dy, float *restrict dx, int64_t n) {
  const bits32 *restrict g = (const bits32 *)dy;
  bits32 *restrict out = (bits32 *)dx;
  for (int64_t i = 0; i < n; i++) out[i] = g[i] & -(uint32_t)(x[i] > 0.0f);
}

NOCONTRACT void xbar_relu_in_place(float *restrict y, int64_t n) {
  bits32 *restrict b = (bits32 *)y;
  for (int64_t i = 0; i < n; i++) b[i] &= -(uint32_t)!(y[i] < 0.0f);
}

NOCONTRACT void xbar_relu_grad_in_place(const float *restrict x, float *restrict dy, int64_t n) {
  bits32 *restrict g = (bits32 *)dy;
  for (int64_t i = 0; i < n; i++) g[i] &= -(uint32_t)!(x[i] <= 0.0f);
}

NOCONTRACT void xbar_add_into(float *restrict y, const float *restrict x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

NOCONTRACT void xbar_channel_affine(const float *restrict x, const float *restrict scale, const float *restrict shift,
                                    float *restrict y, int64_t n, int64_t c) {
  for (int64_t i = 0; i + c <= n; i += c)
    for (int64_t ch = 0; ch < c; ch++)
      y[i + ch] = (float)((double)x[i + ch] * (1.0 + (double)scale[ch]) + (double)shift[ch]);
}

NOCONTRACT void xbar_channel_affine_grad(const float *restrict x, const float *restrict dy, const float *restrict scale,
                                         float *restrict g_scale, float *restrict g_shift, float *restrict dx, int64_t n,
                                         int64_t c) {
  for (int64_t i = 0; i + c <= n; i += c)
    for (int64_t ch = 0; ch < c; ch++) {
      const double g = dy[i + ch];
      g_scale[ch] = (float)((double)g_scale[ch] + g * (double)x[i + ch]);
      g_shift[ch] = (float)((double)g_shift[ch] + g);
    }
  if (dx)
    for (int64_t i = 0; i + c <= n; i += c)
      for (int64_t ch = 0; ch < c; ch++) dx[i + ch] = (float)((double)dy[i + ch] * (1.0 + (double)scale[ch]));
}
