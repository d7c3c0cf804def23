"""Forward-mode AD over the operator specification table: ember's tangents against torch's."""
from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.autograd.forward_ad as tfw

import ember
import ember.autograd.forward_ad as efw

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for op_db
from op_db import OP_DB  # noqa: E402


def _tangents(lib, fw, spec, sample, tangents):
    """The primal and tangent leaves of the op's output(s) with dual float inputs."""
    with fw.dual_level():
        args = [fw.make_dual(lib.tensor(a), lib.tensor(t)) if t is not None else
                (lib.tensor(a) if isinstance(a, np.ndarray) else a) for a, t in zip(sample.args, tangents)]
        out = spec.call(lib, *args, **sample.kwargs)
        outs = out if isinstance(out, (tuple, list)) else [out]
        res = []
        for o in outs:
            if isinstance(o, lib.Tensor) and o.is_floating_point():
                p, t = fw.unpack_dual(o)
                res.append((p.detach().numpy().copy(), None if t is None else t.detach().numpy().copy()))
        return res


def _sample_tangents(sample) -> list:
    """A random tangent for each differentiable float argument (``sample.grad`` flags them, if given)."""
    rng = np.random.default_rng(1)
    flags = sample.grad if sample.grad is not None else [isinstance(a, np.ndarray) and a.dtype.kind == "f"
                                                         for a in sample.args]
    return [rng.standard_normal(a.shape) if i < len(flags) and flags[i] and isinstance(a, np.ndarray) else None
            for i, a in enumerate(sample.args)]


def check(spec) -> str:
    """'ok', 'skip' (not differentiable, or torch has no forward AD for it) or what differs."""
    if not spec.differentiable:
        return "skip"
    try:
        sample = spec.samples(np.random.default_rng(0), np.float64)[0]
    except Exception:  # noqa: BLE001
        return "skip"
    tangents = _sample_tangents(sample)
    if not any(t is not None for t in tangents):
        return "skip"
    try:
        want = _tangents(torch, tfw, spec, sample, tangents)
    except Exception:  # noqa: BLE001  (torch has no forward AD formula for this op)
        return "skip"
    try:
        got = _tangents(ember, efw, spec, sample, tangents)
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {str(e)[:80]}"
    if len(got) != len(want):
        return f"{len(got)} float outputs, torch {len(want)}"
    for (pe, te), (pt, tt) in zip(got, want):
        if tt is None:
            continue
        if te is None:
            return "no tangent"
        if te.shape != tt.shape or not np.allclose(te, tt, rtol=1e-7, atol=1e-9, equal_nan=True):
            return f"tangent differs by {np.nanmax(np.abs(te - tt)) if te.shape == tt.shape else 'shape'}"
    return "ok"


def matches_finite_differences(spec, eps: float = 1e-6) -> bool:
    """Whether ember's tangents on the spec's first sample equal central differences (computed by torch)."""
    sample = spec.samples(np.random.default_rng(0), np.float64)[0]
    tangents = _sample_tangents(sample)
    got = _tangents(ember, efw, spec, sample, tangents)

    def outputs(sign):
        args = [a + sign * eps * t if t is not None else a for a, t in zip(sample.args, tangents)]
        out = spec.call(torch, *[torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args], **sample.kwargs)
        outs = out if isinstance(out, (tuple, list)) else [out]
        return [o.detach().numpy() for o in outs if isinstance(o, torch.Tensor) and o.is_floating_point()]
    fd = [(h - lo) / (2 * eps) for h, lo in zip(outputs(1), outputs(-1))]
    return len(fd) == len(got) and all(t is not None and np.allclose(t, f, rtol=1e-6, atol=1e-6)
                                       for (_, t), f in zip(got, fd))


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore")
    results = {s.name: check(s) for s in OP_DB}
    for name, r in sorted(results.items()):
        if r not in ("ok", "skip"):
            print(name, "->", r)
    print({k: sum(v == k for v in results.values()) for k in ("ok", "skip")}, len(results))
