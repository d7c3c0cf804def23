"""The Tensor API (metadata, conversion, printing, casts), compared with torch on the same values."""
import math

import numpy as np
import pytest
import torch

import ember
from conftest import assert_close

LIBS = {"ember": ember, "torch": torch}


def pair(data, **kw):
    return ember.tensor(data, **kw), torch.tensor(data, **kw)


def tname(dt):
    return str(dt).split(".")[1]


def raised(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e), str(e)
    return None


@pytest.mark.parametrize("data", [1.5, [1, 2, 3], [[1.0, 2.0], [3.0, 4.0]], [[[True]], [[False]]], [], [[]]])
def test_metadata(data):
    e, t = pair(data)
    assert tname(e.dtype) == tname(t.dtype)
    assert tuple(e.shape) == tuple(t.shape) and e.shape == t.shape
    assert e.ndim == t.ndim and e.dim() == t.dim()
    assert tuple(e.size()) == tuple(t.size()) and e.numel() == t.numel()
    assert e.is_leaf and not e.requires_grad and e.grad_fn is None
    assert str(e.device) == str(t.device) == "cpu"
    assert e.is_floating_point() == t.is_floating_point()
    assert e.element_size() == t.element_size()
    for d in range(-e.ndim, e.ndim):
        assert e.size(d) == t.size(d)


def test_size_is_a_tuple_and_prints_like_torch():
    e, t = pair([[1.0, 2.0, 3.0]])
    assert isinstance(e.shape, tuple) and e.shape == (1, 3)
    assert repr(e.shape).replace("ember", "torch") == repr(t.shape)
    assert e.shape.numel() == 3
    with pytest.raises(IndexError, match="Dimension out of range"):
        e.size(2)


def test_is_leaf_and_grad_fn():
    for lib in LIBS.values():
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        assert x.is_leaf and not y.is_leaf
        assert y.grad_fn.name() == "MulBackward0"
        assert lib.ones(2).is_leaf and (lib.ones(2) * 2).is_leaf


def test_detach_shares_memory():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    d.numpy()[0] = 7.0
    assert x.tolist() == [7.0, 2.0]
    y = x * 2
    y.detach_()
    assert y.is_leaf and not y.requires_grad and y.grad_fn is None


def test_requires_grad_rules():
    x = ember.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    for name, lib in LIBS.items():
        y = lib.ones(2, requires_grad=True) * 2
        with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
            y.requires_grad_(False)
    msgs = [raised(lambda: lib.tensor([1, 2]).requires_grad_()) for lib in LIBS.values()]
    assert msgs[0][0] is msgs[1][0] is RuntimeError
    assert "only Tensors of floating point" in msgs[0][1] and "only Tensors of floating point" in msgs[1][1]


def test_item_tolist_and_numbers():
    for data in (3.5, [[1, 2], [3, 4]], [True, False], 7):
        e, t = pair(data)
        assert e.tolist() == t.tolist()
        assert type(e.tolist()) is type(t.tolist())
    e, t = pair([2.5])
    assert e.item() == t.item() == 2.5 and float(e) == 2.5 and int(e) == 2
    assert math.isclose(float(ember.tensor(0.1)), float(torch.tensor(0.1)))
    msgs = [raised(lambda: lib.ones(2).item()) for lib in LIBS.values()]
    assert msgs[0] == msgs[1]


def test_numpy_shares_memory_and_refuses_grad():
    x = ember.zeros(3)
    a = x.numpy()
    a[1] = 5.0
    assert x.tolist() == [0.0, 5.0, 0.0]
    x.add_(1)
    assert a.tolist() == [1.0, 6.0, 1.0]
    msgs = [raised(lambda: lib.ones(2, requires_grad=True).numpy()) for lib in LIBS.values()]
    assert msgs[0] == msgs[1] and msgs[0][0] is RuntimeError
    assert np.asarray(ember.tensor([1, 2])).tolist() == [1, 2]
    assert np.asarray(ember.tensor([1, 2]), dtype=np.float32).dtype == np.float32
    with pytest.raises(RuntimeError):
        np.asarray(ember.ones(2, requires_grad=True))


def test_len_iter_bool():
    e, t = pair([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert len(e) == len(t) == 3
    rows = list(e)
    assert len(rows) == 3 and rows[1].tolist() == [3.0, 4.0]
    assert bool(ember.tensor([0.0])) is False and bool(ember.tensor(2)) is True
    for fn in (lambda lib: bool(lib.ones(2)), lambda lib: len(lib.tensor(1.0)), lambda lib: iter(lib.tensor(1.0))):
        msgs = [raised(lambda: fn(lib)) for lib in LIBS.values()]
        assert msgs[0] is not None and msgs[0][0] is msgs[1][0], msgs


REPR_CASES = [
    lambda lib: lib.tensor([1.0, 2.0, 3.0]),
    lambda lib: lib.tensor([1.5, -2.25, 3.0]),
    lambda lib: lib.tensor([[1, 2], [3, 4]]),
    lambda lib: lib.tensor([True, False]),
    lambda lib: lib.tensor(3.0),
    lambda lib: lib.tensor(3),
    lambda lib: lib.tensor([]),
    lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64),
    lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    lambda lib: lib.tensor([0.001, 1000.0]),
    lambda lib: lib.tensor([1e-8, 1.0]),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) * 2,
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) + 1,
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).sum(),
    lambda lib: lib.exp(lib.tensor([0.0, 1.0], requires_grad=True)),
    lambda lib: lib.zeros(2, 3),
    lambda lib: lib.tensor([float("nan"), float("inf"), -1.0]),
    lambda lib: lib.arange(12).reshape(3, 4),
]


@pytest.mark.parametrize("i", range(len(REPR_CASES)))
def test_repr_like_torch(i):
    e, t = REPR_CASES[i](ember), REPR_CASES[i](torch)
    assert str(e).replace("ember.", "torch.") == str(t)
    assert repr(e).replace("ember.", "torch.") == repr(t)


def test_clone_and_contiguous():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.grad_fn.name() == "CloneBackward0" and c.tolist() == x.tolist()
    c.detach().numpy()[0] = 9.0
    assert x.tolist() == [1.0, 2.0]
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    assert x.contiguous() is x


@pytest.mark.parametrize("method", ["float", "double", "long", "int", "bool", "half", "short", "byte", "char"])
def test_cast_methods(method):
    e, t = pair([-1.5, 0.0, 2.7])
    ce, ct = getattr(e, method)(), getattr(t, method)()
    assert tname(ce.dtype) == tname(ct.dtype)
    assert ce.tolist() == ct.tolist()


def test_to_and_type_as():
    for lib in LIBS.values():
        x = lib.tensor([1.0, 2.0])
        assert x.to(lib.float32) is x
        assert x.to(lib.float64).dtype == lib.float64
        assert x.to("cpu") is x
        assert x.to(lib.int64).tolist() == [1, 2]
        assert x.type_as(lib.tensor([1], dtype=lib.int16)).dtype == lib.int16
        assert x.to(lib.float32, copy=True) is not x
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(ember.float64)
    assert y.grad_fn is not None and y.dtype == ember.float64
    (y * y).sum().backward()
    assert x.grad.dtype == ember.float32 and x.grad.tolist() == [2.0, 4.0]


def test_grad_setter_checks():
    for lib in LIBS.values():
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError):
            x.grad = lib.ones(3)
        with pytest.raises((RuntimeError, TypeError)):
            x.grad = lib.ones(2, dtype=lib.float64)
        x.grad = lib.ones(2)
        assert x.grad.tolist() == [1.0, 1.0]
        x.grad = None
        assert x.grad is None


def test_data_attribute():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.is_leaf
    x.data = ember.tensor([5.0, 6.0])
    assert x.tolist() == [5.0, 6.0] and x.requires_grad


def test_legacy_type_names():
    for data, dt in (([1.0], "float32"), ([1], "int64"), ([True], "bool"), ([1.0], "float64")):
        e, t = ember.tensor(data, dtype=getattr(ember, dt)), torch.tensor(data, dtype=getattr(torch, dt))
        assert e.type() == t.type()


@pytest.mark.parametrize("name", ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
                                  "uint8", "bool", "complex64", "complex128"])
def test_type_takes_a_legacy_type_name_as_torch(name):
    """x.type('torch.LongTensor') casts, as old training scripts write it (ember read the name as a device)."""
    legacy = torch.zeros(1, dtype=getattr(torch, name)).type()
    data = [[1.5, -2.0], [0.0, 3.25]]
    e, t = ember.tensor(data).type(legacy), torch.tensor(data).type(legacy)
    assert str(e.dtype) == str(t.dtype) and legacy == e.type()
    assert e.tolist() == t.tolist()
    same = ember.tensor(data)
    assert same.type("torch.FloatTensor") is same and e.type(legacy) is e  # no copy when the type already matches


def test_type_refuses_a_name_that_is_not_a_legacy_type_as_torch():
    for bad in ("torch.float64", "LongTensor", "foo"):
        with pytest.raises(ValueError) as t_err:
            torch.zeros(2).type(bad)
        with pytest.raises(ValueError, match=f"invalid type: '{bad}'") as e_err:
            ember.zeros(2).type(bad)
        assert str(e_err.value) == str(t_err.value)


def test_pickle_round_trip_as_torch():
    """pickle keeps values, dtype, requires_grad, the class and user attributes; not the graph or .grad."""
    import pickle
    import torch
    for lib in (ember, torch):
        x = lib.arange(6.0).reshape(2, 3).requires_grad_()
        x.grad = lib.ones(2, 3)
        x.note = "kept"
        y = x * 2
        back = [pickle.loads(pickle.dumps(t)) for t in (x, y, x[:, 1:], lib.nn.Parameter(lib.ones(2)),
                                                         lib.tensor([1, 2], dtype=lib.int32))]
        got = [(type(t).__name__, t.detach().numpy().tolist(), str(t.dtype).split(".")[1], t.requires_grad,
                t.is_leaf, t.grad is None, getattr(t, "note", None)) for t in back]
        if lib is ember:
            mine = got
    assert mine == got


def test_gradcheck_takes_a_list_of_inputs_as_torch():
    a = ember.rand(3, dtype=ember.float64, requires_grad=True)
    b = ember.rand(3, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda u, v: (u * v.exp()).sum(), [a, b])
