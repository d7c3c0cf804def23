"""The matrix products of the training benchmarks: NumPy's BLAS against torch's, in the same run.

Run: python benchmarks/blas.py [--threads 1 2]
ember's products are NumPy's ``matmul`` (OpenBLAS in NumPy's wheels); torch's CPU build runs its own
(MKL / oneDNN on x86). This prints, per shape of ``benchmarks/train_step.py``'s models, the best time of
each and their ratio, so that a training step's ratio can be read against the share of it spent in
products: where NumPy's products are slower than torch's, a step that is half products cannot reach
torch's time by its elementwise work alone. Each thread count runs in a fresh process (NumPy reads it
at import).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # users' machines don't pin OpenBLAS's kernels
    os.environ.pop(_var, None)

# (m, k, n, where it comes from): a product (m x k) @ (k x n)
SHAPES = [
    (256, 784, 256, "MLP layer 1, batch 256"),
    (256, 256, 128, "MLP layer 2"),
    (2048, 128, 384, "Transformer LM: q, k, v projection (32 x 64 tokens)"),
    (2048, 128, 512, "Transformer LM: feed-forward in"),
    (2048, 512, 128, "Transformer LM: feed-forward out"),
    (512, 2048, 128, "Transformer LM: feed-forward weight gradient"),
    (20, 128, 512, "LSTM LM: one step's recurrent product (batch 20)"),
    (700, 128, 512, "LSTM LM: a layer's input projection (35 x 20 tokens)"),
    (700, 128, 1000, "LSTM LM: the vocabulary head"),
    (12544, 288, 64, "CNN conv2 as a product: 64 images x 14 x 14 positions, 3 x 3 x 32 columns"),
]


def best_us(fn, seconds: float = 0.2) -> float:
    """Best time of ``fn`` in microseconds over several timed batches."""
    import time
    fn()
    t0 = time.perf_counter()
    fn()
    number = max(1, int(seconds / 5 / max(time.perf_counter() - t0, 1e-7)))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best * 1e6


def worker(threads: int) -> None:
    """Time every shape with NumPy and torch (this process already has its thread count)."""
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    for m, k, n, what in SHAPES:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        t_np = best_us(lambda: np.matmul(a, b, out=out))
        t_torch = best_us(lambda: torch.mm(ta, tb))
        print(f"{threads:7d} {m:5d}x{k:<4d}@{k:4d}x{n:<5d} {t_torch:10.1f} {t_np:10.1f} {t_np / t_torch:8.2f}x   {what}")


def main() -> None:
    """One worker process per thread count."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker is not None:
        worker(args.worker)
        return
    try:
        from threadpoolctl import threadpool_info
        import numpy  # noqa: F401  (loads its BLAS, so that threadpoolctl sees it)
        kernel = ", ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                           for i in threadpool_info() if i.get("user_api") == "blas")
    except ImportError:
        kernel = "unknown (pip install threadpoolctl)"
    print(f"NumPy's BLAS: {kernel}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'threads':>7s} {'product':>22s} {'torch us':>10s} {'NumPy us':>10s} {'NumPy/torch':>9s}")
    for n in args.threads:
        env = dict(os.environ, **{v: str(n) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
        subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", str(n)], env=env, check=True,
                       timeout=600)


if __name__ == "__main__":
    main()
