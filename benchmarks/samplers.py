"""torch's per-element samplers in ember (Python scalar loops) vs torch (C++), one thread: the cost of
drawing torch's exact gamma, Poisson, binomial and Dirichlet numbers.

Run: python benchmarks/samplers.py
"""
from __future__ import annotations

import time

import torch

import ember
import ember.distributions as ED
import torch.distributions as TD

torch.set_num_threads(1)
CASES = {  # name: fn(lib, distributions)
    "Dirichlet([.5, .5, .5]).sample((1000,))": lambda lib, D: D.Dirichlet(lib.full((3,), 0.5)).sample((1000,)),
    "Beta(2, 3).rsample((10000,))": lambda lib, D: D.Beta(lib.tensor(2.0), lib.tensor(3.0)).rsample((10000,)),
    "_standard_gamma(100k, alpha 2.5)": lambda lib, D: lib._standard_gamma(lib.full((100000,), 2.5)),
    "poisson(100k, rate 3)": lambda lib, D: lib.poisson(lib.full((100000,), 3.0)),
    "poisson(100k, rate 250)": lambda lib, D: lib.poisson(lib.full((100000,), 250.0)),
    "binomial(100k, n 100, p .3)": lambda lib, D: lib.binomial(lib.full((100000,), 100.0), lib.full((100000,), 0.3)),
}


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


if __name__ == "__main__":
    print(f"{'case':42s} {'ember ms':>10s} {'torch ms':>10s} {'ratio':>7s}")
    for name, fn in CASES.items():
        e, t = best_of(lambda: fn(ember, ED)), best_of(lambda: fn(torch, TD))
        print(f"{name:42s} {e * 1e3:10.1f} {t * 1e3:10.2f} {e / t:7.0f}x")
