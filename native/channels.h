/* Per-channel passes of training (native/channels.c), for xbar_blas.c: each gives the bits of the
 * JS loop it replaces (src/core/kernels-js.ts), which rounds to float at every store. */
#ifndef XBAR_CHANNELS_H
#define XBAR_CHANNELS_H
#include <stdint.h>

/* out[j] += x[i*c + j] for rows i = 0..rows-1 in order, rounded to float after each addition
 * (a dense or convolution layer's bias gradient). */
void xbar_column_sums(const float *x, int64_t rows, int64_t c, float *out);

/* y[n*c + ch] = (float)(sum over p of (double)x[(n*pixels + p)*c + ch], in p order, / pixels)
 * (global average pooling of NHWC images). */
void xbar_channel_means(const float *x, int64_t images, int64_t pixels, int64_t c, float *y);

/* dx[i] = x[i] > 0 ? dy[i] : +0 (a ReLU's gradient; a NaN x gives 0). */
void xbar_relu_grad(const float *x, const float *dy, float *dx, int64_t n);

/* y[i] = (float)((double)x[i] * (1 + (double)scale[ch]) + (double)shift[ch]), ch = i mod c. */
void xbar_channel_affine(const float *x, const float *scale, const float *shift, float *y, int64_t n, int64_t c);

/* For rows of c channels: gScale[ch] += dy*x and gShift[ch] += dy in row order, each in double and
 * rounded to float per addition; dx (may be NULL) = (float)(dy * (1 + (double)scale[ch])). */
void xbar_channel_affine_grad(const float *x, const float *dy, const float *scale, float *g_scale, float *g_shift,
                              float *dx, int64_t n, int64_t c);

/* y[i] = y[i] < 0 ? +0 : y[i] in place (a ReLU on a module's hidden units; -0 and NaN stay). */
void xbar_relu_in_place(float *y, int64_t n);

/* dy[i] = x[i] <= 0 ? +0 : dy[i] in place (a ReLU's gradient from its output x; a NaN x passes dy). */
void xbar_relu_grad_in_place(const float *x, float *dy, int64_t n);

/* y[i] += x[i], one float addition per value (a residual branch added onto its trunk). */
void xbar_add_into(float *y, const float *x, int64_t n);

#endif
