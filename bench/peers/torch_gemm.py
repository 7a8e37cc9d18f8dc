"""GEMM peer for bench/gemm.mjs: PyTorch and NumPy on the same shapes, one JSON object on stdout.

Usage: /usr/bin/python3 bench/peers/torch_gemm.py '[[m, k, n], ...]'
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from measure import loaded_blas, peak_rss_mib, timeit  # noqa: E402

shapes = json.loads(sys.argv[1])
out = {}


def bench(make, mm):
    results = []
    for m, k, n in shapes:
        a, b, c = make(m, k), make(k, n), make(m, n)
        results.append({"shape": [m, k, n], "seconds": timeit(lambda: mm(a, b, c))})
    return results


try:
    import torch

    # Debian's torch does its GEMM in OpenBLAS, which already uses both cores; torch's own
    # intra-op threads would only compete with it (2.5x slower training measured).
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    res = bench(
        lambda r, c: torch.rand(r, c, generator=g, dtype=torch.float32),
        lambda a, b, c: torch.mm(a, b, out=c),
    )
    out["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads(), "results": res}
except ImportError as e:
    out["torch"] = {"error": f"{e}"}

try:
    import numpy as np

    rng = np.random.default_rng(0)
    res = bench(
        lambda r, c: rng.random((r, c), dtype=np.float32),
        lambda a, b, c: np.matmul(a, b, out=c),
    )
    out["numpy"] = {"version": np.__version__, "results": res}
except ImportError as e:
    out["numpy"] = {"error": f"{e}"}

out["blas"] = loaded_blas()
out["peakRssMiB"] = peak_rss_mib()
print(json.dumps(out))
