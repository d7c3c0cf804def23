"""conv2d forward + backward time, ember vs torch (one thread), on the benchmark CNN's layer shapes.

Run: python benchmarks/conv_micro.py
"""
from __future__ import annotations

import os
import time

# torch runs on one thread below; give NumPy's BLAS the same single core, set before NumPy loads it
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

import ember

torch.set_num_threads(1)
CASES = [  # (name, N, C, H, W, O, k, padding): the two convolutions of the benchmark CNN, and a bigger one
    ("conv 1->32 28x28", 64, 1, 28, 28, 32, 3, 1),
    ("conv 32->64 14x14", 64, 32, 14, 14, 64, 3, 1),
    ("conv 32->64 28x28", 64, 32, 28, 28, 64, 3, 1),
]


def best_of(fns, repeat: int = 10) -> list:
    """The fastest of a few runs of each function, in seconds; runs interleaved, so load hits all alike."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [min(ts) for ts in times]


def step(lib, x, w, b, padding):
    """One forward and backward through conv2d."""
    def run():
        for t in (x, w, b):
            t.grad = None
        out = lib.nn.functional.conv2d(x, w, b, padding=padding)
        out.sum().backward()
    return run


def cnn(lib):
    """The benchmark CNN: (conv 3x3, ReLU, 2x2 max pool) twice, then linear to 10 classes."""
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 10))


def cnn_step(lib, x, y):
    """One SGD training step on a batch: forward, cross-entropy, backward, update."""
    model = cnn(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.01)

    def run():
        opt.zero_grad()
        lib.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return run


def report(name: str, times: list) -> None:
    print(f"{name:22s} ember {times[0] * 1e3:7.1f} ms  torch {times[1] * 1e3:7.1f} ms  "
          f"ratio {times[0] / times[1]:.2f}")


def main() -> None:
    rng = np.random.default_rng(0)
    for name, n, c, h, wd, o, k, p in CASES:
        arrays = [rng.standard_normal(s).astype(np.float32) for s in ((n, c, h, wd), (o, c, k, k), (o,))]
        runs = []
        for lib in (ember, torch):
            x, w, b = (lib.tensor(a) for a in arrays)
            x.requires_grad_(c > 1)  # the first layer's input (the images) needs no gradient
            w.requires_grad_(True)
            b.requires_grad_(True)
            runs.append(step(lib, x, w, b, p))
        report(name, best_of(runs))
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    report("CNN step (batch 64)", best_of([cnn_step(lib, lib.tensor(x), lib.tensor(y)) for lib in (ember, torch)],
                                          repeat=20))


if __name__ == "__main__":
    main()
