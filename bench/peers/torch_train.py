"""Training peer for bench/train.mjs: PyTorch epochs of an xbar preset, one JSON object on stdout.

Usage: /usr/bin/python3 bench/peers/torch_train.py '{"model": "mlp", "dataDir": DIR, "limit": 60000,
    "epochs": 3, "batchSize": 128, "lr": 0.001, "schedule": "cosine", "torchThreads": 1, "blasThreads": 2}'

Mirrors xbar's train() (src/nn/train.ts) step for step: a fresh permutation each epoch, batches gathered
from it, softmax cross-entropy, Adam (betas 0.9/0.999, eps 1e-8) with the learning rate set per step
from the cosine schedule, and the loss and correct count accumulated per batch. Progress goes to stderr.
"""
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import find_file, log, read_idx, start  # noqa: E402

cfg = start()  # before torch is imported

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from measure import loaded_blas, peak_rss_mib  # noqa: E402


def build(name, nn):
    if name == "mlp":  # src/nn/presets.ts 'mlp'
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256), nn.ReLU(),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, 64), nn.ReLU(),
            nn.Linear(64, 10),
        )
    if name == "lenet5":  # conv 6@5x5 same, pool, conv 16@5x5 valid, pool, 120-84-10
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),
        )
    raise ValueError(f"unknown model {name}")


def main():
    try:
        import numpy as np
        import torch
        from torch import nn
    except ImportError as e:
        return {"error": f"{e}"}

    torch.set_num_threads(cfg["torchThreads"])
    torch.manual_seed(0)
    d = cfg["dataDir"]
    n = cfg["limit"]
    images = read_idx(find_file(d, "train-images-idx3-ubyte"), np)[:n]
    labels = read_idx(find_file(d, "train-labels-idx1-ubyte"), np)[:n]
    x = torch.from_numpy(images.astype(np.float32) / 255).reshape(-1, 1, 28, 28)  # C = 1: NCHW == NHWC
    y = torch.from_numpy(labels.astype(np.int64))
    n = x.shape[0]

    model = build(cfg["model"], nn)
    lr0 = cfg["lr"]
    opt = torch.optim.Adam(model.parameters(), lr=lr0, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()
    bs = cfg["batchSize"]
    epochs = cfg["epochs"]
    steps = -(-n // bs)
    total = steps * epochs
    step = 0
    g = torch.Generator().manual_seed(1)
    history = []
    model.train()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=g)
        loss_sum = 0.0
        correct = 0
        for s in range(steps):
            idx = order[s * bs : (s + 1) * bs]
            xb, yb = x[idx], y[idx]
            lr = 0.5 * lr0 * (1 + math.cos(math.pi * step / total)) if cfg["schedule"] == "cosine" else lr0
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad()
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            step += 1
        seconds = time.perf_counter() - t0
        history.append({"epoch": epoch, "seconds": seconds, "loss": loss_sum / n, "trainAccuracy": correct / n})
        log(f"  torch {cfg['model']} epoch {epoch}: {seconds:.2f} s, loss {loss_sum / n:.4f}")

    return {
        "version": torch.__version__,
        "torchThreads": torch.get_num_threads(),
        "images": n,
        "epochs": history,
        "blas": loaded_blas(),
        "peakRssMiB": peak_rss_mib(),
    }


print(json.dumps(main()))
