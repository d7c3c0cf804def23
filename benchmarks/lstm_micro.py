"""LSTM forward + backward: ember vs torch in the same run, and where ember's time goes.

Run: python benchmarks/lstm_micro.py [--threads N] [--repeat R]
The word-language-model LSTM of benchmarks/train_step.py without its embedding and head: 2 layers of 128
over 35 steps at batch 20, forward, a loss on the outputs and the final state, backward. Prints each
library's best wall time per step and CPU time per step (the process's, which a busy machine disturbs
less than wall time) with ember's ratio to torch, then ember's share in the recurrent products (one
(20 x 128) x (128 x 512) product per layer and step, each way) and in the eight whole-sequence products,
and where ember's CPU time goes by phase: the scans' loops, the rest of the layers' forward and backward
(whole-sequence products), and what lies outside the layers' ops (autograd, the loss).
"""
from __future__ import annotations

import argparse
import inspect
import os
import sys

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument("--threads", type=int, default=1)
_p.add_argument("--repeat", type=int, default=15)
ARGS = _p.parse_args()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)  # NumPy's BLAS reads it when it loads
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ember  # noqa: E402

torch.set_num_threads(ARGS.threads)
T, B, H, LAYERS = 35, 20, 128, 2


def lstm_step(lib):
    """A closure running one forward + backward of the LSTM, torch's weights copied into both libraries."""
    torch.manual_seed(0)
    ref = torch.nn.LSTM(H, H, LAYERS)
    m = lib.nn.LSTM(H, H, LAYERS)
    m.load_state_dict({k: lib.tensor(v.detach().numpy().copy()) for k, v in ref.state_dict().items()})
    x = lib.tensor(np.random.default_rng(0).standard_normal((T, B, H), dtype=np.float32), requires_grad=True)

    def step():
        out, (h, c) = m(x)
        (out.sum() + h.sum()).backward()
    return step


def best(fns: dict, number: int = 10) -> tuple[dict, dict]:
    """Best wall and CPU time per call of each function (ms); the libraries take turns, so load hits both."""
    wall, cpu = dict.fromkeys(fns, float("inf")), dict.fromkeys(fns, float("inf"))
    for fn in fns.values():
        fn()
    for _ in range(ARGS.repeat):
        for k, fn in fns.items():
            fn()
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(number):
                fn()
            wall[k] = min(wall[k], (time.perf_counter() - t0) / number * 1e3)
            cpu[k] = min(cpu[k], (time.process_time() - c0) / number * 1e3)
    return wall, cpu


def product_ms(m: int, k: int, n: int, calls: int) -> float:
    """CPU time of ``calls`` NumPy products (m x k) @ (k x n), best of 7 (ms)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    t = float("inf")
    for _ in range(7):
        c0 = time.process_time()
        for _ in range(calls):
            np.matmul(a, b, out=out)
        t = min(t, time.process_time() - c0)
    return t * 1e3


def phases(step, calls: int = 30) -> dict:
    """ember's CPU time per call of ``step`` (ms) inside the LSTM's forward and backward step loops and inside
    the layer ops around them, timed by wrapping those functions for the duration."""
    from ember.nn.modules import rnn
    spent: dict = {}

    def timed(fn, key):
        def run(*args):
            c0 = time.process_time()
            try:
                return fn(*args)
            finally:
                spent[key] = spent.get(key, 0.0) + time.process_time() - c0
        return run
    loops = {"_lstm_steps": "forward loops", "_lstm_steps_backward": "backward loops"}
    ops = (rnn._LSTMScan,)
    own = [(op, name, op.__dict__.get(name)) for op in ops for name in ("backward", "_parts")]  # None: inherited
    saved_loops = {name: getattr(rnn, name) for name in loops}
    for name, key in loops.items():
        setattr(rnn, name, timed(saved_loops[name], key))
    for op in ops:
        op.backward = classmethod(timed(inspect.getattr_static(op, "backward").__func__, "backward op"))
        # Op.apply calls the forward it fetched once into ``_parts``: that is where the forward is timed
        op._parts = (timed(op._parts[0], "forward op"), *op._parts[1:])
    try:
        c0 = time.process_time()
        for _ in range(calls):
            step()
        total = time.process_time() - c0
    finally:
        for name, fn in saved_loops.items():
            setattr(rnn, name, fn)
        for op, name, raw in own:
            if raw is None:
                delattr(op, name)
            else:
                setattr(op, name, raw)
    out = {k: spent.get(k, 0.0) / calls * 1e3 for k in ("forward loops", "forward op", "backward loops", "backward op")}
    out["forward op"] -= out["forward loops"]
    out["backward op"] -= out["backward loops"]
    out["outside the ops"] = total / calls * 1e3 - sum(out.values())
    return out


def main() -> None:
    fns = {"ember": lstm_step(ember), "torch": lstm_step(torch)}
    wall, cpu = best(fns)
    print(f"LSTM {LAYERS} x {H}, T {T}, batch {B}, forward + backward, {ARGS.threads} thread(s):")
    print(f"  wall: ember {wall['ember']:6.2f} ms  torch {wall['torch']:6.2f} ms  ratio {wall['ember'] / wall['torch']:.2f}")
    print(f"  CPU:  ember {cpu['ember']:6.2f} ms  torch {cpu['torch']:6.2f} ms  ratio {cpu['ember'] / cpu['torch']:.2f}")
    steps = product_ms(B, H, 4 * H, 2 * LAYERS * T)
    whole = product_ms(T * B, H, 4 * H, 4 * LAYERS)
    print(f"  ember's products alone (CPU): per-step recurrent {steps:.2f} ms ({2 * LAYERS * T} calls), "
          f"whole-sequence {whole:.2f} ms ({4 * LAYERS} calls); the rest {cpu['ember'] - steps - whole:.2f} ms")
    shares = phases(lstm_step(ember))
    print("  ember's CPU by phase: " + ", ".join(f"{k} {v:.2f} ms" for k, v in shares.items())
          + " (backward loops include the gates' step-independent factors; the ops' rest: their whole-sequence"
          " products (input projections, input and weight gradients) and layout)")


if __name__ == "__main__":
    main()
