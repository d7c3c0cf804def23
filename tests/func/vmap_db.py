"""vmap over the operator specification table: each op on a batch of three samples against a loop."""
from __future__ import annotations

import os
import sys
import warnings

import numpy as np

import ember
import ember.func

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for op_db
from op_db import OP_DB  # noqa: E402


def batched_case(spec):
    """Three samples of ``spec`` with the same shapes and settings, stacked: (args, in_dims), or None."""
    try:
        samples = [spec.samples(np.random.default_rng(seed), np.float64)[0] for seed in range(3)]
    except Exception:
        return None
    first = samples[0]
    args, dims = [], []
    for i, a in enumerate(first.args):
        others = [s.args[i] for s in samples]
        if isinstance(a, np.ndarray) and a.ndim > 0 and all(isinstance(o, np.ndarray) and o.shape == a.shape
                                                           and o.dtype == a.dtype for o in others):
            args.append(ember.tensor(np.stack(others)))
            dims.append(0)
        elif isinstance(a, np.ndarray):
            args.append(ember.tensor(a))
            dims.append(None)
        else:
            args.append(a)
            dims.append(None)
    if all(d is None for d in dims) or any(repr(s.kwargs) != repr(first.kwargs) for s in samples):
        return None
    return args, tuple(dims), first.kwargs


def check(spec) -> str:
    """'ok', 'skip' (no batchable sample) or what went wrong."""
    case = batched_case(spec)
    if case is None:
        return "skip"
    args, dims, kwargs = case

    def f(*xs):
        return spec.call(ember, *xs, **kwargs)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = [f(*[a.select(0, i) if d == 0 else a for a, d in zip(args, dims)]) for i in range(3)]
            got = ember.func.vmap(f, in_dims=dims)(*args)
    except Exception as e:  # noqa: BLE001  (reported by the caller)
        return f"{type(e).__name__}: {str(e)[:80]}"
    exp = ember.func._tree.flatten(expected)[0]
    outs = ember.func._tree.flatten(got)[0]
    per = len(exp) // 3
    for j, o in enumerate(outs):
        parts = [np.asarray(exp[i * per + j].detach().numpy()) for i in range(3)]
        if len({p.shape for p in parts}) > 1:
            return "skip"  # the samples' results differ in shape (data-dependent): not vmappable
        want = np.stack(parts)
        have = np.asarray(o.detach().numpy())
        if have.shape != want.shape or not np.allclose(have, want, rtol=1e-10, atol=1e-10, equal_nan=True):
            return f"values differ (shape {have.shape} vs {want.shape})"
    return "ok"


if __name__ == "__main__":
    results = {s.name: check(s) for s in OP_DB}
    for name, r in sorted(results.items()):
        if r not in ("ok", "skip"):
            print(name, "->", r)
    print({k: sum(v == k for v in results.values()) for k in ("ok", "skip")}, len(results))
