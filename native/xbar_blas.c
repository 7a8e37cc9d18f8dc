/*
 * N-API addon: OpenBLAS sgemm on Float32Array views, without copies, and the few memory-bound
 * loops around it that the simulator runs on every chip (im2col, max pooling, clamping, drawing the
 * programming variation), which plain JS runs slower than C. Every argument is checked
 * before OpenBLAS sees it, because a bad stride would make it read or write past the array and
 * take the whole Node process down; JS callers get an Error instead.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <cblas.h>
#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define XBAR_DLSYM 1
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define XBAR_X86 1
#endif
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>

#include "conv.h"

/* Repeated because /usr/include/<triplet>/cblas.h may be netlib's, which lacks the OpenBLAS extras. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);

static void throw_msg(napi_env env, bool type_error, const char *fmt, const char *name, long long x,
                      long long y) {
  char msg[256];
  snprintf(msg, sizeof msg, fmt, name, x, y);
  if (type_error) napi_throw_type_error(env, NULL, msg);
  else napi_throw_range_error(env, NULL, msg);
}

static bool get_bool(napi_env env, napi_value v, const char *name, bool *out) {
  if (napi_get_value_bool(env, v, out) == napi_ok) return true;
  throw_msg(env, true, "sgemm: %s must be a boolean", name, 0, 0);
  return false;
}

static bool get_number(napi_env env, napi_value v, const char *name, double *out) {
  if (napi_get_value_double(env, v, out) == napi_ok) return true;
  throw_msg(env, true, "sgemm: %s must be a number", name, 0, 0);
  return false;
}

/* OpenBLAS here is built with 32-bit ints, so every dimension and stride must fit in an int. */
static bool get_int(napi_env env, napi_value v, const char *name, int min, int *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != floor(d) || d < min || d > INT_MAX) {
    throw_msg(env, false, "%s must be an integer in [%lld, %lld]", name, min, INT_MAX);
    return false;
  }
  *out = (int)d;
  return true;
}

/* A typed array of the given type (`noun` for the message: "a Float32Array"): its length and data
 * (already advanced by the view's byteOffset). */
static bool get_typed(napi_env env, napi_value v, const char *fn, const char *name, napi_typedarray_type want,
                      const char *noun, size_t *len, void **data) {
  bool is_ta = false;
  napi_typedarray_type type;
  char msg[160];
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL) != napi_ok || type != want) {
    snprintf(msg, sizeof msg, "%s: %s must be %s", fn, name, noun);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  return true;
}

/* A rows x cols row-major matrix with row stride ld: BLAS requires ld >= max(1, cols). */
static bool get_matrix(napi_env env, napi_value v, const char *name, int rows, int cols, int ld,
                       float **data, int64_t *need) {
  size_t len;
  void *ptr;
  if (!get_typed(env, v, "sgemm", name, napi_float32_array, "a Float32Array", &len, &ptr)) return false;
  if (ld < (cols > 1 ? cols : 1)) {
    throw_msg(env, false, "sgemm: ld%s = %lld is less than the row length %lld", name, ld, cols);
    return false;
  }
  *need = rows == 0 || cols == 0 ? 0 : (int64_t)(rows - 1) * ld + cols;
  if ((int64_t)len < *need) {
    throw_msg(env, false, "sgemm: %s has %lld elements but the dimensions and stride need %lld", name,
              (long long)len, *need);
    return false;
  }
  *data = ptr;
  return true;
}

static bool overlaps(const float *x, int64_t nx, const float *y, int64_t ny) {
  return nx > 0 && ny > 0 && x < y + ny && y < x + nx;
}

static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 13) {
    napi_throw_type_error(env, NULL, "sgemm: expected 13 arguments");
    return NULL;
  }
  bool ta, tb;
  int m, n, k, lda, ldb, ldc;
  double alpha, beta;
  float *a, *b, *c;
  int64_t na, nb, nc;
  if (!get_bool(env, argv[0], "transA", &ta) || !get_bool(env, argv[1], "transB", &tb) ||
      !get_int(env, argv[2], "m", 0, &m) || !get_int(env, argv[3], "n", 0, &n) ||
      !get_int(env, argv[4], "k", 0, &k) || !get_number(env, argv[5], "alpha", &alpha) ||
      !get_int(env, argv[7], "lda", 1, &lda) || !get_int(env, argv[9], "ldb", 1, &ldb) ||
      !get_number(env, argv[10], "beta", &beta) || !get_int(env, argv[12], "ldc", 1, &ldc) ||
      !get_matrix(env, argv[6], "a", ta ? k : m, ta ? m : k, lda, &a, &na) ||
      !get_matrix(env, argv[8], "b", tb ? n : k, tb ? k : n, ldb, &b, &nb) ||
      !get_matrix(env, argv[11], "c", m, n, ldc, &c, &nc))
    return NULL;
  /* BLAS reads A and B while writing C; overlapping memory gives silently wrong results. */
  if (overlaps(c, nc, a, na) || overlaps(c, nc, b, nb)) {
    throw_msg(env, false, "sgemm: %s must not share memory with a or b", "c", 0, 0);
    return NULL;
  }
  if (m > 0 && n > 0)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, (float)alpha, a, lda, b, ldb, (float)beta, c, ldc);
  return NULL;
}

/* A Float32Array argument of at least `need` elements. */
static bool get_f32(napi_env env, napi_value v, const char *fn, const char *name, int64_t need, float **data) {
  size_t len;
  void *ptr;
  char msg[256];
  if (!get_typed(env, v, fn, name, napi_float32_array, "a Float32Array", &len, &ptr)) return false;
  if ((int64_t)len < need) {
    snprintf(msg, sizeof msg, "%s: %s has %lld elements but the dimensions need %lld", fn, name,
             (long long)len, (long long)need);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  *data = ptr;
  return true;
}

static bool get_args(napi_env env, napi_callback_info info, const char *fn, size_t want,
                     napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < want) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: expected %zu arguments", fn, want);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  return true;
}

/* Pooling/convolution geometry: every input window must lie inside the image (checked here). */
static bool get_geometry(napi_env env, napi_value *argv, const char *fn, int g[10]) {
  static const char *names[] = {"batch", "h", "w", "c", "k", "stride", "pad", "oh", "ow"};
  for (int i = 0; i < 9; i++)
    if (!get_int(env, argv[i], names[i], i == 0 || i == 6 ? 0 : 1, &g[i])) return false;
  /* [batch, h, w, c, k, stride, pad, oh, ow]: the last window must end inside the padded image. */
  int64_t lastY = (int64_t)(g[7] - 1) * g[5] + g[4], lastX = (int64_t)(g[8] - 1) * g[5] + g[4];
  if (lastY > (int64_t)g[1] + 2 * g[6] || lastX > (int64_t)g[2] + 2 * g[6]) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: a %dx%d output with window %d, stride %d does not fit a %dx%d input padded by %d", fn,
             g[7], g[8], g[4], g[5], g[1], g[2], g[6]);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  return true;
}

/* The window walk of im2col over rows (n, oy, ox) of k*k*c values (ky, kx, c): each window's
 * pixels within one kernel row are contiguous in x, so each run is one copy into cols or, for the
 * adjoint (col2im), one add back onto x in the JS loop's order (the sums agree bit for bit). Cells
 * over the padding are not touched (im2col callers reuse a zeroed buffer). */
static napi_value windows(napi_env env, napi_callback_info info, const char *fn, bool adjoint) {
  napi_value argv[11];
  int g[10];
  float *x, *cols;
  if (!get_args(env, info, fn, 11, argv) || !get_geometry(env, argv + 1, fn, g)) return NULL;
  const int batch = g[0], h = g[1], w = g[2], c = g[3], k = g[4], stride = g[5], pad = g[6], oh = g[7], ow = g[8];
  const int64_t rowLen = (int64_t)k * k * c;
  const int64_t xLen = (int64_t)batch * h * w * c, colsLen = (int64_t)batch * oh * ow * rowLen;
  /* Arguments in each function's order: im2col(x, ..., cols), col2im(cols, ..., x). */
  if (!get_f32(env, argv[0], fn, adjoint ? "cols" : "x", adjoint ? colsLen : xLen, adjoint ? &cols : &x) ||
      !get_f32(env, argv[10], fn, adjoint ? "x" : "cols", adjoint ? xLen : colsLen, adjoint ? &x : &cols))
    return NULL;
  int64_t r = 0;
  for (int n = 0; n < batch; n++) {
    float *img = x + (int64_t)n * h * w * c;
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
          float *pc = cols + r + ((int64_t)ky * k + kx0) * c;
          if (adjoint)
            for (size_t t = 0; t < len; t++) px[t] += pc[t];
          else
            memcpy(pc, px, len * sizeof(float));
        }
      }
  }
  return NULL;
}

/* im2col(x, batch, h, w, c, k, stride, pad, oh, ow, cols) */
static napi_value im2col(napi_env env, napi_callback_info info) { return windows(env, info, "im2col", false); }

/* col2im(cols, batch, h, w, c, k, stride, pad, oh, ow, x): x += the adjoint of im2col. */
static napi_value col2im(napi_env env, napi_callback_info info) { return windows(env, info, "col2im", true); }

/* conv2d(x, batch, h, w, c, k, stride, pad, oh, ow, weights, bias, y, threads): y [batch*oh*ow, n] =
 * im2col(x) weights + bias, n = bias.length, without the im2col matrix (native/conv.c). */
static napi_value conv2d(napi_env env, napi_callback_info info) {
  napi_value argv[14];
  int g[10], threads;
  float *x, *w, *bias, *y;
  size_t n;
  if (!get_args(env, info, "conv2d", 14, argv) || !get_geometry(env, argv + 1, "conv2d", g) ||
      !get_typed(env, argv[11], "conv2d", "bias", napi_float32_array, "a Float32Array", &n, (void **)&bias) ||
      !get_int(env, argv[13], "threads", 1, &threads))
    return NULL;
  const struct xbar_conv cv = {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], (int)n};
  const int64_t nx = (int64_t)cv.batch * cv.h * cv.w * cv.c, nw = (int64_t)cv.k * cv.k * cv.c * n,
                ny = (int64_t)cv.batch * cv.oh * cv.ow * n;
  if (n == 0 || n > INT_MAX) {
    napi_throw_range_error(env, NULL, "conv2d: bias must hold one value per output channel (at least one)");
    return NULL;
  }
  if (!get_f32(env, argv[0], "conv2d", "x", nx, &x) || !get_f32(env, argv[10], "conv2d", "weights", nw, &w) ||
      !get_f32(env, argv[12], "conv2d", "y", ny, &y))
    return NULL;
  if (overlaps(y, ny, x, nx) || overlaps(y, ny, w, nw) || overlaps(y, ny, bias, (int64_t)n)) {
    napi_throw_range_error(env, NULL, "conv2d: y must not share memory with x, weights or bias");
    return NULL;
  }
  if (xbar_conv2d(&cv, x, w, bias, y, threads) != 0) napi_throw_error(env, NULL, "conv2d: out of memory");
  return NULL;
}

/* maxPool(x, batch, h, w, c, size, stride, 0, oh, ow, y): windows without padding. */
static napi_value max_pool(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  int g[10];
  float *x, *y;
  if (!get_args(env, info, "maxPool", 11, argv) || !get_geometry(env, argv + 1, "maxPool", g)) return NULL;
  const int batch = g[0], h = g[1], w = g[2], c = g[3], s = g[4], stride = g[5], oh = g[7], ow = g[8];
  if (g[6] != 0) {
    napi_throw_range_error(env, NULL, "maxPool: pooling windows have no padding");
    return NULL;
  }
  if (!get_f32(env, argv[0], "maxPool", "x", (int64_t)batch * h * w * c, &x) ||
      !get_f32(env, argv[10], "maxPool", "y", (int64_t)batch * oh * ow * c, &y))
    return NULL;
  int64_t o = 0;
  for (int n = 0; n < batch; n++) {
    const float *img = x + (int64_t)n * h * w * c;
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++) {
        const float *corner = img + ((int64_t)oy * stride * w + (int64_t)ox * stride) * c;
        /* Per channel, the same comparisons in the same order as the JS kernel; channels in
         * the inner loop, contiguous, so that it vectorises. */
        float *restrict out = y + o;
        for (int ch = 0; ch < c; ch++) out[ch] = -INFINITY;
        for (int ky = 0; ky < s; ky++)
          for (int kx = 0; kx < s; kx++) {
            const float *restrict p = corner + ((int64_t)ky * w + kx) * c;
            for (int ch = 0; ch < c; ch++) {
              const float v = p[ch];
              out[ch] = v > out[ch] ? v : out[ch];
            }
          }
        o += c;
      }
  }
  return NULL;
}

/* -O2 does not vectorise a loop of unknown length; this one is memory-bound and runs on every
 * activation of every chip. */
__attribute__((optimize("O3", "tree-vectorize"))) static void clamp_floats(float *restrict y, size_t len, float lo,
                                                                          float hi) {
  for (size_t i = 0; i < len; i++) {
    float v = y[i];
    v = v > lo ? v : lo;
    y[i] = v < hi ? v : hi;
  }
}

/* clamp(y, lo, hi): y = min(max(y, lo), hi) in place; max(-0, 0) is +0, as Math.max gives. */
static napi_value clamp(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  double lo, hi;
  float *y;
  size_t len;
  if (!get_args(env, info, "clamp", 3, argv) ||
      !get_typed(env, argv[0], "clamp", "y", napi_float32_array, "a Float32Array", &len, (void **)&y))
    return NULL;
  if (napi_get_value_double(env, argv[1], &lo) != napi_ok || napi_get_value_double(env, argv[2], &hi) != napi_ok ||
      isnan(lo) || isnan(hi) || lo > hi) {
    napi_throw_range_error(env, NULL, "clamp: lo and hi must be numbers with lo <= hi");
    return NULL;
  }
  /* In float, which gives the JS kernel's double-precision result exactly: for a float v and
   * a double bound b, v < b if and only if v < (float)b or v == (float)b, and then both return
   * the same float. Written as selects so that the compiler vectorises the loop. */
  clamp_floats(y, len, (float)lo, (float)hi);
  return NULL;
}

#ifdef XBAR_X86
/* C [m, n] += A B, A [m, k] sparse in CSR (row_ptr, col, val), B [k, n] and C row-major.
 * Columns go in blocks of 64 whose 8 AVX accumulators stay in registers while a row's nonzeros
 * stream B's block (k x 64 floats, L2-resident for the layers where this pays). */
__attribute__((target("avx2,fma"))) static void spmm_avx2(int m, int n, const int *row_ptr, const int *col,
                                                          const float *val, const float *b, float *c, int j0) {
  for (; j0 + 64 <= n; j0 += 64)
    for (int i = 0; i < m; i++) {
      float *ci = c + (int64_t)i * n + j0;
      __m256 a0 = _mm256_loadu_ps(ci), a1 = _mm256_loadu_ps(ci + 8), a2 = _mm256_loadu_ps(ci + 16),
             a3 = _mm256_loadu_ps(ci + 24), a4 = _mm256_loadu_ps(ci + 32), a5 = _mm256_loadu_ps(ci + 40),
             a6 = _mm256_loadu_ps(ci + 48), a7 = _mm256_loadu_ps(ci + 56);
      for (int p = row_ptr[i]; p < row_ptr[i + 1]; p++) {
        const __m256 x = _mm256_set1_ps(val[p]);
        const float *bp = b + (int64_t)col[p] * n + j0;
        a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp), a0);
        a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 8), a1);
        a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 16), a2);
        a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 24), a3);
        a4 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 32), a4);
        a5 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 40), a5);
        a6 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 48), a6);
        a7 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 56), a7);
      }
      _mm256_storeu_ps(ci, a0);
      _mm256_storeu_ps(ci + 8, a1);
      _mm256_storeu_ps(ci + 16, a2);
      _mm256_storeu_ps(ci + 24, a3);
      _mm256_storeu_ps(ci + 32, a4);
      _mm256_storeu_ps(ci + 40, a5);
      _mm256_storeu_ps(ci + 48, a6);
      _mm256_storeu_ps(ci + 56, a7);
    }
  for (; j0 + 8 <= n; j0 += 8)
    for (int i = 0; i < m; i++) {
      float *ci = c + (int64_t)i * n + j0;
      __m256 a = _mm256_loadu_ps(ci);
      for (int p = row_ptr[i]; p < row_ptr[i + 1]; p++)
        a = _mm256_fmadd_ps(_mm256_set1_ps(val[p]), _mm256_loadu_ps(b + (int64_t)col[p] * n + j0), a);
      _mm256_storeu_ps(ci, a);
    }
  for (; j0 < n; j0++)
    for (int i = 0; i < m; i++) {
      float a = c[(int64_t)i * n + j0];
      for (int p = row_ptr[i]; p < row_ptr[i + 1]; p++) a += val[p] * b[(int64_t)col[p] * n + j0];
      c[(int64_t)i * n + j0] = a;
    }
}

/* The same blocks with 512-bit registers (4 accumulators of 16): ~20% faster on a CPU that runs
 * them at full width (AMD Zen 5 here). Each output is the same chain of FMAs in the same order as
 * in spmm_avx2, so the result is the same bit for bit. */
__attribute__((target("avx512f"))) static void spmm_avx512(int m, int n, const int *row_ptr, const int *col,
                                                           const float *val, const float *b, float *c) {
  int j0 = 0;
  for (; j0 + 64 <= n; j0 += 64)
    for (int i = 0; i < m; i++) {
      float *ci = c + (int64_t)i * n + j0;
      __m512 a0 = _mm512_loadu_ps(ci), a1 = _mm512_loadu_ps(ci + 16), a2 = _mm512_loadu_ps(ci + 32),
             a3 = _mm512_loadu_ps(ci + 48);
      for (int p = row_ptr[i]; p < row_ptr[i + 1]; p++) {
        const __m512 x = _mm512_set1_ps(val[p]);
        const float *bp = b + (int64_t)col[p] * n + j0;
        a0 = _mm512_fmadd_ps(x, _mm512_loadu_ps(bp), a0);
        a1 = _mm512_fmadd_ps(x, _mm512_loadu_ps(bp + 16), a1);
        a2 = _mm512_fmadd_ps(x, _mm512_loadu_ps(bp + 32), a2);
        a3 = _mm512_fmadd_ps(x, _mm512_loadu_ps(bp + 48), a3);
      }
      _mm512_storeu_ps(ci, a0);
      _mm512_storeu_ps(ci + 16, a1);
      _mm512_storeu_ps(ci + 32, a2);
      _mm512_storeu_ps(ci + 48, a3);
    }
  spmm_avx2(m, n, row_ptr, col, val, b, c, j0);
}

#endif

static void spmm_plain(int m, int n, const int *row_ptr, const int *col, const float *val, const float *b,
                       float *c) {
  for (int i = 0; i < m; i++) {
    float *ci = c + (int64_t)i * n;
    for (int p = row_ptr[i]; p < row_ptr[i + 1]; p++) {
      const float x = val[p];
      const float *bp = b + (int64_t)col[p] * n;
      for (int j = 0; j < n; j++) ci[j] += x * bp[j];
    }
  }
}

static bool get_i32(napi_env env, napi_value v, const char *name, int64_t need, int **data) {
  size_t len;
  void *ptr;
  char msg[160];
  if (!get_typed(env, v, "spmm", name, napi_int32_array, "an Int32Array", &len, &ptr)) return false;
  if ((int64_t)len < need) {
    snprintf(msg, sizeof msg, "spmm: %s has %lld elements but needs %lld", name, (long long)len, (long long)need);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  *data = ptr;
  return true;
}

struct spmm_job {
  int m, n;
  const int *row_ptr, *col;
  const float *val, *b;
  float *c;
};

static void *spmm_run(void *arg) {
  const struct spmm_job *j = arg;
#ifdef XBAR_X86
  if (__builtin_cpu_supports("avx512f") && !getenv("XBAR_NO_AVX512")) {
    spmm_avx512(j->m, j->n, j->row_ptr, j->col, j->val, j->b, j->c);
    return NULL;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    spmm_avx2(j->m, j->n, j->row_ptr, j->col, j->val, j->b, j->c, 0);
    return NULL;
  }
#endif
  spmm_plain(j->m, j->n, j->row_ptr, j->col, j->val, j->b, j->c);
  return NULL;
}

/* spmm(m, n, k, rowPtr, col, val, b, c[, threads]): every index is checked first, so that a bad
 * CSR throws instead of reading outside B. */
static napi_value spmm(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  size_t argc_spmm = 9;
  int m, n, k, *row_ptr, *col;
  float *val, *b, *c;
  if (napi_get_cb_info(env, info, &argc_spmm, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc_spmm < 8) {
    napi_throw_type_error(env, NULL, "spmm: expected 8 arguments");
    return NULL;
  }
  if (!get_int(env, argv[0], "m", 0, &m) ||
      !get_int(env, argv[1], "n", 0, &n) || !get_int(env, argv[2], "k", 0, &k) ||
      !get_i32(env, argv[3], "rowPtr", (int64_t)m + 1, &row_ptr))
    return NULL;
  if (row_ptr[0] != 0) {
    napi_throw_range_error(env, NULL, "spmm: rowPtr[0] must be 0");
    return NULL;
  }
  for (int i = 0; i < m; i++)
    if (row_ptr[i + 1] < row_ptr[i]) {
      napi_throw_range_error(env, NULL, "spmm: rowPtr must not decrease");
      return NULL;
    }
  const int64_t nnz = row_ptr[m];
  if (!get_i32(env, argv[4], "col", nnz, &col) || !get_f32(env, argv[5], "spmm", "val", nnz, &val) ||
      !get_f32(env, argv[6], "spmm", "b", (int64_t)k * n, &b) || !get_f32(env, argv[7], "spmm", "c", (int64_t)m * n, &c))
    return NULL;
  if (overlaps(c, (int64_t)m * n, b, (int64_t)k * n) || overlaps(c, (int64_t)m * n, val, nnz)) {
    napi_throw_range_error(env, NULL, "spmm: c must not share memory with b or val");
    return NULL;
  }
  for (int64_t p = 0; p < nnz; p++)
    if (col[p] < 0 || col[p] >= k) {
      throw_msg(env, false, "spmm: %s index %lld is outside [0, %lld)", "col", col[p], k);
      return NULL;
    }
  int threads = 1;
  if (argc_spmm > 8 && !get_int(env, argv[8], "threads", 1, &threads)) return NULL;
  /* Rows split between threads: each output row is summed by one thread in the same order, so
   * the result does not depend on the thread count (unlike BLAS). */
  if (threads > m / 64) threads = m / 64 > 1 ? m / 64 : 1;
  if (threads > 16) threads = 16;
  struct spmm_job jobs[16];
  pthread_t ids[16];
  int started = 0;
  for (int t = 0; t < threads; t++) {
    const int i0 = (int)((int64_t)m * t / threads), i1 = (int)((int64_t)m * (t + 1) / threads);
    jobs[t] = (struct spmm_job){i1 - i0, n, row_ptr + i0, col, val, b, c + (int64_t)i0 * n};
    if (t == threads - 1 || pthread_create(&ids[t], NULL, spmm_run, &jobs[t]) != 0) spmm_run(&jobs[t]);
    else started |= 1 << t;
  }
  for (int t = 0; t < threads; t++)
    if (started & (1 << t)) pthread_join(ids[t], NULL);
  return NULL;
}

/* Log-normal programming variation, the same numbers as the JS loop (kernels-js.ts lognormalPairs)
 * bit for bit: sfc32 continued from the caller's state, Box-Muller, and V8's own Math.log, cos, sin
 * and exp (V8 exports its fdlibm port, base::ieee754), found in the running Node at load time. A
 * libm's functions would round differently in a few draws per million and a chip would then depend
 * on its kernels. Not offered when the symbols are absent; kernels-node.ts also checks the result
 * against the JS loop before using it. */
typedef double (*math_fn)(double);
static math_fn v8_log, v8_cos, v8_sin, v8_exp;

static void find_v8_math(void) {
#ifdef XBAR_DLSYM
  v8_log = (math_fn)dlsym(RTLD_DEFAULT, "_ZN2v84base7ieee7543logEd");
  v8_cos = (math_fn)dlsym(RTLD_DEFAULT, "_ZN2v84base7ieee7543cosEd");
  v8_sin = (math_fn)dlsym(RTLD_DEFAULT, "_ZN2v84base7ieee7543sinEd");
  v8_exp = (math_fn)dlsym(RTLD_DEFAULT, "_ZN2v84base7ieee7543expEd");
#endif
}

static inline uint32_t sfc32_next(uint32_t *s) {
  const uint32_t a = s[0], b = s[1], c = s[2], d = s[3];
  const uint32_t t = a + b + d;
  s[3] = d + 1;
  s[0] = b ^ (b >> 9);
  s[1] = c + (c << 3);
  s[2] = ((c << 21) | (c >> 11)) + t;
  return t;
}

/* No fused multiply-adds: each operation must round as JS's does. */
__attribute__((optimize("fp-contract=off"))) static void lognormal_pairs_run(
    int64_t n, const double *t_pos, const double *t_neg, double sigma, uint32_t *state, double *g_pos,
    double *g_neg) {
  uint32_t s[4] = {state[0], state[1], state[2], state[3]};
  const double two_pi = 2 * 3.141592653589793;
  for (int64_t i = 0; i < n; i++) {
    double u = 0;
    while (u == 0) u = sfc32_next(s) / 4294967296.0;
    const double v = sfc32_next(s) / 4294967296.0;
    const double r = sqrt(-2 * v8_log(u));
    g_pos[i] = t_pos[i] * v8_exp(sigma * (r * v8_cos(two_pi * v)));
    g_neg[i] = t_neg[i] * v8_exp(sigma * (r * v8_sin(two_pi * v)));
  }
  memcpy(state, s, sizeof s);
}

/* lognormalPairs(tPos, tNeg, sigma, state, gPos, gNeg): tPos, tNeg, gPos, gNeg Float64Arrays of
 * one length, state the generator's four sfc32 words (Uint32Array), advanced in place. */
static napi_value lognormal_pairs(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, "lognormalPairs", 6, argv)) return NULL;
  static const char *names[] = {"tPos", "tNeg", NULL, NULL, "gPos", "gNeg"};
  double *arr[6] = {0};
  size_t n = 0;
  for (int a = 0; a < 6; a++) {
    if (!names[a]) continue;
    size_t len;
    if (!get_typed(env, argv[a], "lognormalPairs", names[a], napi_float64_array, "a Float64Array", &len, (void **)&arr[a]))
      return NULL;
    if (a == 0) n = len;
    else if (len != n) {
      napi_throw_range_error(env, NULL, "lognormalPairs: tPos, tNeg, gPos and gNeg must have one length");
      return NULL;
    }
  }
  double sigma;
  if (napi_get_value_double(env, argv[2], &sigma) != napi_ok || !(sigma >= 0)) {
    napi_throw_range_error(env, NULL, "lognormalPairs: sigma must be a number >= 0");
    return NULL;
  }
  size_t slen;
  uint32_t *state;
  if (!get_typed(env, argv[3], "lognormalPairs", "state", napi_uint32_array, "a Uint32Array", &slen, (void **)&state))
    return NULL;
  if (slen != 4) {
    napi_throw_range_error(env, NULL, "lognormalPairs: state must hold sfc32's 4 words");
    return NULL;
  }
  lognormal_pairs_run((int64_t)n, arr[0], arr[1], sigma, state, arr[4], arr[5]);
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  int n;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "setThreads: expected a thread count");
    return NULL;
  }
  if (!get_int(env, arg, "threads", 1, &n)) return NULL;
  openblas_set_num_threads(n);
  return NULL;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  napi_value out;
  napi_create_int32(env, openblas_get_num_threads(), &out);
  return out;
}

static napi_value config(napi_env env, napi_callback_info info) {
  napi_value out;
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"im2col", NULL, im2col, NULL, NULL, NULL, napi_enumerable, NULL},
      {"col2im", NULL, col2im, NULL, NULL, NULL, napi_enumerable, NULL},
      {"maxPool", NULL, max_pool, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2d", NULL, conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clamp", NULL, clamp, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spmm", NULL, spmm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"config", NULL, config, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lognormalPairs", NULL, lognormal_pairs, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  find_v8_math();
  const bool v8_math = v8_log && v8_cos && v8_sin && v8_exp;
  napi_define_properties(env, exports, sizeof props / sizeof props[0] - (v8_math ? 0 : 1), props);
  return exports;
}
