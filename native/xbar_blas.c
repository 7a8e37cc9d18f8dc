/*
 * N-API addon: OpenBLAS sgemm on Float32Array views, without copies. Every argument is checked
 * before OpenBLAS sees it, because a bad stride would make it read or write past the array and
 * take the whole Node process down; JS callers get an Error instead.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <node_api.h>

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

/* A rows x cols row-major matrix with row stride ld: BLAS requires ld >= max(1, cols). */
static bool get_matrix(napi_env env, napi_value v, const char *name, int rows, int cols, int ld,
                       float **data, int64_t *need) {
  bool is_ta = false;
  napi_typedarray_type type;
  size_t len;
  void *ptr;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &len, &ptr, NULL, NULL) != napi_ok ||
      type != napi_float32_array) {
    throw_msg(env, true, "sgemm: %s must be a Float32Array", name, 0, 0);
    return false;
  }
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
  *data = ptr; /* already advanced by the view's byteOffset */
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
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"config", NULL, config, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
