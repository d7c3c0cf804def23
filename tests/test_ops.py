"""Tests generated from the operator specification table (tests/op_db.py).

For every spec, dtype and sample: the forward values, the gradients, and the
double-backward gradients equal torch 2.13.0's on the same inputs; in float64,
ember.autograd.gradcheck and gradgradcheck pass (finite differences).
"""
import numpy as np
import pytest
import torch

import ember
from conftest import assert_close
from op_db import OP_DB


def _cases(kind):
    out = []
    for spec in OP_DB:
        if kind in ("backward", "double_backward", "gradcheck") and not spec.differentiable:
            continue
        if kind == "double_backward" and not spec.double_backward:
            continue
        if kind == "gradcheck" and not spec.gradcheck:
            continue
        dtypes = [np.float64] if kind == "gradcheck" else spec.dtypes
        for dt in dtypes:
            n = len(spec.samples(np.random.default_rng(0), dt))
            for i in range(n):
                out.append(pytest.param(spec, dt, i, id=f"{spec.name}-{np.dtype(dt).name}-{i}"))
    return out


def _sample(spec, dt, i):
    return spec.samples(np.random.default_rng(1234 + i), dt)[i]


def _grad_mask(sample):
    if sample.grad is not None:
        return sample.grad
    return tuple(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in sample.args)


def _make(lib, sample, grad):
    args = []
    for a, g in zip(sample.args, grad if grad else (False,) * len(sample.args)):
        if isinstance(a, np.ndarray):
            t = lib.tensor(a.copy()) if lib is ember else torch.from_numpy(a.copy())
            if g:
                t.requires_grad_(True)
            args.append(t)
        else:
            args.append(a)
    return args


def _outputs(out):
    if isinstance(out, (tuple, list)):
        return [o for o in out]
    return [out]


def _float_outputs(outs):
    return [o for o in outs if o.dtype.is_floating_point]


@pytest.mark.parametrize("spec,dt,i", _cases("forward"))
def test_forward(spec, dt, i):
    s = _sample(spec, dt, i)
    eo = _outputs(spec.call(ember, *_make(ember, s, None), **s.kwargs))
    to = _outputs(spec.call(torch, *_make(torch, s, None), **s.kwargs))
    assert len(eo) == len(to)
    for k, (e, t) in enumerate(zip(eo, to)):
        assert_close(e, t, spec.atol, spec.rtol, what=f"{spec.name} output {k}")


def _first_grads(spec, lib, s, create_graph):
    mask = _grad_mask(s)
    args = _make(lib, s, mask)
    inputs = [a for a, m in zip(args, mask) if m]
    outs = _float_outputs(_outputs(spec.call(lib, *args, **s.kwargs)))
    rng = np.random.default_rng(7)
    gos = [rng.standard_normal(tuple(o.shape)).astype(np.dtype(str(o.dtype).split(".")[-1])) for o in outs]
    if lib is ember:
        gos = [ember.tensor(g) for g in gos]
    else:
        gos = [torch.from_numpy(g) for g in gos]
    pairs = [(o, g) for o, g in zip(outs, gos) if o.requires_grad]
    if not pairs:
        return inputs, [None] * len(inputs)
    grads = lib.autograd.grad([o for o, _ in pairs], inputs, [g for _, g in pairs], allow_unused=True,
                              create_graph=create_graph)
    return inputs, list(grads)


@pytest.mark.parametrize("spec,dt,i", _cases("backward"))
def test_backward(spec, dt, i):
    s = _sample(spec, dt, i)
    _, eg = _first_grads(spec, ember, s, False)
    _, tg = _first_grads(spec, torch, s, False)
    atol = spec.grad_atol if spec.grad_atol is not None else spec.atol * 10
    rtol = spec.grad_rtol if spec.grad_rtol is not None else spec.rtol * 10
    for k, (e, t) in enumerate(zip(eg, tg)):
        if e is None or t is None:  # an unused input: None on one side means zeros
            e = None if e is None or not np.any(e.numpy()) else e
            t = None if t is None or not torch.any(t) else t
        assert_close(e, t, atol, rtol, what=f"{spec.name} grad of input {k}")


def _second_grads(spec, lib, s):
    inputs, grads = _first_grads(spec, lib, s, True)
    rng = np.random.default_rng(11)
    total = None
    for g in grads:
        if g is None or not g.requires_grad:
            continue
        v = rng.standard_normal(tuple(g.shape)).astype(np.dtype(str(g.dtype).split(".")[-1]))
        v = ember.tensor(v) if lib is ember else torch.from_numpy(v)
        term = (g * v).sum()
        total = term if total is None else total + term
    if total is None:
        return [None] * len(inputs)
    return list(lib.autograd.grad(total, inputs, allow_unused=True))


@pytest.mark.parametrize("spec,dt,i", _cases("double_backward"))
def test_double_backward(spec, dt, i):
    s = _sample(spec, dt, i)
    eg = _second_grads(spec, ember, s)
    tg = _second_grads(spec, torch, s)
    atol = (spec.grad_atol if spec.grad_atol is not None else spec.atol * 10) * 10
    rtol = (spec.grad_rtol if spec.grad_rtol is not None else spec.rtol * 10) * 10
    for k, (e, t) in enumerate(zip(eg, tg)):
        if e is None or t is None:
            e = None if e is None or not np.any(e.numpy()) else e
            t = None if t is None or not torch.any(t) else t
        assert_close(e, t, atol, rtol, what=f"{spec.name} second-order grad of input {k}")


@pytest.mark.parametrize("spec,dt,i", _cases("gradcheck"))
def test_gradcheck(spec, dt, i):
    s = _sample(spec, np.float64, i)
    mask = _grad_mask(s)
    args = _make(ember, s, mask)
    if not any(mask):
        pytest.fail("a differentiable spec needs at least one float input")
    idx = [k for k, m in enumerate(mask) if m]

    def f(*xs):
        full = list(args)
        for k, x in zip(idx, xs):
            full[k] = x
        outs = _float_outputs(_outputs(spec.call(ember, *full, **s.kwargs)))
        return tuple(outs) if len(outs) > 1 else outs[0]

    inputs = tuple(args[k] for k in idx)
    assert ember.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
    if spec.double_backward:
        assert ember.autograd.gradgradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
