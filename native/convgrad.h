/* The input gradient of a convolution through frozen weights (native/convgrad.c), for xbar_blas.c. */
#ifndef XBAR_CONVGRAD_H
#define XBAR_CONVGRAD_H
#include <stdint.h>
#include "windows.h"

/* dx [batch, h, w, c] = col2im of the rows v = dy W^T (dy [batch*oh*ow, f], w [k*k*c, f]) without
 * forming them: per output pixel in order, v[j] = the sum over the filters ff in order of
 * dy[ff] * w[j*f + ff] from +0, one float rounding per product and per addition, exact zeros of dy
 * skipped (equal to adding them while w is finite), then v added onto dx's window as col2im adds
 * it. dx is overwritten. Returns 0, or -1 when out of memory. */
int xbar_conv_input_grad(const struct xbar_windows *g, int f, const float *dy, const float *w, float *dx);

#endif
