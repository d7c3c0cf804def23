"""ember.func against a Python loop and against torch.func, one thread each.

Run: python benchmarks/func.py
1. per-sample gradients of the MNIST-1D MLP (40-100-100-10) for a batch of 100 signals:
   vmap(grad(loss)) in ember, a loop of 100 backward passes in ember, and torch.func's vmap(grad);
2. jacrev of a 64 -> 64 MLP (64-64-64, tanh) in ember and in torch.func.
Goals (issue 11): vmap(grad) at least 10x faster than the loop and at most 2x torch.func; jacrev at most 1.5x torch.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # pinned kernels on some machines here; not users'
    os.environ.pop(_var, None)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import timeit  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.func  # noqa: E402

import ember  # noqa: E402
import ember.func  # noqa: E402

torch.set_num_threads(1)
ember.set_num_threads(1)


def mlp(lib, sizes, act, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(lib.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act(lib))
    m = lib.nn.Sequential(*layers)
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.1))
    return m


def per_sample(lib, mod):
    m = mlp(lib, [40, 100, 100, 10], lambda L: L.nn.ReLU())
    rng = np.random.default_rng(1)
    x = lib.tensor(rng.standard_normal((100, 40)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 100))
    params = {k: v.detach() for k, v in m.named_parameters()}

    def loss(p, xi, yi):
        return lib.nn.functional.cross_entropy(mod.functional_call(m, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))
    fast = lambda: mod.vmap(mod.grad(loss), in_dims=(None, 0, 0))(params, x, y)  # noqa: E731

    def loop():
        for i in range(100):
            m.zero_grad()
            lib.nn.functional.cross_entropy(m(x[i:i + 1]), y[i:i + 1]).backward()
    return fast, loop


def jac(lib, mod):
    m = mlp(lib, [64, 64, 64], lambda L: L.nn.Tanh())
    x = lib.tensor(np.random.default_rng(2).standard_normal(64).astype(np.float32))
    return lambda: mod.jacrev(m)(x)


def rounds(pairs, number: int, repeat: int) -> list:
    """Per-call seconds of each function over ``repeat`` rounds, the functions taking turns in each
    round, so that ember and torch see the same load (the machine may be shared)."""
    for fn in pairs:
        fn()
    times = [[] for _ in pairs]
    for _ in range(repeat):
        for fn, t in zip(pairs, times):
            t.append(timeit.timeit(fn, number=number) / number)
    return times


def spread(ember_t, torch_t) -> str:
    """The ratio ember/torch of each round: its lowest, median and highest."""
    r = sorted(e / t for e, t in zip(ember_t, torch_t))
    return f"{r[0]:.2f}-{r[len(r) // 2]:.2f}-{r[-1]:.2f}x"


def main() -> None:
    from dataloader import blas_kernel  # (benchmarks/ is on the path when run as a script)
    print(f"BLAS kernel (threadpoolctl): {blas_kernel()}; {os.cpu_count()} CPUs")
    e_fast, e_loop = per_sample(ember, ember.func)
    t_fast, _ = per_sample(torch, torch.func)
    ef, tf = rounds([e_fast, t_fast], 5, 11)
    el, = rounds([e_loop], 1, 3)
    ej, tj = rounds([jac(ember, ember.func), jac(torch, torch.func)], 20, 11)
    print("min per call over 11 interleaved rounds; ember/torch per round as lowest-median-highest")
    print(f"{'benchmark':44s}{'torch':>11s}{'ember':>11s}{'ember/torch':>13s}{'range':>18s}")
    print(f"{'per-sample grads, MLP, batch 100: vmap(grad)':44s}{min(tf) * 1e3:9.2f}ms{min(ef) * 1e3:9.2f}ms"
          f"{min(ef) / min(tf):12.2f}x{spread(ef, tf):>18s}")
    print(f"{'  ember loop of 100 backward passes':44s}{'':>11s}{min(el) * 1e3:9.2f}ms   "
          f"(vmap is {min(el) / min(ef):.1f}x faster)")
    print(f"{'jacrev, 64 -> 64 MLP':44s}{min(tj) * 1e3:9.2f}ms{min(ej) * 1e3:9.2f}ms{min(ej) / min(tj):12.2f}x"
          f"{spread(ej, tj):>18s}")


if __name__ == "__main__":
    main()
