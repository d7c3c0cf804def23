"""Per-op overhead and a small MLP: ember vs torch in the same run, one thread each.

Run: python benchmarks/overhead.py
1. a chain of 250 small elementwise ops (mul, add, tanh, exp, mul) on a 16-element float32
   tensor whose second operands are Python numbers, forward + backward, reported as time per op;
2. the same with tensor operands, as weights are in real code: ``exp(tanh(h * w + b))`` with ``w`` and
   ``b`` 16-element tensors that require grad (200 ops);
3. a 784-512-256-10 MLP forward + backward at batch 256;
4. the MNIST-1D CNN's training step (ember/examples/mnist1d.py: three stride-2 Conv1d + ReLU, Linear,
   cross_entropy, backward, Adam) at batch 1: the fixed per-step cost of a small model.
The two libraries take turns in 15 rounds; each keeps its best step, and the last column gives the
spread of the rounds' ratios (a machine shared with other work moves single rounds a lot).
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # pinned kernels on some machines here; not users'
    os.environ.pop(_var, None)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import timeit  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ember  # noqa: E402

torch.set_num_threads(1)


def chain_step(lib):
    x = lib.tensor(np.random.default_rng(0).random(16, dtype=np.float32), requires_grad=True)

    def step():
        y = x
        for _ in range(50):  # 4 ops each: 200 ops
            y = lib.exp(lib.tanh(y * 1.01 + 0.1)) * 0.3
        y.sum().backward()
    return step, 50 * 5


def tensor_chain_step(lib):
    rng = np.random.default_rng(0)
    x, w, b = (lib.tensor(rng.random(16, dtype=np.float32), requires_grad=True) for _ in range(3))

    def step():
        y = x
        for _ in range(50):  # 4 ops each: 200 ops
            y = lib.exp(lib.tanh(y * w + b))
        y.sum().backward()
    return step, 50 * 4


def mlp_step(lib):
    rng = np.random.default_rng(0)
    sizes = [784, 512, 256, 10]
    ws = [lib.tensor((rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32), requires_grad=True)
          for i, o in zip(sizes, sizes[1:])]
    bs = [lib.tensor(np.zeros(o, dtype=np.float32), requires_grad=True) for o in sizes[1:]]
    x = lib.tensor(rng.standard_normal((256, 784), dtype=np.float32))
    y = lib.tensor(rng.standard_normal((256, 10), dtype=np.float32))

    def step():
        h = x
        for k, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w.t() + b
            if k < len(ws) - 1:
                h = lib.relu(h)
        loss = ((h - y) * (h - y)).mean()
        for p in ws + bs:
            p.grad = None
        loss.backward()
    return step, 1


def cnn_step(lib):
    lib.manual_seed(0)
    model = CNN(lib)
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((1, 40), dtype=np.float32))
    y = lib.tensor(rng.integers(0, 10, 1))

    def step():
        loss = lib.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step, 1


def CNN(lib):
    """The MNIST-1D CNN of ember/examples/mnist1d.py, written against ``lib``."""
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.convs = nn.ModuleList([nn.Conv1d(1, 25, 5, stride=2, padding=1),
                                        nn.Conv1d(25, 25, 3, stride=2, padding=1),
                                        nn.Conv1d(25, 25, 3, stride=2, padding=1)])
            self.linear = nn.Linear(25 * 5, 10)

        def forward(self, x):
            h = x.unsqueeze(1)
            for conv in self.convs:
                h = conv(h).relu()
            return self.linear(h.flatten(1))
    return Net()


def interleaved(steps: dict, calls: int, rounds: int = 15) -> tuple[dict, list]:
    """Each library's best time per call, and the ember/torch ratio of each round: the libraries take turns
    (``calls`` steps each, timed one by one), so that a busy spell of a shared machine hits both; a step's
    best is its least disturbed run, and the rounds' ratios show the spread."""
    best = dict.fromkeys(steps, float("inf"))
    ratios = []
    for _ in range(rounds):
        got = {}
        for name, fn in steps.items():
            fn()
            got[name] = min(timeit.repeat(fn, number=1, repeat=calls))
            best[name] = min(best[name], got[name])
        ratios.append(got["ember"] / got["torch"])
    return best, sorted(ratios)


def main() -> None:
    from dataloader import blas_kernel  # (benchmarks/ is on the path when run as a script)
    print(f"BLAS kernel (threadpoolctl): {blas_kernel()}; {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.1f}")
    rows = []
    for name, make, calls in (("elementwise chain, numbers (per op)", chain_step, 20),
                              ("elementwise chain, tensors (per op)", tensor_chain_step, 20),
                              ("MLP 784-512-256-10 b256", mlp_step, 3),
                              ("MNIST-1D CNN step b1", cnn_step, 20)):
        made = {lib.__name__: make(lib) for lib in (torch, ember)}
        best, ratios = interleaved({k: step for k, (step, _) in made.items()}, calls)
        per = made["ember"][1]
        rows.append((name, best["torch"] / per, best["ember"] / per, ratios))
    print(f"{'benchmark':36s} {'torch':>12s} {'ember':>12s} {'ember/torch':>12s}  {'rounds (min-median-max)':s}")
    for name, t, e, r in rows:
        print(f"{name:36s} {t * 1e6:10.2f}us {e * 1e6:10.2f}us {e / t:11.2f}x  "
              f"{r[0]:.2f}-{r[len(r) // 2]:.2f}-{r[-1]:.2f}")


if __name__ == "__main__":
    main()
