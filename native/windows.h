/* im2col, its adjoint col2im, max pooling and its gradient (native/windows.c), for xbar_blas.c. */
#ifndef XBAR_WINDOWS_H
#define XBAR_WINDOWS_H
#include <stdbool.h>
#include <stdint.h>

/* Images [batch, h, w, c], k x k windows at `stride` with `pad` zeros, output [oh, ow] per image. */
struct xbar_windows {
  int batch, h, w, c, k, stride, pad, oh, ow;
};

/* adjoint false: cols [batch*oh*ow, k*k*c] = im2col(x) (cells over the padding untouched);
 * adjoint true: x += col2im(cols), in the JS loop's order (the same bits). */
void xbar_windows(const struct xbar_windows *g, float *x, float *cols, bool adjoint);

/* Max pooling without padding (pad 0): y [batch, oh, ow, c] the maximum of each k x k window and,
 * unless am is NULL, its index in x (the first in window order on ties, -1 where no value exceeds
 * -Infinity). */
void xbar_max_pool(const struct xbar_windows *g, const float *x, float *y, int *am);

/* Max pooling's gradient: dx[am[o]] += dy[o] for the outputs o of each image in order, skipping -1
 * (am from xbar_max_pool; each index must lie in its own image's input: the caller checks).
 */
void xbar_max_pool_grad(const struct xbar_windows *g, const float *dy, const int *am, float *dx);

#endif
