/*
 * N-API addon: OpenBLAS sgemm on Float32Array views, without copies, and the few memory-bound
 * loops around it that the simulator runs on every chip (im2col, max pooling, clamping, drawing the
 * programming variation), which plain JS runs slower than C. Every argument is checked
 * before OpenBLAS sees it, because a bad stride would make it read or write past the array and
 * take the whole Node process down; JS callers get an Error instead.
 */
#include <cblas.h>
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
#include <unistd.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "channels.h"
#include "conv.h"
#include "convgrad.h"
#include "spmm.h"
#include "windows.h"

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

/* im2col and col2im: the geometry checked here, the walk in native/windows.c. */
static napi_value windows(napi_env env, napi_callback_info info, const char *fn, bool adjoint) {
  napi_value argv[11];
  int g[10];
  float *x, *cols;
  if (!get_args(env, info, fn, 11, argv) || !get_geometry(env, argv + 1, fn, g)) return NULL;
  const int batch = g[0], h = g[1], w = g[2], c = g[3], k = g[4], oh = g[7], ow = g[8];
  const int64_t rowLen = (int64_t)k * k * c;
  const int64_t xLen = (int64_t)batch * h * w * c, colsLen = (int64_t)batch * oh * ow * rowLen;
  /* Arguments in each function's order: im2col(x, ..., cols), col2im(cols, ..., x). */
  if (!get_f32(env, argv[0], fn, adjoint ? "cols" : "x", adjoint ? colsLen : xLen, adjoint ? &cols : &x) ||
      !get_f32(env, argv[10], fn, adjoint ? "x" : "cols", adjoint ? xLen : colsLen, adjoint ? &x : &cols))
    return NULL;
  const struct xbar_windows wg = {batch, h, w, c, k, g[5], g[6], oh, ow};
  xbar_windows(&wg, x, cols, adjoint);
  return NULL;
}

/* im2col(x, batch, h, w, c, k, stride, pad, oh, ow, cols) */
static napi_value im2col(napi_env env, napi_callback_info info) { return windows(env, info, "im2col", false); }

/* col2im(cols, batch, h, w, c, k, stride, pad, oh, ow, x): x += the adjoint of im2col. */
static napi_value col2im(napi_env env, napi_callback_info info) { return windows(env, info, "col2im", true); }

/* convInputGrad(dy, batch, h, w, c, k, stride, pad, oh, ow, weights, dx): dx = col2im(dy weights^T)
 * for weights [k*k*c, f], f = weights.length / (k*k*c), without the unrolled rows (native/convgrad.c). */
static napi_value conv_input_grad(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  int g[10];
  float *dy, *w, *dx;
  size_t nw;
  if (!get_args(env, info, "convInputGrad", 12, argv) || !get_geometry(env, argv + 1, "convInputGrad", g) ||
      !get_typed(env, argv[10], "convInputGrad", "weights", napi_float32_array, "a Float32Array", &nw, (void **)&w))
    return NULL;
  const struct xbar_windows wg = {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8]};
  const int64_t rowLen = (int64_t)wg.k * wg.k * wg.c;
  if (nw == 0 || (int64_t)nw % rowLen != 0 || (int64_t)nw / rowLen > INT_MAX)
  {
    napi_throw_range_error(env, NULL, "convInputGrad: weights must hold k*k*c rows of one value per filter (at least one)");
    return NULL;
  }
  const int f = (int)((int64_t)nw / rowLen);
  const int64_t ndy = (int64_t)wg.batch * wg.oh * wg.ow * f, ndx = (int64_t)wg.batch * wg.h * wg.w * wg.c;
  if (!get_f32(env, argv[0], "convInputGrad", "dy", ndy, &dy) || !get_f32(env, argv[11], "convInputGrad", "dx", ndx, &dx)) return NULL;
  if (overlaps(dx, ndx, dy, ndy) || overlaps(dx, ndx, w, (int64_t)nw)) {
    napi_throw_range_error(env, NULL, "convInputGrad: dx must not share memory with dy or weights");
    return NULL;
  }
  if (xbar_conv_input_grad(&wg, f, dy, w, dx) != 0) napi_throw_error(env, NULL, "convInputGrad: out of memory");
  return NULL;
}

/* convolve(x, batch, h, w, c, k, stride, pad, oh, ow, weights, bias, y, threads, add, lo, hi): y
 * [batch*oh*ow, n] = clamp(im2col(x) weights + bias + add, lo, hi), n = bias.length, add null or of
 * y's size, without the im2col matrix (native/conv.c): Kernels.conv2d. Named apart from the
 * first version's conv2d, which took no add, lo and hi and would ignore them silently. */
static napi_value convolve(napi_env env, napi_callback_info info) {
  napi_value argv[17];
  int g[10], threads;
  float *x, *w, *bias, *y, *add = NULL;
  double lo, hi;
  size_t n;
  napi_valuetype add_type;
  if (!get_args(env, info, "conv2d", 17, argv) || !get_geometry(env, argv + 1, "conv2d", g) ||
      !get_typed(env, argv[11], "conv2d", "bias", napi_float32_array, "a Float32Array", &n, (void **)&bias) ||
      !get_int(env, argv[13], "threads", 1, &threads) || napi_typeof(env, argv[14], &add_type) != napi_ok)
    return NULL;
  if (napi_get_value_double(env, argv[15], &lo) != napi_ok || napi_get_value_double(env, argv[16], &hi) != napi_ok ||
      isnan(lo) || isnan(hi) || lo > hi) {
    napi_throw_range_error(env, NULL, "conv2d: lo and hi must be numbers with lo <= hi");
    return NULL;
  }
  const struct xbar_conv cv = {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], (int)n};
  const int64_t nx = (int64_t)cv.batch * cv.h * cv.w * cv.c, nw = (int64_t)cv.k * cv.k * cv.c * n,
                ny = (int64_t)cv.batch * cv.oh * cv.ow * n;
  if (n == 0 || n > INT_MAX) {
    napi_throw_range_error(env, NULL, "conv2d: bias must hold one value per output channel (at least one)");
    return NULL;
  }
  if (!get_f32(env, argv[0], "conv2d", "x", nx, &x) || !get_f32(env, argv[10], "conv2d", "weights", nw, &w) ||
      !get_f32(env, argv[12], "conv2d", "y", ny, &y) ||
      (add_type != napi_null && add_type != napi_undefined && !get_f32(env, argv[14], "conv2d", "add", ny, &add)))
    return NULL;
  if (overlaps(y, ny, x, nx) || overlaps(y, ny, w, nw) || overlaps(y, ny, bias, (int64_t)n) || (add && overlaps(y, ny, add, ny))) {
    napi_throw_range_error(env, NULL, "conv2d: y must not share memory with x, weights, bias or add");
    return NULL;
  }
  /* Bounds in float, as clamp: the same floats the JS kernel's double comparisons give. */
  if (xbar_conv2d(&cv, x, w, bias, add, (float)lo, (float)hi, y, threads) != 0) napi_throw_error(env, NULL, "conv2d: out of memory");
  return NULL;
}

static bool get_i32(napi_env env, napi_value v, const char *fn, const char *name, int64_t need, int **data) {
  size_t len;
  void *ptr;
  char msg[160];
  if (!get_typed(env, v, fn, name, napi_int32_array, "an Int32Array", &len, &ptr)) return false;
  if ((int64_t)len < need) {
    snprintf(msg, sizeof msg, "%s: %s has %lld elements but needs %lld", fn, name, (long long)len, (long long)need);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  *data = ptr;
  return true;
}

/* maxPool(x, batch, h, w, c, size, stride, 0, oh, ow, y[, argmax]): windows without padding. With
 * argmax (an Int32Array of y's length, for training's backward pass), also each maximum's index in x:
 * the first in window order on ties, -1 where no value exceeds -Infinity, as the JS kernel (the
 * loop in native/windows.c). */
static napi_value max_pool(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  size_t argc = 12;
  int g[10];
  float *x, *y;
  int *am = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 11) {
    napi_throw_type_error(env, NULL, "maxPool: expected 11 arguments");
    return NULL;
  }
  if (!get_geometry(env, argv + 1, "maxPool", g)) return NULL;
  const int batch = g[0], h = g[1], w = g[2], c = g[3], s = g[4], stride = g[5], oh = g[7], ow = g[8];
  if (g[6] != 0) {
    napi_throw_range_error(env, NULL, "maxPool: pooling windows have no padding");
    return NULL;
  }
  if (!get_f32(env, argv[0], "maxPool", "x", (int64_t)batch * h * w * c, &x) ||
      !get_f32(env, argv[10], "maxPool", "y", (int64_t)batch * oh * ow * c, &y))
    return NULL;
  napi_valuetype t = napi_undefined;
  if (argc > 11 && napi_typeof(env, argv[11], &t) != napi_ok) return NULL;
  if (t != napi_undefined && !get_i32(env, argv[11], "maxPool", "argmax", (int64_t)batch * oh * ow * c, &am)) return NULL;
  const struct xbar_windows wg = {batch, h, w, c, s, stride, 0, oh, ow};
  xbar_max_pool(&wg, x, y, am);
  return NULL;
}

/* maxPoolGrad(dy, argmax, batch, h, w, c, size, stride, 0, oh, ow, dx): dx += max pooling's
 * gradient (native/windows.c), each argmax index checked to lie in its own image's input or be -1. */
static napi_value max_pool_grad(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  int g[10];
  float *dy, *dx;
  int *am;
  if (!get_args(env, info, "maxPoolGrad", 12, argv) || !get_geometry(env, argv + 2, "maxPoolGrad", g)) return NULL;
  const int batch = g[0], h = g[1], w = g[2], c = g[3], oh = g[7], ow = g[8];
  if (g[6] != 0) {
    napi_throw_range_error(env, NULL, "maxPoolGrad: pooling windows have no padding");
    return NULL;
  }
  const int64_t per = (int64_t)oh * ow * c, img = (int64_t)h * w * c;
  if (!get_f32(env, argv[0], "maxPoolGrad", "dy", batch * per, &dy) ||
      !get_i32(env, argv[1], "maxPoolGrad", "argmax", batch * per, &am) ||
      !get_f32(env, argv[11], "maxPoolGrad", "dx", batch * img, &dx))
    return NULL;
  bool inside = true;
  for (int64_t n = 0, o = 0; n < batch; n++)
    for (int64_t e = o + per, lo = n * img, hi = lo + img; o < e; o++) inside &= am[o] == -1 || (am[o] >= lo && am[o] < hi);
  if (!inside) {
    napi_throw_range_error(env, NULL, "maxPoolGrad: argmax holds an index outside its image's input (not from maxPool with this geometry)");
    return NULL;
  }
  if (overlaps(dx, batch * img, dy, batch * per)) {
    napi_throw_range_error(env, NULL, "maxPoolGrad: dx must not share memory with dy");
    return NULL;
  }
  const struct xbar_windows wg = {batch, h, w, c, g[4], g[5], 0, oh, ow};
  xbar_max_pool_grad(&wg, dy, am, dx);
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

/* A CSR matrix's arrays from argv[0..2] (rowPtr for m rows, col, val): every index is checked, so
 * that a bad CSR throws instead of reading outside B. */
static bool get_csr(napi_env env, napi_value *argv, const char *fn, int m, int k, int **row_ptr, int **col,
                    float **val, int64_t *nnz) {
  if (!get_i32(env, argv[0], fn, "rowPtr", (int64_t)m + 1, row_ptr)) return false;
  if ((*row_ptr)[0] != 0) {
    throw_msg(env, false, "%s: rowPtr[0] must be 0", fn, 0, 0);
    return false;
  }
  for (int i = 0; i < m; i++)
    if ((*row_ptr)[i + 1] < (*row_ptr)[i]) {
      throw_msg(env, false, "%s: rowPtr must not decrease", fn, 0, 0);
      return false;
    }
  *nnz = (*row_ptr)[m];
  if (!get_i32(env, argv[1], fn, "col", *nnz, col) || !get_f32(env, argv[2], fn, "val", *nnz, val)) return false;
  for (int64_t p = 0; p < *nnz; p++)
    if ((*col)[p] < 0 || (*col)[p] >= k) {
      char msg[128];
      snprintf(msg, sizeof msg, "%s: col index %d is outside [0, %d)", fn, (*col)[p], k);
      napi_throw_range_error(env, NULL, msg);
      return false;
    }
  return true;
}

static void free_pairs(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  xbar_spmm_pairs_free(data);
}

/* spmmPairs(m, k, rowPtr, col, val): an opaque plan pairing the matrix's rows for spmm
 * (native/spmm.c), or null when its rows cannot be paired. The plan copies the values: the matrix
 * must not change while the plan is used with it. */
static napi_value spmm_pairs(napi_env env, napi_callback_info info) {
  napi_value argv[5], out;
  size_t argc = 5;
  int m, k, *row_ptr, *col, oom;
  float *val;
  int64_t nnz;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "spmmPairs: expected 5 arguments");
    return NULL;
  }
  if (!get_int(env, argv[0], "m", 0, &m) || !get_int(env, argv[1], "k", 0, &k) ||
      !get_csr(env, argv + 2, "spmmPairs", m, k, &row_ptr, &col, &val, &nnz))
    return NULL;
  struct xbar_spmm_pairs *p = xbar_spmm_pair_rows(m, k, row_ptr, col, val, &oom);
  if (oom) {
    napi_throw_error(env, NULL, "spmmPairs: out of memory");
    return NULL;
  }
  if (!p) {
    napi_get_null(env, &out);
    return out;
  }
  if (napi_create_external(env, p, free_pairs, NULL, &out) != napi_ok) {
    xbar_spmm_pairs_free(p);
    return NULL;
  }
  return out;
}

/* spmm(m, n, k, rowPtr, col, val, b, c[, threads[, pairs]]): C += A B; `pairs` from spmmPairs of
 * this matrix (checked against its shape). */
static napi_value spmm(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  size_t argc_spmm = 10;
  int m, n, k, *row_ptr, *col;
  float *val, *b, *c;
  int64_t nnz;
  if (napi_get_cb_info(env, info, &argc_spmm, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc_spmm < 8) {
    napi_throw_type_error(env, NULL, "spmm: expected 8 arguments");
    return NULL;
  }
  if (!get_int(env, argv[0], "m", 0, &m) || !get_int(env, argv[1], "n", 0, &n) || !get_int(env, argv[2], "k", 0, &k) ||
      !get_csr(env, argv + 3, "spmm", m, k, &row_ptr, &col, &val, &nnz))
    return NULL;
  if (!get_f32(env, argv[6], "spmm", "b", (int64_t)k * n, &b) || !get_f32(env, argv[7], "spmm", "c", (int64_t)m * n, &c))
    return NULL;
  if (overlaps(c, (int64_t)m * n, b, (int64_t)k * n) || overlaps(c, (int64_t)m * n, val, nnz)) {
    napi_throw_range_error(env, NULL, "spmm: c must not share memory with b or val");
    return NULL;
  }
  int threads = 1;
  if (argc_spmm > 8 && !get_int(env, argv[8], "threads", 1, &threads)) return NULL;
  const struct xbar_spmm_pairs *pairs = NULL;
  napi_valuetype type = napi_undefined;
  if (argc_spmm > 9 && napi_typeof(env, argv[9], &type) == napi_ok && type != napi_undefined && type != napi_null) {
    void *data;
    int pm, pk;
    long long pnnz;
    if (type != napi_external || napi_get_value_external(env, argv[9], &data) != napi_ok) {
      napi_throw_type_error(env, NULL, "spmm: pairs must come from spmmPairs");
      return NULL;
    }
    xbar_spmm_pairs_shape(data, &pm, &pk, &pnnz);
    if (pm != m || pk != k || pnnz != nnz) {
      napi_throw_range_error(env, NULL, "spmm: pairs were planned for another matrix (rows, columns or nonzeros differ)");
      return NULL;
    }
    pairs = data;
  }
  xbar_spmm(m, n, k, row_ptr, col, val, b, c, threads, pairs);
  return NULL;
}

/* Log-normal programming variation drawn from a Philox4x32-10 stream (src/core/philox.ts) with the
 * portable log, cos/sin and exp of src/core/portable-math.ts: the same operations in the same
 * order, each rounded exactly by IEEE 754 and never fused (fp-contract=off; the AVX2 path is
 * compiled without FMA), so every path here gives the JS loop's bits (kernels-js.ts
 * lognormalPairs; the tests compare a million draws). Cell i takes words 2(i mod 2) and
 * 2(i mod 2) + 1 of block floor(i / 2): any range of cells can be drawn by any thread.
 * With `raw` (normalPairs: the per-read 1/f noise of aging) the same pair (r cos, r sin) is
 * written as it is, without the exp and the target. */

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

struct philox_stream {
  uint32_t key0, key1, ctr2, ctr3;
};

static inline void philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                              uint32_t out[4]) {
  for (int r = 0; r < 10; r++) {
    const uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
    const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

static const double LN2_HI = 6.93147180369123816490e-1, LN2_LO = 1.90821492927058770002e-10,
                    LG1 = 6.666666666666735130e-1, LG2 = 3.999999999940941908e-1, LG3 = 2.857142874366239149e-1,
                    LG4 = 2.222219843214978396e-1, LG5 = 1.818357216161805012e-1, LG6 = 1.531383769920937332e-1,
                    LG7 = 1.479819860511658591e-1, SQRT2 = 1.4142135623730951;
static const double S1 = -1.66666666666666324348e-1, S2 = 8.33333333332248946124e-3, S3 = -1.98412698298579493134e-4,
                    S4 = 2.75573137070700676789e-6, S5 = -2.50507602534068634195e-8, S6 = 1.58969099521155010221e-10,
                    C1 = 4.16666666666666019037e-2, C2 = -1.38888888888741095749e-3, C3 = 2.48015872894767294178e-5,
                    C4 = -2.75573143513906633035e-7, C5 = 2.08757232129817482790e-9, C6 = -1.13596475577881948265e-11;
/* 2 pi / 2^32 = pi / 2^31 */
static const double TURN_UNIT = 3.141592653589793 / 2147483648.0;
static const double INV_LN2 = 1.44269504088896338700, P1 = 1.66666666666666019037e-1, P2 = -2.77777777770155933842e-3,
                    P3 = 6.61375632143793436117e-5, P4 = -1.65339022054652515390e-6, P5 = 4.13813679705723846039e-8;

/* 2^k for an integer k in the normal range, from its bits (what the JS table holds). */
static inline double pow2i(int k) {
  const uint64_t bits = (uint64_t)(k + 1023) << 52;
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

__attribute__((optimize("fp-contract=off"))) static double log_unit(uint32_t x) {
  int e;
  double m;
  if (x == 0) {
    e = -1;
    m = 1;
  } else {
    e = 31 - __builtin_clz(x);
    m = ((double)x + 0.5) * pow2i(-e);
  }
  if (m > SQRT2) {
    m = m * 0.5;
    e = e + 1;
  }
  const double k = e - 32;
  const double f = m - 1;
  const double hfsq = (0.5 * f) * f;
  const double s = f / (2 + f);
  const double z = s * s;
  const double w = z * z;
  const double t1 = w * (LG2 + w * (LG4 + w * LG6));
  const double t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const double r = t2 + t1;
  return k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f);
}

__attribute__((optimize("fp-contract=off"))) static void cos_sin_turn(uint32_t y, double *cos_out, double *sin_out) {
  const double j = floor(((double)y + 536870912.0) * (1.0 / 1073741824.0));
  const double x = (((double)y - j * 1073741824.0) + 0.5) * TURN_UNIT;
  const double z = x * x;
  const double w = z * z;
  const double rs = (S2 + z * (S3 + z * S4)) + (z * w) * (S5 + z * S6);
  const double sn = x + (z * x) * (S1 + z * rs);
  const double rc = z * (C1 + z * (C2 + z * C3)) + (w * w) * (C4 + z * (C5 + z * C6));
  const double hz = 0.5 * z;
  const double v = 1 - hz;
  const double cs = v + (((1 - v) - hz) + z * rc);
  switch ((int)j & 3) {
  case 0: *cos_out = cs, *sin_out = sn; break;
  case 1: *cos_out = -sn, *sin_out = cs; break;
  case 2: *cos_out = -cs, *sin_out = -sn; break;
  default: *cos_out = sn, *sin_out = -cs;
  }
}

__attribute__((optimize("fp-contract=off"))) static double exp_portable(double a) {
  const double x = a > 710 ? 710 : a < -746 ? -746 : a;
  const double k = floor(x * INV_LN2 + 0.5);
  const double hi = x - k * LN2_HI;
  const double lo = k * LN2_LO;
  const double r = hi - lo;
  const double rr = r * r;
  const double c = r - rr * (P1 + rr * (P2 + rr * (P3 + rr * (P4 + rr * P5))));
  const double y = 1 + (((r * c) / (2 - c) - lo) + hi);
  const int ki = (int)k, k1 = ki >> 1;
  return (y * pow2i(k1)) * pow2i(ki - k1);
}

/* Cells [i0, i1) one at a time: the reference path, the tails of the vector path. */
__attribute__((optimize("fp-contract=off"))) static void lognormal_scalar(int64_t i0, int64_t i1, const double *t_pos,
                                                                         const double *t_neg, double sigma,
                                                                         const struct philox_stream *st, double *g_pos,
                                                                         double *g_neg, bool raw) {
  uint32_t w[4];
  for (int64_t i = i0; i < i1; i++) {
    const int o = (int)(i & 1) * 2;
    if (o == 0 || i == i0) {
      const uint64_t b = (uint64_t)i >> 1;
      philox4x32((uint32_t)b, (uint32_t)(b >> 32), st->ctr2, st->ctr3, st->key0, st->key1, w);
    }
    const double r = sqrt(-2 * log_unit(w[o]));
    double cs, sn;
    cos_sin_turn(w[o + 1], &cs, &sn);
    if (raw) {
      g_pos[i] = r * cs;
      g_neg[i] = r * sn;
      continue;
    }
    g_pos[i] = t_pos[i] * exp_portable(sigma * (r * cs));
    g_neg[i] = t_neg[i] * exp_portable(sigma * (r * sn));
  }
}

#ifdef XBAR_X86
#define AVX2_FN __attribute__((target("avx2"), optimize("fp-contract=off"))) static inline
/* 64-bit lanes holding integers below 2^52 as doubles, exactly (or-ing into 2^52's mantissa). */
AVX2_FN __m256d u52_to_pd(__m256i v) {
  const __m256d two52 = _mm256_set1_pd(4503599627370496.0);
  return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, _mm256_castpd_si256(two52))), two52);
}

/* 2^k for four int32 k, from their bits. */
AVX2_FN __m256d pow2_pd(__m128i k) {
  const __m256i e = _mm256_add_epi64(_mm256_cvtepi32_epi64(k), _mm256_set1_epi64x(1023));
  return _mm256_castsi256_pd(_mm256_slli_epi64(e, 52));
}

/* log_unit on four words (low halves of 64-bit lanes, upper halves zero). */
AVX2_FN __m256d log_unit4(__m256i x) {
  const __m256d big = _mm256_add_pd(u52_to_pd(x), _mm256_set1_pd(0.5)); /* x + 0.5, exact */
  const __m256i bits = _mm256_castpd_si256(big);
  /* e = exponent - 1023 as a double; m = the significand in [1, 2) (x = 0: 0.5 = 2^-1 * 1). */
  const __m256d ebiased = u52_to_pd(_mm256_srli_epi64(bits, 52));
  __m256d e = _mm256_sub_pd(ebiased, _mm256_set1_pd(1023));
  __m256d m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL)),
                                                  _mm256_set1_epi64x(0x3FF0000000000000LL)));
  const __m256d over = _mm256_cmp_pd(m, _mm256_set1_pd(SQRT2), _CMP_GT_OQ);
  m = _mm256_blendv_pd(m, _mm256_mul_pd(m, _mm256_set1_pd(0.5)), over);
  e = _mm256_blendv_pd(e, _mm256_add_pd(e, _mm256_set1_pd(1)), over);
  const __m256d k = _mm256_sub_pd(e, _mm256_set1_pd(32));
  const __m256d one = _mm256_set1_pd(1), half = _mm256_set1_pd(0.5);
  const __m256d f = _mm256_sub_pd(m, one);
  const __m256d hfsq = _mm256_mul_pd(_mm256_mul_pd(half, f), f);
  const __m256d s = _mm256_div_pd(f, _mm256_add_pd(_mm256_set1_pd(2), f));
  const __m256d z = _mm256_mul_pd(s, s);
  const __m256d w = _mm256_mul_pd(z, z);
#define C(v) _mm256_set1_pd(v)
  const __m256d t1 = _mm256_mul_pd(w, _mm256_add_pd(C(LG2), _mm256_mul_pd(w, _mm256_add_pd(C(LG4), _mm256_mul_pd(w, C(LG6))))));
  const __m256d t2 = _mm256_mul_pd(
      z, _mm256_add_pd(C(LG1), _mm256_mul_pd(w, _mm256_add_pd(C(LG3), _mm256_mul_pd(w, _mm256_add_pd(C(LG5), _mm256_mul_pd(w, C(LG7))))))));
  const __m256d r = _mm256_add_pd(t2, t1);
  /* k LN2_HI - ((hfsq - (s (hfsq + r) + k LN2_LO)) - f) */
  const __m256d inner = _mm256_add_pd(_mm256_mul_pd(s, _mm256_add_pd(hfsq, r)), _mm256_mul_pd(k, C(LN2_LO)));
  return _mm256_sub_pd(_mm256_mul_pd(k, C(LN2_HI)), _mm256_sub_pd(_mm256_sub_pd(hfsq, inner), f));
}

AVX2_FN __m256d neg_if(__m256d v, __m256i mask) {
  return _mm256_xor_pd(v, _mm256_and_pd(_mm256_castsi256_pd(mask), _mm256_set1_pd(-0.0)));
}

AVX2_FN void cos_sin_turn4(__m256i y, __m256d *cos_out, __m256d *sin_out) {
  const __m256d yd = u52_to_pd(y);
  const __m256d j = _mm256_floor_pd(_mm256_mul_pd(_mm256_add_pd(yd, C(536870912.0)), C(1.0 / 1073741824.0)));
  const __m256d x = _mm256_mul_pd(_mm256_add_pd(_mm256_sub_pd(yd, _mm256_mul_pd(j, C(1073741824.0))), C(0.5)), C(TURN_UNIT));
  const __m256d z = _mm256_mul_pd(x, x);
  const __m256d w = _mm256_mul_pd(z, z);
  const __m256d rs = _mm256_add_pd(_mm256_add_pd(C(S2), _mm256_mul_pd(z, _mm256_add_pd(C(S3), _mm256_mul_pd(z, C(S4))))),
                                   _mm256_mul_pd(_mm256_mul_pd(z, w), _mm256_add_pd(C(S5), _mm256_mul_pd(z, C(S6)))));
  const __m256d sn = _mm256_add_pd(x, _mm256_mul_pd(_mm256_mul_pd(z, x), _mm256_add_pd(C(S1), _mm256_mul_pd(z, rs))));
  const __m256d rc = _mm256_add_pd(
      _mm256_mul_pd(z, _mm256_add_pd(C(C1), _mm256_mul_pd(z, _mm256_add_pd(C(C2), _mm256_mul_pd(z, C(C3)))))),
      _mm256_mul_pd(_mm256_mul_pd(w, w), _mm256_add_pd(C(C4), _mm256_mul_pd(z, _mm256_add_pd(C(C5), _mm256_mul_pd(z, C(C6)))))));
  const __m256d hz = _mm256_mul_pd(C(0.5), z);
  const __m256d v = _mm256_sub_pd(C(1), hz);
  const __m256d cs = _mm256_add_pd(v, _mm256_add_pd(_mm256_sub_pd(_mm256_sub_pd(C(1), v), hz), _mm256_mul_pd(z, rc)));
  /* Quarter turn q = j mod 4: (cos, sin) = (c, s), (-s, c), (-c, -s), (s, -c). */
  const __m256i q = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(j));
  const __m256i one = _mm256_set1_epi64x(1), two = _mm256_set1_epi64x(2);
  const __m256i odd = _mm256_cmpeq_epi64(_mm256_and_si256(q, one), one);
  const __m256d swapc = _mm256_blendv_pd(cs, sn, _mm256_castsi256_pd(odd));
  const __m256d swaps = _mm256_blendv_pd(sn, cs, _mm256_castsi256_pd(odd));
  *cos_out = neg_if(swapc, _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_add_epi64(q, one), two), two));
  *sin_out = neg_if(swaps, _mm256_cmpeq_epi64(_mm256_and_si256(q, two), two));
}

AVX2_FN __m256d exp4(__m256d a) {
  const __m256d x = _mm256_min_pd(_mm256_max_pd(a, C(-746.0)), C(710.0));
  const __m256d k = _mm256_floor_pd(_mm256_add_pd(_mm256_mul_pd(x, C(INV_LN2)), C(0.5)));
  const __m256d hi = _mm256_sub_pd(x, _mm256_mul_pd(k, C(LN2_HI)));
  const __m256d lo = _mm256_mul_pd(k, C(LN2_LO));
  const __m256d r = _mm256_sub_pd(hi, lo);
  const __m256d rr = _mm256_mul_pd(r, r);
  const __m256d poly = _mm256_add_pd(
      C(P1), _mm256_mul_pd(rr, _mm256_add_pd(C(P2), _mm256_mul_pd(rr, _mm256_add_pd(C(P3), _mm256_mul_pd(rr, _mm256_add_pd(C(P4), _mm256_mul_pd(rr, C(P5)))))))));
  const __m256d c = _mm256_sub_pd(r, _mm256_mul_pd(rr, poly));
  const __m256d y = _mm256_add_pd(
      C(1), _mm256_add_pd(_mm256_sub_pd(_mm256_div_pd(_mm256_mul_pd(r, c), _mm256_sub_pd(C(2), c)), lo), hi));
  const __m128i ki = _mm256_cvtpd_epi32(k), k1 = _mm_srai_epi32(ki, 1);
  return _mm256_mul_pd(_mm256_mul_pd(y, pow2_pd(k1)), pow2_pd(_mm_sub_epi32(ki, k1)));
}

/* Cells [i0, i1), i0 and i1 multiples of 8: four blocks (eight cells) per step, the block's words
 * in the low halves of 64-bit lanes (_mm256_mul_epu32 multiplies those). */
__attribute__((target("avx2"), optimize("fp-contract=off"))) static void lognormal_avx2(
    int64_t i0, int64_t i1, const double *t_pos, const double *t_neg, double sigma, const struct philox_stream *st,
    double *g_pos, double *g_neg, bool raw) {
  const __m256i low = _mm256_set1_epi64x(0xFFFFFFFFLL);
  const __m256i m0 = _mm256_set1_epi64x(PHILOX_M0), m1 = _mm256_set1_epi64x(PHILOX_M1);
  const __m256d sg = _mm256_set1_pd(sigma);
  for (int64_t i = i0; i < i1; i += 8) {
    const uint64_t b = (uint64_t)i >> 1;
    __m256i c0 = _mm256_set_epi64x((uint32_t)(b + 3), (uint32_t)(b + 2), (uint32_t)(b + 1), (uint32_t)b);
    __m256i c1 = _mm256_set_epi64x((b + 3) >> 32, (b + 2) >> 32, (b + 1) >> 32, b >> 32);
    __m256i c2 = _mm256_set1_epi64x(st->ctr2), c3 = _mm256_set1_epi64x(st->ctr3);
    uint32_t k0 = st->key0, k1 = st->key1;
    for (int r = 0; r < 10; r++) {
      const __m256i p0 = _mm256_mul_epu32(c0, m0), p1 = _mm256_mul_epu32(c2, m1);
      const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1), _mm256_set1_epi64x(k0));
      const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3), _mm256_set1_epi64x(k1));
      c1 = _mm256_and_si256(p1, low);
      c3 = _mm256_and_si256(p0, low);
      c0 = n0;
      c2 = n2;
      k0 += PHILOX_W0;
      k1 += PHILOX_W1;
    }
    /* Even cells (2b) use words 0 and 1, odd cells (2b + 1) words 2 and 3. */
    const __m256d re = _mm256_sqrt_pd(_mm256_mul_pd(C(-2.0), log_unit4(c0)));
    const __m256d ro = _mm256_sqrt_pd(_mm256_mul_pd(C(-2.0), log_unit4(c2)));
    __m256d ce, se, co, so;
    cos_sin_turn4(c1, &ce, &se);
    cos_sin_turn4(c3, &co, &so);
    if (raw) {
      const __m256d pe = _mm256_mul_pd(re, ce), ne = _mm256_mul_pd(re, se);
      const __m256d po = _mm256_mul_pd(ro, co), no = _mm256_mul_pd(ro, so);
      const __m256d plo = _mm256_unpacklo_pd(pe, po), phi = _mm256_unpackhi_pd(pe, po);
      const __m256d nlo = _mm256_unpacklo_pd(ne, no), nhi = _mm256_unpackhi_pd(ne, no);
      _mm256_storeu_pd(g_pos + i, _mm256_permute2f128_pd(plo, phi, 0x20));
      _mm256_storeu_pd(g_pos + i + 4, _mm256_permute2f128_pd(plo, phi, 0x31));
      _mm256_storeu_pd(g_neg + i, _mm256_permute2f128_pd(nlo, nhi, 0x20));
      _mm256_storeu_pd(g_neg + i + 4, _mm256_permute2f128_pd(nlo, nhi, 0x31));
      continue;
    }
    const __m256d pe = exp4(_mm256_mul_pd(sg, _mm256_mul_pd(re, ce))), ne = exp4(_mm256_mul_pd(sg, _mm256_mul_pd(re, se)));
    const __m256d po = exp4(_mm256_mul_pd(sg, _mm256_mul_pd(ro, co))), no = exp4(_mm256_mul_pd(sg, _mm256_mul_pd(ro, so)));
    /* (e0 e1 e2 e3), (o0 o1 o2 o3) -> (e0 o0 e1 o1), (e2 o2 e3 o3): cells i .. i + 7 in order. */
    const __m256d plo = _mm256_unpacklo_pd(pe, po), phi = _mm256_unpackhi_pd(pe, po);
    const __m256d nlo = _mm256_unpacklo_pd(ne, no), nhi = _mm256_unpackhi_pd(ne, no);
    _mm256_storeu_pd(g_pos + i, _mm256_mul_pd(_mm256_loadu_pd(t_pos + i), _mm256_permute2f128_pd(plo, phi, 0x20)));
    _mm256_storeu_pd(g_pos + i + 4, _mm256_mul_pd(_mm256_loadu_pd(t_pos + i + 4), _mm256_permute2f128_pd(plo, phi, 0x31)));
    _mm256_storeu_pd(g_neg + i, _mm256_mul_pd(_mm256_loadu_pd(t_neg + i), _mm256_permute2f128_pd(nlo, nhi, 0x20)));
    _mm256_storeu_pd(g_neg + i + 4, _mm256_mul_pd(_mm256_loadu_pd(t_neg + i + 4), _mm256_permute2f128_pd(nlo, nhi, 0x31)));
  }
}

/* exp_scaled on cells [0, n4), n4 a multiple of 4: four floats widened to doubles (exact), times c, exp4. */
__attribute__((target("avx2"), optimize("fp-contract=off"))) static void exp_scaled_avx2(int64_t n4, const float *x, double c,
                                                                                         double *out) {
  const __m256d cc = _mm256_set1_pd(c);
  for (int64_t i = 0; i < n4; i += 4) _mm256_storeu_pd(out + i, exp4(_mm256_mul_pd(cc, _mm256_cvtps_pd(_mm_loadu_ps(x + i)))));
}
#undef C
#endif

struct lognormal_job {
  int64_t i0, i1;
  const double *t_pos, *t_neg;
  double sigma;
  struct philox_stream st;
  double *g_pos, *g_neg;
  bool vector, raw;
};

static void *lognormal_run(void *arg) {
  const struct lognormal_job *j = arg;
  int64_t i = j->i0;
#ifdef XBAR_X86
  if (j->vector) {
    const int64_t v0 = (j->i0 + 7) & ~(int64_t)7, v1 = j->i1 & ~(int64_t)7;
    if (v1 > v0) {
      lognormal_scalar(j->i0, v0, j->t_pos, j->t_neg, j->sigma, &j->st, j->g_pos, j->g_neg, j->raw);
      lognormal_avx2(v0, v1, j->t_pos, j->t_neg, j->sigma, &j->st, j->g_pos, j->g_neg, j->raw);
      i = v1;
    }
  }
#endif
  lognormal_scalar(i, j->i1, j->t_pos, j->t_neg, j->sigma, &j->st, j->g_pos, j->g_neg, j->raw);
  return NULL;
}

/* Cells [0, n) split between threads in multiples of 8; each cell is a function of its index
 * alone, so the thread count never changes a bit. */
static void philox_pairs(int64_t n, const double *t_pos, const double *t_neg, double sigma, const uint32_t words[4],
                         double *g_pos, double *g_neg, bool raw, int threads) {
  /* Below ~16k cells a thread costs more to start than it saves. */
  if ((int64_t)threads > n / 16384) threads = n / 16384 > 1 ? (int)(n / 16384) : 1;
  if (threads > 16) threads = 16;
  bool vector = false;
#ifdef XBAR_X86
  vector = __builtin_cpu_supports("avx2") && !getenv("XBAR_NO_AVX2");
#endif
  const struct philox_stream st = {words[0], words[1], words[2], words[3]};
  struct lognormal_job jobs[16];
  pthread_t ids[16];
  int started = 0;
  for (int t = 0; t < threads; t++) {
    const int64_t i0 = (n * t / threads) & ~(int64_t)7, i1 = t == threads - 1 ? n : (n * (t + 1) / threads) & ~(int64_t)7;
    jobs[t] = (struct lognormal_job){i0, i1, t_pos, t_neg, sigma, st, g_pos, g_neg, vector, raw};
    if (t == threads - 1 || pthread_create(&ids[t], NULL, lognormal_run, &jobs[t]) != 0) lognormal_run(&jobs[t]);
    else started |= 1 << t;
  }
  for (int t = 0; t < threads; t++)
    if (started & (1 << t)) pthread_join(ids[t], NULL);
}

/* The four words of a Philox stream name from argv[0..3], each an integer in [0, 2^32). */
static bool get_stream(napi_env env, napi_value *argv, const char *fn, uint32_t words[4]) {
  static const char *wnames[] = {"key0", "key1", "ctr2", "ctr3"};
  for (int w = 0; w < 4; w++) {
    double d;
    if (napi_get_value_double(env, argv[w], &d) != napi_ok || d != floor(d) || d < 0 || d > 4294967295.0) {
      char msg[128];
      snprintf(msg, sizeof msg, "%s: %s must be an integer in [0, 4294967295]", fn, wnames[w]);
      napi_throw_range_error(env, NULL, msg);
      return false;
    }
    words[w] = (uint32_t)d;
  }
  return true;
}

/* lognormalPhilox(tPos, tNeg, sigma, key0, key1, ctr2, ctr3, gPos, gNeg, threads): tPos, tNeg,
 * gPos, gNeg Float64Arrays of one length. */
static napi_value lognormal_philox(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!get_args(env, info, "lognormalPhilox", 10, argv)) return NULL;
  static const char *names[] = {"tPos", "tNeg", NULL, NULL, NULL, NULL, NULL, "gPos", "gNeg"};
  double *arr[9] = {0};
  size_t n = 0;
  for (int a = 0; a < 9; a++) {
    if (!names[a]) continue;
    size_t len;
    if (!get_typed(env, argv[a], "lognormalPhilox", names[a], napi_float64_array, "a Float64Array", &len, (void **)&arr[a]))
      return NULL;
    if (a == 0) n = len;
    else if (len != n) {
      napi_throw_range_error(env, NULL, "lognormalPhilox: tPos, tNeg, gPos and gNeg must have one length");
      return NULL;
    }
  }
  double sigma;
  if (napi_get_value_double(env, argv[2], &sigma) != napi_ok || !(sigma >= 0) || isinf(sigma)) {
    napi_throw_range_error(env, NULL, "lognormalPhilox: sigma must be a finite number >= 0");
    return NULL;
  }
  uint32_t words[4];
  if (!get_stream(env, argv + 3, "lognormalPhilox", words)) return NULL;
  int threads;
  if (!get_int(env, argv[9], "threads", 1, &threads)) return NULL;
  philox_pairs((int64_t)n, arr[0], arr[1], sigma, words, arr[7], arr[8], false, threads);
  return NULL;
}

/* normalPhilox(key0, key1, ctr2, ctr3, zPos, zNeg, threads): the standard normal pair of every
 * cell (Kernels.normalPairs), zPos and zNeg Float64Arrays of one length. */
static napi_value normal_philox(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!get_args(env, info, "normalPhilox", 7, argv)) return NULL;
  uint32_t words[4];
  if (!get_stream(env, argv, "normalPhilox", words)) return NULL;
  double *z[2];
  size_t len[2];
  static const char *names[] = {"zPos", "zNeg"};
  for (int a = 0; a < 2; a++)
    if (!get_typed(env, argv[4 + a], "normalPhilox", names[a], napi_float64_array, "a Float64Array", &len[a], (void **)&z[a]))
      return NULL;
  if (len[0] != len[1]) {
    napi_throw_range_error(env, NULL, "normalPhilox: zPos and zNeg must have one length");
    return NULL;
  }
  int threads;
  if (!get_int(env, argv[6], "threads", 1, &threads)) return NULL;
  philox_pairs((int64_t)len[0], NULL, NULL, 0, words, z[0], z[1], true, threads);
  return NULL;
}

/* expScaled(x, c, out): out[i] = exp(c x[i]) with the portable exp (Kernels.expScaled: aging's drift
 * factors), x a Float32Array, out a Float64Array of its length. One thread: a few hundred thousand
 * cells take well under a millisecond, about what starting a thread costs. */
__attribute__((optimize("fp-contract=off"))) static napi_value exp_scaled(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, "expScaled", 3, argv)) return NULL;
  float *x;
  double *out;
  size_t n, nOut;
  if (!get_typed(env, argv[0], "expScaled", "x", napi_float32_array, "a Float32Array", &n, (void **)&x) ||
      !get_typed(env, argv[2], "expScaled", "out", napi_float64_array, "a Float64Array", &nOut, (void **)&out))
    return NULL;
  double c;
  if (napi_get_value_double(env, argv[1], &c) != napi_ok || !isfinite(c)) {
    napi_throw_range_error(env, NULL, "expScaled: c must be a finite number");
    return NULL;
  }
  if (nOut != n) {
    napi_throw_range_error(env, NULL, "expScaled: x and out must have one length");
    return NULL;
  }
  int64_t i = 0;
#ifdef XBAR_X86
  if (__builtin_cpu_supports("avx2") && !getenv("XBAR_NO_AVX2")) {
    i = (int64_t)n & ~(int64_t)3;
    exp_scaled_avx2(i, x, c, out);
  }
#endif
  for (; i < (int64_t)n; i++) out[i] = exp_portable(c * (double)x[i]);
  return NULL;
}

/* adamStep(w, g, m, v, beta1, beta2, c1, c2, lr, eps, decay): nn/optim.ts's Adam loop (the JS
 * kernel in kernels-js.ts), element by element in double, each moment rounded to float when
 * stored and read back rounded, products left to right, never fused: the same bits. The AVX2 path
 * does four elements at once with the same IEEE operations (division and square root are
 * correctly rounded in both). */
#define ADAM_ONE(i)                                                                             \
  do {                                                                                          \
    const double gi = (double)g[i];                                                             \
    m[i] = (float)(beta1 * (double)m[i] + (1 - beta1) * gi);                                    \
    v[i] = (float)(beta2 * (double)v[i] + (1 - beta2) * gi * gi);                               \
    w[i] = (float)((double)w[i] * decay - (lr * ((double)m[i] / c1)) / (sqrt((double)v[i] / c2) + eps)); \
  } while (0)

__attribute__((optimize("fp-contract=off"))) static void adam_scalar(int64_t i0, int64_t n, float *w, const float *g,
                                                                     float *m, float *v, double beta1, double beta2,
                                                                     double c1, double c2, double lr, double eps,
                                                                     double decay) {
  for (int64_t i = i0; i < n; i++) ADAM_ONE(i);
}

#ifdef XBAR_X86
__attribute__((target("avx2"), optimize("fp-contract=off"))) static void adam_avx2(int64_t n4, float *w, const float *g,
                                                                                  float *m, float *v, double beta1,
                                                                                  double beta2, double c1, double c2,
                                                                                  double lr, double eps, double decay) {
  const __m256d b1 = _mm256_set1_pd(beta1), b2 = _mm256_set1_pd(beta2), nb1 = _mm256_set1_pd(1 - beta1),
                nb2 = _mm256_set1_pd(1 - beta2), vc1 = _mm256_set1_pd(c1), vc2 = _mm256_set1_pd(c2),
                vlr = _mm256_set1_pd(lr), veps = _mm256_set1_pd(eps), vdecay = _mm256_set1_pd(decay);
  for (int64_t i = 0; i < n4; i += 4) {
    const __m256d gi = _mm256_cvtps_pd(_mm_loadu_ps(g + i));
    const __m128 mf = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(b1, _mm256_cvtps_pd(_mm_loadu_ps(m + i))), _mm256_mul_pd(nb1, gi)));
    const __m128 vf = _mm256_cvtpd_ps(
        _mm256_add_pd(_mm256_mul_pd(b2, _mm256_cvtps_pd(_mm_loadu_ps(v + i))), _mm256_mul_pd(_mm256_mul_pd(nb2, gi), gi)));
    _mm_storeu_ps(m + i, mf);
    _mm_storeu_ps(v + i, vf);
    const __m256d step = _mm256_div_pd(_mm256_mul_pd(vlr, _mm256_div_pd(_mm256_cvtps_pd(mf), vc1)),
                                       _mm256_add_pd(_mm256_sqrt_pd(_mm256_div_pd(_mm256_cvtps_pd(vf), vc2)), veps));
    const __m256d wn = _mm256_sub_pd(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(w + i)), vdecay), step);
    _mm_storeu_ps(w + i, _mm256_cvtpd_ps(wn));
  }
}
#endif

static napi_value adam_step(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  if (!get_args(env, info, "adamStep", 11, argv)) return NULL;
  static const char *names[] = {"w", "g", "m", "v"};
  float *a[4];
  size_t len[4];
  for (int k = 0; k < 4; k++)
    if (!get_typed(env, argv[k], "adamStep", names[k], napi_float32_array, "a Float32Array", &len[k], (void **)&a[k]))
      return NULL;
  if (len[1] != len[0] || len[2] != len[0] || len[3] != len[0]) {
    napi_throw_range_error(env, NULL, "adamStep: w, g, m and v must have one length");
    return NULL;
  }
  double h[7];
  static const char *hn[] = {"beta1", "beta2", "c1", "c2", "lr", "eps", "decay"};
  for (int k = 0; k < 7; k++)
    if (napi_get_value_double(env, argv[4 + k], &h[k]) != napi_ok || !isfinite(h[k])) {
      char msg[80];
      snprintf(msg, sizeof msg, "adamStep: %s must be a finite number", hn[k]);
      napi_throw_range_error(env, NULL, msg);
      return NULL;
    }
  const int64_t n = (int64_t)len[0];
  int64_t i = 0;
#ifdef XBAR_X86
  if (__builtin_cpu_supports("avx2") && !getenv("XBAR_NO_AVX2")) {
    i = n & ~(int64_t)3;
    adam_avx2(i, a[0], a[1], a[2], a[3], h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
  }
#endif
  adam_scalar(i, n, a[0], a[1], a[2], a[3], h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
  return NULL;
}

/* ---- Per-channel passes of training (native/channels.c); checks as kernel-checks.ts's. ---- */

static bool channels_f32(napi_env env, napi_value v, const char *fn, const char *name, float **data, size_t *len) {
  return get_typed(env, v, fn, name, napi_float32_array, "a Float32Array", len, (void **)data);
}

static napi_value range_error(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

/* channelMeans(x, pixels, c, y): y[n*c + ch] = the mean of channel ch over image n's pixels. */
static napi_value channel_means(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  float *x, *y;
  size_t nx, ny;
  int pixels, c;
  if (!get_args(env, info, "channelMeans", 4, argv) || !channels_f32(env, argv[0], "channelMeans", "x", &x, &nx) ||
      !get_int(env, argv[1], "pixels", 1, &pixels) || !get_int(env, argv[2], "c", 1, &c) ||
      !channels_f32(env, argv[3], "channelMeans", "y", &y, &ny))
    return NULL;
  if (ny % (size_t)c != 0) return range_error(env, "channelMeans: y.length must be a multiple of c");
  if ((int64_t)nx != (int64_t)ny * pixels) return range_error(env, "channelMeans: x must hold y.length * pixels elements");
  if (overlaps(y, (int64_t)ny, x, (int64_t)nx)) return range_error(env, "channelMeans: y must not share memory with x");
  xbar_channel_means(x, (int64_t)(ny / (size_t)c), pixels, c, y);
  return NULL;
}

/* columnSums(x, rows, out): out[j] += the sum of column j over x's first rows rows (out.length columns). */
static napi_value column_sums(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  float *x, *out;
  size_t nx, c;
  int rows;
  if (!get_args(env, info, "columnSums", 3, argv) || !channels_f32(env, argv[0], "columnSums", "x", &x, &nx) ||
      !get_int(env, argv[1], "rows", 0, &rows) || !channels_f32(env, argv[2], "columnSums", "out", &out, &c))
    return NULL;
  if ((int64_t)nx < (int64_t)rows * (int64_t)c) return range_error(env, "columnSums: x has fewer than rows * out.length elements");
  if (overlaps(out, (int64_t)c, x, (int64_t)rows * (int64_t)c)) return range_error(env, "columnSums: out must not share memory with x");
  xbar_column_sums(x, rows, (int64_t)c, out);
  return NULL;
}

/* reluGrad(x, dy, dx): dx = x > 0 ? dy : 0. */
static napi_value relu_grad(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  float *a[3];
  size_t len[3];
  static const char *names[] = {"x", "dy", "dx"};
  if (!get_args(env, info, "reluGrad", 3, argv)) return NULL;
  for (int k = 0; k < 3; k++)
    if (!channels_f32(env, argv[k], "reluGrad", names[k], &a[k], &len[k])) return NULL;
  if (len[1] != len[0] || len[2] != len[0]) return range_error(env, "reluGrad: x, dy and dx must have one length");
  const int64_t n = (int64_t)len[0];
  if (overlaps(a[2], n, a[0], n) || overlaps(a[2], n, a[1], n)) return range_error(env, "reluGrad: dx must not share memory with x or dy");
  xbar_relu_grad(a[0], a[1], a[2], n);
  return NULL;
}

/* reluInPlace(y): y = y < 0 ? +0 : y. */
static napi_value relu_in_place(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  float *y;
  size_t n;
  if (!get_args(env, info, "reluInPlace", 1, argv) || !channels_f32(env, argv[0], "reluInPlace", "y", &y, &n)) return NULL;
  xbar_relu_in_place(y, (int64_t)n);
  return NULL;
}

/* The two-array in-place passes (reluGradInPlace(x, dy), addInto(y, x)): arguments a[0], a[1] named
 * names[0], names[1] in call order, of one length; the one written (out) shares no memory with the other. */
static bool pair_in_place(napi_env env, napi_callback_info info, const char *fn, const char *names[2], int out, float *a[2],
                          size_t *n) {
  napi_value argv[2];
  size_t len[2];
  char msg[160];
  if (!get_args(env, info, fn, 2, argv)) return false;
  for (int k = 0; k < 2; k++)
    if (!channels_f32(env, argv[k], fn, names[k], &a[k], &len[k])) return false;
  if (len[0] != len[1]) {
    snprintf(msg, sizeof msg, "%s: %s and %s must have one length", fn, names[0], names[1]);
    range_error(env, msg);
    return false;
  }
  *n = len[0];
  if (overlaps(a[out], (int64_t)len[0], a[1 - out], (int64_t)len[0])) {
    snprintf(msg, sizeof msg, "%s: %s must not share memory with %s", fn, names[out], names[1 - out]);
    range_error(env, msg);
    return false;
  }
  return true;
}

/* reluGradInPlace(x, dy): dy = x <= 0 ? +0 : dy. */
static napi_value relu_grad_in_place(napi_env env, napi_callback_info info) {
  static const char *names[] = {"x", "dy"};
  float *a[2];
  size_t n;
  if (pair_in_place(env, info, "reluGradInPlace", names, 1, a, &n)) xbar_relu_grad_in_place(a[0], a[1], (int64_t)n);
  return NULL;
}

/* addInto(y, x): y += x. */
static napi_value add_into(napi_env env, napi_callback_info info) {
  static const char *names[] = {"y", "x"};
  float *a[2];
  size_t n;
  if (pair_in_place(env, info, "addInto", names, 0, a, &n)) xbar_add_into(a[0], a[1], (int64_t)n);
  return NULL;
}

/* Common checks of channelAffine and channelAffineGrad: scale and shift (or its gradient) of one
 * length c >= 1, the images of a length that is a multiple of c. */
static bool affine_shapes(napi_env env, const char *fn, size_t n, size_t c, size_t c2) {
  char msg[160];
  if (c < 1 || c2 != c) {
    snprintf(msg, sizeof msg, "%s: the per-channel arrays must have one length of at least 1", fn);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  if (n % c != 0) {
    snprintf(msg, sizeof msg, "%s: the activations' length must be a multiple of the channel count", fn);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  return true;
}

/* channelAffine(x, scale, shift, y): y = x * (1 + scale[ch]) + shift[ch]. */
static napi_value channel_affine(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  float *x, *s, *t, *y;
  size_t nx, ns, nt, ny;
  if (!get_args(env, info, "channelAffine", 4, argv) || !channels_f32(env, argv[0], "channelAffine", "x", &x, &nx) ||
      !channels_f32(env, argv[1], "channelAffine", "scale", &s, &ns) ||
      !channels_f32(env, argv[2], "channelAffine", "shift", &t, &nt) ||
      !channels_f32(env, argv[3], "channelAffine", "y", &y, &ny))
    return NULL;
  if (ny != nx) return range_error(env, "channelAffine: x and y must have one length");
  if (!affine_shapes(env, "channelAffine", nx, ns, nt)) return NULL;
  const int64_t n = (int64_t)nx;
  if (overlaps(y, n, x, n) || overlaps(y, n, s, (int64_t)ns) || overlaps(y, n, t, (int64_t)nt))
    return range_error(env, "channelAffine: y must not share memory with x, scale or shift");
  xbar_channel_affine(x, s, t, y, n, (int64_t)ns);
  return NULL;
}

/* channelAffineGrad(x, dy, scale, gScale, gShift, dx | null). */
static napi_value channel_affine_grad(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  float *a[6] = {NULL};
  size_t len[6] = {0};
  static const char *names[] = {"x", "dy", "scale", "gScale", "gShift", "dx"};
  if (!get_args(env, info, "channelAffineGrad", 6, argv)) return NULL;
  napi_valuetype t;
  if (napi_typeof(env, argv[5], &t) != napi_ok) return NULL;
  const int count = t == napi_null || t == napi_undefined ? 5 : 6;
  for (int k = 0; k < count; k++)
    if (!channels_f32(env, argv[k], "channelAffineGrad", names[k], &a[k], &len[k])) return NULL;
  if (len[1] != len[0] || (count == 6 && len[5] != len[0]))
    return range_error(env, "channelAffineGrad: x, dy and dx must have one length");
  if (!affine_shapes(env, "channelAffineGrad", len[0], len[2], len[3]) ||
      !affine_shapes(env, "channelAffineGrad", len[0], len[2], len[4]))
    return NULL;
  for (int o = 3; o < count; o++)
    for (int k = 0; k < count; k++)
      if (k != o && overlaps(a[o], (int64_t)len[o], a[k], (int64_t)len[k]))
        return range_error(env, "channelAffineGrad: gScale, gShift and dx must not share memory with any other argument");
  xbar_channel_affine_grad(a[0], a[1], a[2], a[3], a[4], a[5], (int64_t)len[0], (int64_t)len[2]);
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

/* OpenBLAS's level-3 scratch buffers (one per concurrent caller, ~128 MB of address space each) are
 * plain mmaps, so with transparent huge pages in "madvise" mode (the Debian default) their packed
 * panels live on 4 KB pages. In a VM every TLB miss is a two-level page walk, and on this machine's
 * Zen 1 cores two worker threads calling sgemm at once ran one of them ~1.7x slower (3.4-3.6 against
 * 2.0 ms for 1000x256x128 on one thread each; two processes were both at full speed), and a process
 * that never ran a multi-threaded product first was ~3x slower (the pool start below was that
 * workaround). With the buffers on 2 MB pages every caller runs at full speed, alone or together
 * (1.8-1.9 ms; docs/decisions.md). The buffers are OpenBLAS's own: take the slots the workers of
 * this process will use (blas_memory_alloc, an exported OpenBLAS symbol; weak, so another BLAS
 * simply skips this), advise huge pages before anything touches them (pages already touched stay
 * small), and hand them back. MADV_HUGEPAGE is only advice, so a hint past a smaller buffer's end
 * harms nothing; results are the same bits. */
extern void *blas_memory_alloc(int procpos) __attribute__((weak));
extern void blas_memory_free(void *buffer) __attribute__((weak));

static void blas_buffers_on_huge_pages(void) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  enum { MAX_SLOTS = 16 };
  const uintptr_t huge = (uintptr_t)2 << 20, span = (uintptr_t)32 << 20;
  /* XBAR_NO_HUGE_PAGES leaves the buffers as OpenBLAS makes them (bench/blas-threads.mjs's "before"). */
  if (!blas_memory_alloc || !blas_memory_free || getenv("XBAR_NO_HUGE_PAGES")) return;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int slots = cpus > 0 && cpus + 2 < MAX_SLOTS ? (int)cpus + 2 : MAX_SLOTS;
  void *held[MAX_SLOTS];
  int n = 0;
  for (; n < slots; n++) {
    held[n] = blas_memory_alloc(0);
    if (!held[n]) break;
    const uintptr_t from = ((uintptr_t)held[n] + huge - 1) & ~(huge - 1);
    const uintptr_t to = ((uintptr_t)held[n] + span) & ~(huge - 1);
    if (to > from) madvise((void *)from, to - from, MADV_HUGEPAGE);
  }
  while (n > 0) blas_memory_free(held[--n]);
#endif
}

/* OpenBLAS 0.3.21 (pthreads) runs single-threaded products about 3x slower until its thread pool
 * has run one multi-threaded product: 11 against 33 GFLOP/s for 1024x784x256 on one thread on this
 * machine's Zen cores, with the same bits either way (checked on six shapes, both transposes). A
 * process that only ever asks for one thread (--threads 1, the worker runner, calibration) never
 * started the pool. One product above OpenBLAS's threading threshold at load starts it. */
static void start_blas_pool(void) {
  enum { S = 256 };
  blas_buffers_on_huge_pages();
  float *a = calloc((size_t)3 * S * S, sizeof(float));
  if (!a) return;
  const int was = openblas_get_num_threads();
  openblas_set_num_threads(2);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, S, S, 1.0f, a, S, a + S * S, S, 0.0f, a + 2 * S * S, S);
  openblas_set_num_threads(was);
  free(a);
}

NAPI_MODULE_INIT() {
  start_blas_pool();
  napi_property_descriptor props[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"im2col", NULL, im2col, NULL, NULL, NULL, napi_enumerable, NULL},
      {"col2im", NULL, col2im, NULL, NULL, NULL, napi_enumerable, NULL},
      {"maxPoolIndexed", NULL, max_pool, NULL, NULL, NULL, napi_enumerable, NULL},
      {"convolve", NULL, convolve, NULL, NULL, NULL, napi_enumerable, NULL},
      {"convInputGrad", NULL, conv_input_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clamp", NULL, clamp, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spmm", NULL, spmm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spmmPairs", NULL, spmm_pairs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"config", NULL, config, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lognormalPhilox", NULL, lognormal_philox, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamStep", NULL, adam_step, NULL, NULL, NULL, napi_enumerable, NULL},
      {"normalPhilox", NULL, normal_philox, NULL, NULL, NULL, napi_enumerable, NULL},
      {"expScaled", NULL, exp_scaled, NULL, NULL, NULL, napi_enumerable, NULL},
      {"maxPoolGrad", NULL, max_pool_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"columnSums", NULL, column_sums, NULL, NULL, NULL, napi_enumerable, NULL},
      {"channelMeans", NULL, channel_means, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reluGrad", NULL, relu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reluInPlace", NULL, relu_in_place, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reluGradInPlace", NULL, relu_grad_in_place, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addInto", NULL, add_into, NULL, NULL, NULL, napi_enumerable, NULL},
      {"channelAffine", NULL, channel_affine, NULL, NULL, NULL, napi_enumerable, NULL},
      {"channelAffineGrad", NULL, channel_affine_grad, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
