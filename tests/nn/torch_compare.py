"""Run the same layer call on ember and torch 2.13.0 and compare outputs and input gradients."""
from __future__ import annotations

import numpy as np
import torch

import ember
from conftest import assert_close


def compare(ember_fn, torch_fn, *arrays, grad=None, atol=1e-5, rtol=1e-4, seed=1):
    """Call ``ember_fn`` and ``torch_fn`` on the same arrays; check outputs and gradients agree.

    ``grad`` lists which arrays require grad (default: every float array). The first output
    (of a tuple) is back-propagated with the same random upstream gradient in both libraries.
    Returns the ember and torch outputs for further checks.
    """
    grad = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if grad is None else grad
    es = [ember.tensor(a.copy(), requires_grad=i in grad) for i, a in enumerate(arrays)]
    ts = [torch.tensor(a.copy(), requires_grad=i in grad) for i, a in enumerate(arrays)]
    eo, to = ember_fn(*es), torch_fn(*ts)
    eos, tos = (eo, to) if isinstance(eo, tuple) else ((eo,), (to,))
    for k, (e, t) in enumerate(zip(eos, tos)):
        assert_close(e, t, atol=atol, rtol=rtol, what=f"output {k}")
    if grad:
        gy = np.random.default_rng(seed).standard_normal(tuple(tos[0].shape)).astype(arrays[grad[0]].dtype)
        eos[0].backward(ember.tensor(gy))
        tos[0].backward(torch.tensor(gy))
        for i in grad:
            assert_close(es[i].grad, ts[i].grad, atol=atol, rtol=rtol, what=f"grad of input {i}")
    return eo, to


def f64(rng, *shape):
    """A float64 array of normal values (for gradcheck)."""
    return rng.standard_normal(shape)


def f32(rng, *shape):
    """A float32 array of normal values."""
    return rng.standard_normal(shape).astype(np.float32)


def leaf(a):
    """An ember float64 leaf that requires grad, for gradcheck."""
    return ember.tensor(a, requires_grad=True)
