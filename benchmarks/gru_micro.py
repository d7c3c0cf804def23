"""GRU training step: ember vs torch in the same run, one thread each.

Run: python benchmarks/gru_micro.py
A one-layer GRU (input 1, hidden 64; then hidden 6; then the MNIST-1D table's bidirectional
GRU of 6) over a sequence of 40 steps at batch 100: forward, a loss on the outputs and the final
state, backward. Prints the time per step of each library and ember's ratio to torch.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import timeit  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ember  # noqa: E402

torch.set_num_threads(1)


def gru_step(lib, hidden: int, bidirectional: bool = False, seq: int = 40, batch: int = 100):
    """A closure running one forward + backward of a GRU with torch's weights copied into both libraries."""
    torch.manual_seed(0)
    ref = torch.nn.GRU(1, hidden, batch_first=True, bidirectional=bidirectional)
    gru = lib.nn.GRU(1, hidden, batch_first=True, bidirectional=bidirectional)
    gru.load_state_dict({k: lib.tensor(v.detach().numpy().copy()) for k, v in ref.state_dict().items()})
    x = lib.tensor(np.random.default_rng(0).standard_normal((batch, seq, 1), dtype=np.float32))

    def step():
        out, h = gru(x)
        (out.sum() + h.sum()).backward()
    return step


def best_ms(fns, number: int = 10, repeat: int = 15) -> list:
    """Best time per call of each function, in ms; runs interleave so that machine load hits both alike."""
    for fn in fns:
        fn()  # warm up
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            best[k] = min(best[k], timeit.timeit(fn, number=number) / number * 1e3)
    return best


def main() -> None:
    for hidden, bidirectional in ((64, False), (6, False), (6, True)):
        e, t = best_ms([gru_step(ember, hidden, bidirectional), gru_step(torch, hidden, bidirectional)])
        kind = "bidirectional" if bidirectional else "one direction"
        print(f"GRU seq 40 batch 100 input 1 hidden {hidden:2d}, {kind:13s}: ember {e:6.2f} ms  torch {t:6.2f} ms  "
              f"ratio {e / t:.2f}")


if __name__ == "__main__":
    main()
