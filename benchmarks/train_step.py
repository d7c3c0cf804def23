"""Full training steps, ember vs torch in the same run, with 1 and with 2 threads.

Run: python benchmarks/train_step.py [--threads 1 2] [--repeat 5]
A step is forward, cross-entropy loss, backward and an Adam step, on the same weights in both
libraries (torch's state dict copied into ember's model):
1. the Fashion-MNIST MLP (784-256-128-100-10, ReLU) at batch 256;
2. a CNN (conv 1->32 and 32->64, 3x3, padding 1, each with ReLU and 2x2 max pooling; linear to 10) at batch 64;
3. the MNIST-1D GRU (bidirectional, 6 hidden units, one point per step over 40 steps; linear to 10) at batch 100.
NumPy reads its thread count from the environment when it is imported, so each thread count runs in
a fresh process of this script (``--worker N``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def build(lib, name: str):
    """The model ``name`` written once against ``lib`` (ember or torch: same API) and its input shape."""
    nn = lib.nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 100), nn.ReLU(), nn.Linear(100, 10)), (256, 1, 28, 28)
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 7 * 7, 10)), (64, 1, 28, 28)
    if name == "gru":
        class GRUClassifier(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.gru = nn.GRU(1, 6, batch_first=True, bidirectional=True)
                self.linear = nn.Linear(2 * 6 * 40, 10)

            def forward(self, x):
                out, _ = self.gru(x.unsqueeze(-1))
                return self.linear(out.flatten(1))
        return GRUClassifier(), (100, 40)
    raise ValueError(name)


MODELS = {"mlp": "MLP 784-256-128-100-10", "cnn": "CNN 2x(conv3x3+pool)", "gru": "GRU bi-6, T=40"}


def worker(threads: int, repeat: int, models: list[str]) -> list[dict]:
    """Time each model's training step in both libraries (this process already has its thread count)."""
    import time

    import numpy as np
    import torch

    import ember

    torch.set_num_threads(threads)
    rows = []
    for name in models:
        torch.manual_seed(0)
        t_model, shape = build(torch, name)
        e_model, _ = build(ember, name)
        e_model.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t_model.state_dict().items()})
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape, dtype=np.float32)
        y = rng.integers(0, 10, size=shape[0])
        setups = {"torch": (torch, t_model, torch.tensor(x), torch.tensor(y)),
                  "ember": (ember, e_model, ember.tensor(x), ember.tensor(y))}
        steps, first_loss = {}, {}
        for lib_name, (lib, model, xb, yb) in setups.items():
            opt = lib.optim.Adam(model.parameters(), lr=1e-3)

            def step(lib=lib, model=model, xb=xb, yb=yb, opt=opt) -> float:
                loss = lib.nn.functional.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                return loss.item()

            first_loss[lib_name] = step()  # also the warm-up
            steps[lib_name] = step
        # about 0.5 s per measurement, at least 3 steps; the libraries take turns, so that a slow spell
        # of a shared machine hits both, and each keeps its best of `repeat` (least disturbed). A pause
        # before each turn lets the other library's idle threads (which spin-wait for a while after
        # work: OpenMP's and OpenBLAS's) go to sleep first, and two untimed steps after it bring the
        # caches and the cores' clocks back to a training loop's steady state.
        number = {}
        for lib_name, step in steps.items():
            t0 = time.perf_counter()
            step()
            number[lib_name] = max(3, int(0.5 / max(time.perf_counter() - t0, 1e-6)))
        times = {lib_name: float("inf") for lib_name in steps}
        for _ in range(repeat):
            for lib_name, step in steps.items():
                time.sleep(0.3)
                step()
                step()
                t0 = time.perf_counter()
                for _ in range(number[lib_name]):
                    step()
                times[lib_name] = min(times[lib_name], (time.perf_counter() - t0) / number[lib_name])
        rows.append({"model": name, "batch": shape[0], "threads": threads, "torch_ms": times["torch"] * 1e3,
                     "ember_ms": times["ember"] * 1e3, "ratio": times["ember"] / times["torch"],
                     "loss_diff": abs(first_loss["torch"] - first_loss["ember"])})
    return rows


def main() -> None:
    """Run one worker process per thread count and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to compare")
    p.add_argument("--repeat", type=int, default=5, help="measurements per step (the best is kept)")
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.repeat, args.models)))
        return

    rows = []
    # the machine may be shared: a busy one inflates the multi-threaded numbers most
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=sys.stderr)
    for n in args.threads:
        env = dict(os.environ, **{v: str(n) for v in _THREAD_VARS})
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(n), "--repeat", str(args.repeat),
               "--models", *args.models]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        rows += json.loads(out.strip().splitlines()[-1])
        print(f"measured with {n} thread{'s' if n > 1 else ''}", file=sys.stderr)

    print(f"{'training step (fwd+loss+bwd+Adam)':36s} {'batch':>5s} {'threads':>7s} {'torch':>10s} {'ember':>10s} "
          f"{'ember/torch':>11s} {'|dloss|':>9s}")
    for r in rows:
        print(f"{MODELS[r['model']]:36s} {r['batch']:5d} {r['threads']:7d} {r['torch_ms']:8.2f}ms "
              f"{r['ember_ms']:8.2f}ms "
              f"{r['ratio']:10.2f}x {r['loss_diff']:9.1e}")


if __name__ == "__main__":
    main()
