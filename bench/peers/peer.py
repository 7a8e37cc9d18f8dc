"""What the PyTorch peers share: their configuration, progress output and IDX (MNIST-format) reading."""
import gzip
import json
import os
import sys


def start():
    """The JSON configuration in argv[1]. Sets OpenBLAS's thread count, which it reads when torch loads:
    call this before importing torch."""
    cfg = json.loads(sys.argv[1])
    os.environ["OPENBLAS_NUM_THREADS"] = str(cfg["blasThreads"])
    return cfg


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def find_file(d, base):
    """Same lookup as xbar's loadDataset: raw or .gz, '-idx' or '.idx'."""
    dotted = base.replace("-idx", ".idx")
    for c in (base, base + ".gz", dotted, dotted + ".gz"):
        p = os.path.join(d, c)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{d}: missing {base} (raw or .gz)")


def read_idx(path, np):
    """IDX files of unsigned bytes (type 0x08), as MNIST's are."""
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        buf = f.read()
    if buf[0] or buf[1] or buf[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = buf[3]
    dims = [int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
