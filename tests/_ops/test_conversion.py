"""fill_, zero_, copy_, clone, to(): values, dtypes, gradients and errors against torch."""
import numpy as np
import pytest
import torch

import ember


def _run(lib, dtype_name="float32"):
    dt = getattr(lib, dtype_name)
    y = lib.tensor([1.0, -2.0, 3.0], dtype=dt, requires_grad=True)
    v = lib.tensor(2.0, dtype=dt, requires_grad=True)
    s = lib.tensor([[5.0], [6.0]], dtype=lib.float64, requires_grad=True)
    z = y * 2
    z.zero_()
    z.fill_(3.0)
    w = (y * 1).repeat(2, 1)
    w.copy_(s)            # broadcast (2,1) -> (2,3) and cast float64 -> y's dtype
    z.fill_(v)
    out = (z * y).sum() + (w * w * y).sum()
    out.backward()
    return [t.detach().numpy() for t in (out, y.grad, v.grad, s.grad, w, z)]


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_fill_zero_copy_values_and_gradients(dt):
    for e, t in zip(_run(ember, dt), _run(torch, dt)):
        assert e.dtype == t.dtype
        np.testing.assert_allclose(e, t, rtol=1e-6)


def test_copy_casts_and_broadcasts_like_torch():
    for src in ([1.7, -2.2], [[True, False]], 3):
        e = ember.zeros(2, 2, dtype=ember.int64)
        t = torch.zeros(2, 2, dtype=torch.int64)
        e.copy_(ember.tensor(src))
        t.copy_(torch.tensor(src))
        np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_in_place_on_leaves_and_expanded_tensors():
    p = ember.ones(3, requires_grad=True)
    with ember.no_grad():
        p.zero_()
        p.copy_(ember.tensor([1.0, 2.0, 3.0]))
    assert p.tolist() == [1.0, 2.0, 3.0] and p.requires_grad and p.is_leaf
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        p.fill_(1.0)
    with pytest.raises(RuntimeError, match="single memory location"):
        ember.ones(1, 3).expand(2, 3).add_(1)
    with pytest.raises(RuntimeError, match="must match the size"):
        ember.zeros(3).copy_(ember.ones(4))
    with pytest.raises(RuntimeError, match="0-dimension value tensor"):
        ember.zeros(3).fill_(ember.ones(2))
    with pytest.raises(TypeError):
        ember.zeros(3).copy_([1, 2, 3])


def test_repeat_returns_fresh_memory():
    x = ember.tensor([1.0, 2.0, 3.0])
    r = x.repeat(2, 1)
    r[0, 0] = 9.0
    assert x.tolist() == [1.0, 2.0, 3.0] and r.tolist() == [[9.0, 2.0, 3.0], [1.0, 2.0, 3.0]]


@pytest.mark.parametrize("name", ["float", "double", "half", "long", "int", "short", "char", "byte", "bool"])
def test_dtype_casts_take_memory_format_as_torch(name):
    res = []
    for lib in (torch, ember):
        x = lib.tensor([[1.5, -2.0], [0.0, 3.25]])
        y = getattr(x, name)(memory_format=lib.contiguous_format)
        z = getattr(x, name)(memory_format=lib.preserve_format)
        assert str(y.dtype) == str(z.dtype)
        res.append((str(y.dtype).split(".")[-1], y.numpy(), z.numpy()))
    assert res[0][0] == res[1][0]
    for e, t in zip(res[1][1:], res[0][1:]):
        np.testing.assert_array_equal(e, t)


def test_resize_as_function_as_torch():
    res = []
    for lib in (torch, ember):
        x = lib.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        out = lib.resize_as_(x, lib.zeros(2, 3))
        assert out is x
        res.append(x.numpy().copy())
    np.testing.assert_array_equal(res[1], res[0])
