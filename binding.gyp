{
  "targets": [
    {
      "target_name": "xbar_blas",
      "sources": ["native/xbar_blas.c", "native/conv.c", "native/spmm.c", "native/channels.c", "native/windows.c", "native/convgrad.c"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lopenblas", "-lpthread"],
      "configurations": {
        "Release": { "cflags!": ["-O3"], "cflags": ["-O2"] }
      }
    }
  ]
}
