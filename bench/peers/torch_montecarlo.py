"""Monte Carlo peer for bench/montecarlo.mjs: the same chips simulated in PyTorch, one JSON object on stdout.

Usage: /usr/bin/python3 bench/peers/torch_montecarlo.py '{"modelDir": DIR, "dataset": "mnist", "dataDir": DIR,
    "limitTest": null, "chips": 20, "reps": 3, "seed": 1, "sigma": 0.1, "sa0": 0, "sa1": 0,
    "gMin": 1e-6, "gMax": 1e-4, "saturate": true, "railHeadroom": 1.5, "calibImages": 1000,
    "torchThreads": 2, "blasThreads": 2}'

What a PyTorch user would write for this study (MemTorch / aihwkit style), on xbar's mapping
(src/crossbar/plan.ts, chip.ts): each weighted layer's weights and bias form one matrix A [nIn + 1, nOut]
(a convolution's as its im2col matrix, rows (ky, kx, c)),
scaled by max |A| onto a differential pair G+ = gMin + span * max(w, 0), G- = gMin + span * max(-w, 0).
Per chip and per conductance: log-normal programming variation G * exp(N(0, sigma^2)), then stuck cells
(stuck-on -> gMax with probability sa1, stuck-off -> gMin with probability sa0, independently for G+ and
G-), then back to weights (G+ - G-) * max|A| / span and the whole test set through the network with
torch.addmm / conv2d in float32 under torch.no_grad(). Neurons clip at xbar's default rails (railHeadroom x the
largest ideal activation on the first calibImages training images), as xbar's default circuit does.

The draws differ from xbar's (another generator; Bernoulli faults per cell where xbar marks an exact count
per 128x128 array), so accuracies agree statistically, not chip for chip. Progress goes to stderr.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import find_file, log, read_idx, start  # noqa: E402

cfg = start()  # before torch is imported

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from measure import loaded_blas, peak_rss_mib  # noqa: E402


def axis_weights(n, m, np):
    """xbar's area weights (src/data/dataset.ts axisWeights): output i averages input [i n/m, (i+1) n/m)."""
    s = n / m
    w = np.zeros((m, n))
    for i in range(m):
        lo, hi = i * s, (i + 1) * s
        for r in range(int(np.floor(lo)), min(n, int(np.ceil(hi)))):
            w[i, r] = (min(hi, r + 1) - max(lo, r)) / s
    return w


def images(raw, dataset, np):
    """Pixels as xbar stores them: float32 v / 255; digits8 = area-downsampled to 8x8, 17 grey levels."""
    x = (np.arange(256) / 255).astype(np.float32)[raw]  # [n, h, w]
    if dataset == "digits8":
        n, h, w = x.shape
        r, c = axis_weights(h, 8, np), axis_weights(w, 8, np)
        small = np.einsum("ir,nrc,jc->nij", r, x.astype(np.float64), c).astype(np.float32)
        x = (np.floor(small.astype(np.float64) * 16 + 0.5) / 16).astype(np.float32)
    return x.reshape(x.shape[0], -1)


def load_model(d, np):
    """xbar's saved model (docs/model-format.md): dense, conv2d, maxpool, activation, flatten, dropout;
    a graph model's nodes also add, globalavgpool, avgpool and strided, padded convolutions."""
    with open(os.path.join(d, "model.json")) as f:
        header = json.load(f)
    if header.get("format") != "xbar-model" or header.get("version") != 1:
        raise ValueError(f"{d}: not an xbar-model version 1 folder")
    flat = np.fromfile(os.path.join(d, header.get("weightsFile", "weights.bin")), dtype="<f4")
    params = {}
    for e in header["weights"]:
        size = int(np.prod(e["shape"]))
        params[e["name"]] = flat[e["offset"] : e["offset"] + size].reshape(e["shape"])
    if "nodes" in header["spec"]:
        return header, graph_layers(header["spec"]["nodes"], params, np)
    # Weighted layers: {"kind", "W": [nIn, nOut] as on the crossbar (conv: im2col rows (ky, kx, c)), "b", "act"};
    # others: {"kind": "maxpool"|"flatten"}.
    layers = []
    k = 0
    for spec in header["spec"]["layers"]:
        t = spec["type"]
        if t in ("dense", "conv2d"):
            L = {"kind": t, "W": params[f"layer{k}.weight"], "b": params[f"layer{k}.bias"], "act": None}
            if t == "conv2d":
                if spec.get("stride", 1) != 1:
                    raise ValueError("conv2d with stride != 1 is not supported by this peer")
                L["k"] = spec["kernel"]
                L["pad"] = (spec["kernel"] - 1) // 2 if spec.get("padding", "valid") == "same" else 0
            layers.append(L)
            k += 1
        elif t == "activation":
            if not layers or layers[-1]["kind"] not in ("dense", "conv2d") or layers[-1]["act"] is not None:
                raise ValueError("activation not directly after a weighted layer: unsupported by this peer")
            layers[-1]["act"] = (spec["fn"], spec.get("cap", 1))
        elif t == "maxpool":
            if spec.get("stride", spec["size"]) != spec["size"]:
                raise ValueError("maxpool with stride != size is not supported by this peer")
            layers.append({"kind": "maxpool", "size": spec["size"]})
        elif t == "flatten":
            layers.append({"kind": "flatten"})
        elif t != "dropout":
            raise ValueError(f"layer type {t} is not supported by this peer")
    return header, layers


def graph_layers(nodes, params, np):
    """A graph model (docs/model-format.md, spec.nodes) as the same kind of list, each entry naming the
    entries it reads ("in": indices, -1 = the image). As xbar maps it (src/crossbar/plan.ts): an
    activation that alone reads a weighted node is that node's neuron (fused, clipped at its rail);
    additions, pooling and other activations run as in software."""
    index = {n["name"]: i for i, n in enumerate(nodes)}
    ins = [[index[x] if x != "input" else -1 for x in n.get("inputs", [nodes[i - 1]["name"]] if i else ["input"])] for i, n in enumerate(nodes)]
    readers = [[j for j, r in enumerate(ins) if i in r] for i in range(len(nodes))]
    layers = []
    for i, spec in enumerate(nodes):
        t, name = spec["type"], spec["name"]
        L = {"kind": t, "in": ins[i], "fused": False}
        if t in ("dense", "conv2d"):
            W = params[f"{name}.weight"]
            L.update(W=W, b=params.get(f"{name}.bias", np.zeros(W.shape[1], dtype=np.float32)), act=None)
            if t == "conv2d":
                k = spec["kernel"]
                L.update(k=k, stride=spec.get("stride", 1))
                L["pad"] = spec["pad"] if "pad" in spec else (k - 1) // 2 if spec.get("padding", "valid") == "same" else 0
        elif t == "activation":
            L["act"] = (spec["fn"], spec.get("cap", 1))
            src = ins[i][0]
            if len(ins[i]) == 1 and src >= 0 and "W" in layers[src] and readers[src] == [i]:
                layers[src]["act"], L["fused"] = L["act"], True
        elif t in ("maxpool", "avgpool"):
            if spec.get("stride", spec["size"]) != spec["size"]:
                raise ValueError(f"{t} with stride != size is not supported by this peer")
            L["size"] = spec["size"]
        elif t not in ("add", "globalavgpool", "flatten", "dropout"):
            raise ValueError(f"node type {t} is not supported by this peer")
        layers.append(L)
    return layers


def main():
    try:
        import numpy as np
        import torch
    except ImportError as e:
        return {"error": f"{e}"}

    torch.set_num_threads(cfg["torchThreads"])
    header, layers = load_model(cfg["modelDir"], np)
    d, ds = cfg["dataDir"], cfg["dataset"]
    test_raw = read_idx(find_file(d, "t10k-images-idx3-ubyte"), np)
    test_y = read_idx(find_file(d, "t10k-labels-idx1-ubyte"), np)
    if cfg.get("limitTest"):
        test_raw, test_y = test_raw[: cfg["limitTest"]], test_y[: cfg["limitTest"]]
    x = torch.from_numpy(images(test_raw, ds, np))
    y = torch.from_numpy(test_y.astype(np.int64))
    calib = torch.from_numpy(images(read_idx(find_file(d, "train-images-idx3-ubyte"), np)[: cfg["calibImages"]], ds, np))

    def act(h, a):
        if a is None or a[0] == "linear":
            return h
        fn, cap = a
        if fn == "relu":
            return h.relu_()
        if fn == "crelu":
            return h.clamp_(0, cap)
        if fn == "sigmoid":
            return h.sigmoid_()
        if fn == "tanh":
            return h.tanh_()
        raise ValueError(f"activation {fn}")

    gmin, gmax = cfg["gMin"], cfg["gMax"]
    span = gmax - gmin
    sigma, sa0, sa1 = cfg["sigma"], cfg["sa0"], cfg["sa1"]
    with torch.no_grad():
        # Mapping: A = [W; b], normalised by max |A|, onto (G+, G-), float32 as MemTorch keeps them.
        weighted = [L for L in layers if "W" in L]
        for L in weighted:
            A = torch.from_numpy(np.vstack([L["W"], L["b"][None, :]]).copy())
            L["wMax"] = float(A.abs().max()) or 1.0
            wn = A / L["wMax"]
            L["gp"] = gmin + span * wn.clamp(min=0)
            L["gn"] = gmin + span * (-wn).clamp(min=0)
            L["nIn"] = A.shape[0] - 1

        in_h, in_w, in_c = (header["spec"]["inputShape"] + [1, 1])[:3]
        conv_first = weighted[0]["kind"] == "conv2d"  # in a graph too: its weighted nodes read images or vectors

        def as_input(t):
            """xbar's rows of NHWC pixels as the first layer wants them: NCHW images or flat vectors."""
            return t.reshape(-1, in_h, in_w, in_c).permute(0, 3, 1, 2).contiguous() if conv_first else t

        mm = [0.0]  # seconds inside the weighted layers (torch.addmm / conv2d)

        def weighted_layer(h, L, A):
            """A = [W; b] as on the crossbar; conv weights go from im2col rows (ky, kx, c) to [F, C, k, k]."""
            t = time.perf_counter()
            W, b = A[: L["nIn"]], A[L["nIn"]]
            if L["kind"] == "conv2d":
                k, F = L["k"], W.shape[1]
                w4 = W.reshape(k, k, -1, F).permute(3, 2, 0, 1).contiguous()
                h = torch.nn.functional.conv2d(h, w4, b, stride=L.get("stride", 1), padding=L["pad"])
            else:
                h = torch.addmm(b, h, W)
            mm[0] += time.perf_counter() - t
            return h

        def rail(L, h, calibrate, last):
            """Rails of xbar's default circuit, from the ideal network (src/crossbar/plan.ts): railHeadroom x
            the calibrated largest value of a neuron's output (a weighted layer with its activation) and of
            the last weighted layer's when it has none."""
            if calibrate:
                m = float(h.abs().max()) or 1.0
                L["rail"] = cfg["railHeadroom"] * m if cfg["saturate"] and (L["act"] is not None or last) else None
            elif L["rail"] is not None:
                h = h.clamp_(-L["rail"], L["rail"])
            return h

        def forward_sequential(weights, h, calibrate=False):
            """The network with one chip's matrices; calibrate=True sets each layer's rail instead of clipping."""
            ws = iter(weights)
            for L in layers:
                if L["kind"] == "maxpool":
                    h = torch.nn.functional.max_pool2d(h, L["size"])
                elif L["kind"] == "flatten":
                    if h.dim() == 4:
                        h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)  # NCHW -> xbar's NHWC order
                else:
                    h = rail(L, act(weighted_layer(h, L, next(ws)), L["act"]), calibrate, L is weighted[-1] and L["act"] is None)
            return h

        last_use = {}
        for i, L in enumerate(layers):
            for j in L.get("in", []):
                last_use[j] = i

        def forward_graph(weights, x, calibrate=False):
            """The graph node by node (NCHW), each weighted node with one chip's matrix, in batches of 1000
            images (a residual network's feature maps of the whole test set would not fit in memory); each
            value is dropped after its last reader."""
            if not calibrate and len(x) > 1000:
                return torch.cat([forward_graph(weights, x[i : i + 1000]) for i in range(0, len(x), 1000)])
            ws = iter(weights)
            vals = []
            for i, L in enumerate(layers):
                h = [x if j < 0 else vals[j] for j in L["in"]]
                kind = L["kind"]
                if "W" in L:
                    y = rail(L, act(weighted_layer(h[0], L, next(ws)), L["act"]), calibrate, L is weighted[-1] and L["act"] is None)
                elif kind == "activation":
                    y = h[0] if L["fused"] else act(h[0].clone(), L["act"])
                elif kind == "add":
                    y = h[0] + h[1]
                elif kind == "globalavgpool":
                    y = h[0].mean((2, 3))
                elif kind == "maxpool":
                    y = torch.nn.functional.max_pool2d(h[0], L["size"])
                elif kind == "avgpool":
                    y = torch.nn.functional.avg_pool2d(h[0], L["size"])
                elif kind == "flatten":
                    y = h[0].permute(0, 2, 3, 1).reshape(h[0].shape[0], -1) if h[0].dim() == 4 else h[0]
                else:  # dropout
                    y = h[0]
                vals.append(y)
                for j in L["in"]:
                    if j >= 0 and last_use[j] == i:
                        vals[j] = None
            return vals[-1]

        forward = forward_graph if "in" in layers[0] else forward_sequential

        ideal_w = [torch.from_numpy(np.vstack([L["W"], L["b"][None, :]])) for L in weighted]
        forward(ideal_w, as_input(calib), calibrate=True)
        x = as_input(x)
        ideal = int((forward(ideal_w, x).argmax(1) == y).sum()) / len(y)

        def program(g):
            """One chip's weights: variation and stuck cells on every conductance, then back to weights."""
            weights = []
            for L in weighted:
                pair = []
                for g0 in (L["gp"], L["gn"]):
                    gc = g0 * torch.exp(sigma * torch.randn(g0.shape, generator=g)) if sigma > 0 else g0.clone()
                    if sa0 > 0 or sa1 > 0:
                        u = torch.rand(g0.shape, generator=g)
                        gc = torch.where(u < sa1, gmax, torch.where(u < sa1 + sa0, gmin, gc))
                    pair.append(gc)
                weights.append((pair[0] - pair[1]) * (L["wMax"] / span))
            return weights

        def run(chips):
            """Returns (per-chip accuracies, seconds programming, seconds of inference)."""
            acc, t_prog, t_inf = [], 0.0, 0.0
            g = torch.Generator()
            for c in range(chips):
                t0 = time.perf_counter()
                g.manual_seed(cfg["seed"] * 1_000_003 + c)
                w = program(g)
                t1 = time.perf_counter()
                acc.append(int((forward(w, x).argmax(1) == y).sum()) / len(y))
                t_prog += t1 - t0
                t_inf += time.perf_counter() - t1
            return acc, t_prog, t_inf

        run(min(2, cfg["chips"]))  # warm-up: allocator, OpenBLAS threads
        reps = []
        for r in range(cfg["reps"]):
            mm[0] = 0.0
            c0, t0 = time.process_time(), time.perf_counter()
            acc, t_prog, t_inf = run(cfg["chips"])
            seconds = time.perf_counter() - t0
            reps.append(
                {
                    "seconds": seconds,
                    "cpuSeconds": time.process_time() - c0,
                    "programSeconds": t_prog,
                    "inferSeconds": t_inf,
                    "matmulSeconds": mm[0],
                }
            )
            log(f"  torch rep {r + 1}/{cfg['reps']}: {seconds:.2f} s, mean accuracy {100 * sum(acc) / len(acc):.2f}%")

    mean = sum(acc) / len(acc)
    std = (sum((a - mean) ** 2 for a in acc) / max(1, len(acc) - 1)) ** 0.5
    return {
        "version": torch.__version__,
        "torchThreads": torch.get_num_threads(),
        "blasThreads": cfg["blasThreads"],
        "images": len(y),
        "chips": cfg["chips"],
        "reps": reps,
        "accuracy": {"mean": mean, "std": std, "min": min(acc), "max": max(acc)},
        "idealAccuracy": ideal,
        "modelTestAccuracy": cfg.get("testAccuracy") or header.get("meta", {}).get("testAccuracy"),
        "rails": [L["rail"] for L in weighted],
        "blas": loaded_blas(),
        "peakRssMiB": peak_rss_mib(),
    }


print(json.dumps(main()))
