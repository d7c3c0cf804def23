"""conv2d forward + backward time, ember vs torch (one thread), on the benchmark CNN's layer shapes.

Run: python benchmarks/conv_micro.py [--fashion [N]]
``--fashion``: the Fashion-MNIST CNN example's layers one by one at batch N (128, the example's): training's
forward + backward and evaluation's forward under no_grad, in CPU time (time.process_time, which a
shared machine's load disturbs far less than wall time), the libraries taking turns, best of 7 rounds.
"""
from __future__ import annotations

import os
import sys
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


def fashion_layers(lib, n: int) -> dict:
    """The Fashion CNN's layers (ember/examples/fashion_mnist.py) in ``lib``: name -> (module, input shape,
    whether the input needs a gradient)."""
    nn = lib.nn
    return {"conv1": (nn.Conv2d(1, 32, 3, padding=1, bias=False), (n, 1, 28, 28), False),
            "bn1": (nn.BatchNorm2d(32), (n, 32, 28, 28), True), "relu1": (nn.ReLU(), (n, 32, 28, 28), True),
            "pool1": (nn.MaxPool2d(2), (n, 32, 28, 28), True),
            "conv2": (nn.Conv2d(32, 64, 3, padding=1, bias=False), (n, 32, 14, 14), True),
            "bn2": (nn.BatchNorm2d(64), (n, 64, 14, 14), True), "relu2": (nn.ReLU(), (n, 64, 14, 14), True),
            "pool2": (nn.MaxPool2d(2), (n, 64, 14, 14), True)}


def layer_run(lib, module, x, gy, train: bool):
    """Training's forward + backward of one layer, or evaluation's forward (eval mode, no_grad)."""
    def run():
        if not train:
            with lib.no_grad():
                module(x)
            return
        x.grad = None
        for p in module.parameters():
            p.grad = None
        module(x).backward(gy)
    return run


def cpu_best(fns, rounds: int = 7, reps: int = 5) -> list:
    """Each function's best CPU time per call over interleaved rounds (the first to go alternates)."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for r in range(rounds):
        for i in (range(len(fns)) if r % 2 else reversed(range(len(fns)))):
            t0 = time.process_time()
            for _ in range(reps):
                fns[i]()
            best[i] = min(best[i], (time.process_time() - t0) / reps)
    return best


def fashion(n: int) -> None:
    """Per-layer CPU times of the Fashion CNN, ember vs torch."""
    rng = np.random.default_rng(0)
    layers = {lib: fashion_layers(lib, n) for lib in (ember, torch)}
    print(f"Fashion CNN layers at batch {n}, one thread, CPU ms (load {os.getloadavg()[0]:.1f})")
    for name, (_, shape, needs_grad) in layers[ember].items():
        x = rng.standard_normal(shape).astype(np.float32)
        for train in (True, False):
            runs = []
            for lib in (ember, torch):
                module = layers[lib][name][0]
                module.train(train)
                out_shape = tuple(module(lib.tensor(x)).shape)
                gy = lib.tensor(rng.standard_normal(out_shape).astype(np.float32))
                runs.append(layer_run(lib, module, lib.tensor(x, requires_grad=needs_grad), gy, train))
            e, t = cpu_best(runs)
            print(f"{name:6s} {'train fwd+bwd' if train else 'eval fwd':13s} ember {e * 1e3:6.2f}  torch {t * 1e3:6.2f}  "
                  f"ratio {e / t:.2f}")


def main() -> None:
    if "--fashion" in sys.argv:
        rest = sys.argv[sys.argv.index("--fashion") + 1:]
        fashion(int(rest[0]) if rest else 128)
        return
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
