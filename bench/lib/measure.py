"""Timing and BLAS detection for the Python peers; mirrors bench/lib/measure.mjs."""
import ctypes
import os
import resource
import statistics
import time


def timeit(fn, runs=7, min_sample_ms=25.0):
    """Median seconds per call: one warm-up, then samples of >= min_sample_ms each."""
    t0 = time.perf_counter()
    fn()
    first = max(time.perf_counter() - t0, 1e-6)
    reps = max(1, int(-(-min_sample_ms / 1000 // first)))
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        samples.append((time.perf_counter() - t) / reps)
    return statistics.median(samples)


def loaded_blas():
    """BLAS libraries actually mapped into this process (call after a matmul, since loading can be lazy).

    Debian picks libblas.so.3 through update-alternatives, so the package list alone does not say which
    implementation torch and numpy run on; the mapped path does.
    """
    with open("/proc/self/maps") as f:
        paths = sorted({line.split()[-1] for line in f if "/" in line and ("blas" in line or "mkl" in line)})
    if any("mkl" in p for p in paths):
        kind = "MKL"
    elif any("openblas" in p for p in paths):
        kind = "OpenBLAS"
    elif any("/blas/" in p or "libblas" in p for p in paths):
        kind = "reference BLAS (slow: install libopenblas0-pthread)"
    else:
        kind = "none mapped (bundled or built in)"
    threads = None
    for p in paths:
        if "libopenblas" in p:
            try:
                threads = ctypes.CDLL(p).openblas_get_num_threads()
            except (OSError, AttributeError):
                pass
    return {"kind": kind, "paths": paths, "threads": threads}


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
