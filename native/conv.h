/* A convolution's product straight from NHWC images (native/conv.c), for xbar_blas.c. */
#ifndef XBAR_CONV_H
#define XBAR_CONV_H
#include <stdint.h>

/* Images [batch, h, w, c], k x k windows at `stride` with `pad` zeros, output [oh, ow] per image,
 * n output channels (filters, crossbar columns). */
struct xbar_conv {
  int batch, h, w, c, k, stride, pad, oh, ow, n;
};

/* y [batch*oh*ow, n] = min(max(im2col(x) W + bias + add, lo), hi), W [k*k*c, n] row-major (row
 * (ky*k + kx)*c + ch), add (may be NULL) of y's shape, without the im2col matrix: each operation
 * rounds as the separate passes would (the sum, the bias, the addition, then the clamp). Images are split between `threads` threads; each output is summed by one
 * thread in one order, so the result does not depend on the thread count. Returns 0, or -1 when
 * out of memory (y then holds partial results). */
int xbar_conv2d(const struct xbar_conv *g, const float *x, const float *w, const float *bias, const float *add,
                float lo, float hi, float *y, int threads);

#endif
