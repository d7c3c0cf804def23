"""DataLoader epochs, ember vs torch in the same run, with 0, 2 and 4 worker processes.

Run: python benchmarks/dataloader.py [--workers 0 2 4] [--repeat 3] [--batch-size 128]
Two datasets, the same data in both libraries:
1. in memory: a ``TensorDataset`` of 60000 x 784 float32 rows and int64 labels;
2. Fashion-MNIST's training files (``ember.datasets.FashionMNIST``; torch reads the same NumPy arrays
   through a plain ``Dataset`` returning ``(image, label)``, as torchvision's does before transforms).
An epoch is one shuffled pass, workers started and stopped as a training loop without
``persistent_workers`` does; each library keeps its best of ``--repeat`` epochs, the two taking turns.
The CPU seconds (this process and its workers) say what an epoch costs when the machine is busy and
wall times mostly measure waiting for a core. Last rows: from ``iter(loader)`` to the first batch,
and from dropping the iterator after it until all its workers are gone.
"""
from __future__ import annotations

import os

# some machines of this environment pin OpenBLAS to old kernels; users' machines don't
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def blas_kernel() -> str:
    """Which BLAS library and kernel NumPy runs, as threadpoolctl reports it."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl)"
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}" for i in infos) or "none"


def datasets(lib_name: str, x: np.ndarray, y: np.ndarray):
    """The two datasets for ``lib_name``: in-memory tensors, and Fashion-MNIST as NumPy samples."""
    if lib_name == "ember":
        import ember
        from ember.datasets import FashionMNIST
        from ember.utils.data import TensorDataset
        yield "TensorDataset 60000x784", TensorDataset(ember.tensor(x), ember.tensor(y))
        yield "Fashion-MNIST files", FashionMNIST(train=True)
        return
    import torch
    from torch.utils.data import Dataset, TensorDataset

    from ember.datasets import FashionMNIST

    class ArrayPairs(Dataset):
        def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
            self.images, self.labels = images, labels

        def __getitem__(self, i):
            return self.images[i], int(self.labels[i])

        def __len__(self) -> int:
            return len(self.images)

    yield "TensorDataset 60000x784", TensorDataset(torch.tensor(x), torch.tensor(y))
    fm = FashionMNIST(train=True)
    yield "Fashion-MNIST files", ArrayPairs(fm.data.numpy(), fm.targets.numpy())


def epoch_seconds(lib, dataset, workers: int, batch_size: int) -> tuple[float, float]:
    """One shuffled epoch, workers included: wall seconds, and CPU seconds of this process and its workers."""
    g = lib.Generator().manual_seed(0)
    loader = lib.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                                       generator=g)
    cpu0, start = os.times(), time.perf_counter()
    n = 0
    for xb, yb in loader:
        n += yb.shape[0]
    elapsed, cpu1 = time.perf_counter() - start, os.times()
    assert n == len(dataset)
    cpu = sum(cpu1[:4]) - sum(cpu0[:4])  # user and system time, this process and its reaped workers
    return elapsed, cpu


def start_stop_seconds(lib, dataset, workers: int) -> tuple[float, float]:
    """Seconds from ``iter(loader)`` to the first batch (workers started), and from dropping the iterator
    right after it until every worker is reaped."""
    loader = lib.utils.data.DataLoader(dataset, batch_size=128, num_workers=workers)
    start = time.perf_counter()
    it = iter(loader)
    next(it)
    first = time.perf_counter()
    del it
    return first - start, time.perf_counter() - first


def main() -> None:
    """Time both libraries and print a table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()

    import torch

    import ember

    torch.set_num_threads(1)
    ember.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60000, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=60000)
    libs = {"torch": torch, "ember": ember}
    sets = {name: dict(datasets(name, x, y)) for name in libs}
    print(f"BLAS: {blas_kernel()}; batch {args.batch_size}; best of {args.repeat} epochs; "
          f"{len(os.sched_getaffinity(0))} CPUs; load average {os.getloadavg()[0]:.1f}")
    print("per epoch: wall seconds, and CPU seconds of the main process and its workers together")
    print(f"{'dataset':<26}{'workers':>8}{'torch s':>10}{'ember s':>10}{'ember/torch':>13}{'torch cpu':>11}"
          f"{'ember cpu':>11}")
    for ds_name in sets["torch"]:
        for workers in args.workers:
            best = {name: (float("inf"), float("inf")) for name in libs}
            for _ in range(args.repeat):
                for name, lib in libs.items():
                    wall, cpu = epoch_seconds(lib, sets[name][ds_name], workers, args.batch_size)
                    best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
            (tw, tc), (ew, ec) = best["torch"], best["ember"]
            print(f"{ds_name:<26}{workers:>8}{tw:>10.3f}{ew:>10.3f}{ew / tw:>13.2f}{tc:>11.2f}{ec:>11.2f}", flush=True)
    for workers in [w for w in args.workers if w]:
        runs = {name: [start_stop_seconds(lib, sets[name]["TensorDataset 60000x784"], workers)
                       for _ in range(args.repeat)] for name, lib in libs.items()}
        for k, what in enumerate(("start: first batch", "stop: iterator dropped")):
            t, e = (min(r[k] for r in runs[name]) for name in ("torch", "ember"))
            print(f"{what:<26}{workers:>8}{t:>10.3f}{e:>10.3f}{e / t:>13.2f}")


if __name__ == "__main__":
    main()
