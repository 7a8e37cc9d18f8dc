/* The window walk of im2col over rows (n, oy, ox) of k*k*c values (ky, kx, c): each window's
 * pixels within one kernel row are contiguous in x, so each run is one copy into cols or, for the
 * adjoint (col2im), one add back onto x in the JS loop's order (the sums agree bit for bit). Cells
 * over the padding are not touched (im2col callers reuse a zeroed buffer).
 *
 * Training runs both on every convolution of every step, over buffers k*k times the images (MiBs:
 * bound by memory traffic), while OpenBLAS uses both cores only inside the GEMMs; images are
 * independent here, so they are split between threads like the conv2d kernel's. */
#include "windows.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>

struct windows_job {
  const struct xbar_windows *g;
  float *x, *cols;
  bool adjoint;
  int n0, n1;
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

/* Below this many floats of cols a second thread costs more (creating it: ~20-50 us) than it saves. */
enum { MIN_PER_THREAD = 1 << 17 };

void xbar_windows(const struct xbar_windows *g, float *x, float *cols, bool adjoint, int threads) {
  const int64_t total = (int64_t)g->batch * g->oh * g->ow * g->k * g->k * g->c;
  if (threads > g->batch) threads = g->batch > 1 ? g->batch : 1;
  if ((int64_t)threads * MIN_PER_THREAD > total) threads = (int)(total / MIN_PER_THREAD);
  if (threads < 1) threads = 1;
  if (threads > 16) threads = 16;
  struct windows_job jobs[16];
  pthread_t ids[16];
  int started = 0;
  for (int t = 0; t < threads; t++) {
    jobs[t] = (struct windows_job){g, x, cols, adjoint, (int)((int64_t)g->batch * t / threads),
                                   (int)((int64_t)g->batch * (t + 1) / threads)};
    if (t == threads - 1 || pthread_create(&ids[t], NULL, windows_run, &jobs[t]) != 0) windows_run(&jobs[t]);
    else started |= 1 << t;
  }
  for (int t = 0; t < threads; t++)
    if (started & (1 << t)) pthread_join(ids[t], NULL);
}
