"""Tensor factories vs torch: values, dtypes, shapes, memory sharing, errors."""
import numpy as np
import pytest
import torch

import ember
from conftest import assert_close


def same(e, t):
    assert isinstance(e, ember.Tensor)
    assert_close(e, t, atol=1e-6, rtol=1e-6)
    assert e.requires_grad == t.requires_grad


@pytest.mark.parametrize("data", [
    1, 2.5, True, [1, 2, 3], [1.0, 2, 3], [[1, 2], [3, 4]], [True, False], [], [[]], [[1.5], [2.5]],
    np.float64(1.5), np.array([1, 2], dtype=np.int32), np.array([1.0, 2.0]), np.array(3, dtype=np.uint8),
    [np.float32(1.0), np.float32(2.0)],
])
def test_tensor_infers_dtype_like_torch(data):
    same(ember.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"])
def test_tensor_with_dtype(dtype):
    data = [[0, 1], [2, 3]]
    same(ember.tensor(data, dtype=getattr(ember, dtype)), torch.tensor(data, dtype=getattr(torch, dtype)))


def test_tensor_copies_and_requires_grad():
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = ember.tensor(a, requires_grad=True)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0] and t.requires_grad and t.is_leaf
    nested = ember.tensor([ember.tensor(1.0), ember.tensor(2.0)])
    assert nested.tolist() == [1.0, 2.0]


def test_tensor_errors():
    with pytest.raises(ValueError):
        ember.tensor([[1, 2], [3]])
    with pytest.raises(ValueError):
        torch.tensor([[1, 2], [3]])
    with pytest.raises(TypeError):
        ember.tensor("abc")


def test_as_tensor_and_from_numpy_share_memory():
    a = np.arange(4, dtype=np.float32)
    for t in (ember.from_numpy(a), ember.as_tensor(a)):
        a[0] = 42.0
        assert t.tolist()[0] == 42.0
        t.numpy()[1] = -1.0
        assert a[1] == -1.0
    b = np.arange(3)
    assert ember.from_numpy(b).dtype == ember.int64
    assert ember.as_tensor([1, 2]).dtype == ember.int64
    x = ember.ones(2)
    assert ember.as_tensor(x) is x
    assert ember.as_tensor(a, dtype=ember.float64).dtype == ember.float64
    with pytest.raises(TypeError):
        ember.from_numpy([1, 2])


@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("size", [(2, 3), ((2, 3),), ([4],), (0,), ((),)])
def test_filled(name, size):
    e, t = getattr(ember, name)(*size), getattr(torch, name)(*size)
    assert tuple(e.shape) == tuple(t.shape) and str(e.dtype)[6:] == str(t.dtype)[6:]
    if name != "empty":
        same(e, t)
    e = getattr(ember, name)(*size, dtype=ember.int32, requires_grad=False)
    assert e.dtype == ember.int32
    assert getattr(ember, name)(2, requires_grad=True).requires_grad


def test_negative_size():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError):
            lib.zeros(2, -1)


@pytest.mark.parametrize("args,kw", [(((2, 2), 3), {}), (((2,), 1.5), {}), (((3,), True), {}),
                                     (((2,), 7), {"dtype": "float64"}), (((1, 2), -2.5), {"dtype": "int32"})])
def test_full(args, kw):
    kw_e = {k: getattr(ember, v) for k, v in kw.items()}
    kw_t = {k: getattr(torch, v) for k, v in kw.items()}
    same(ember.full(*args, **kw_e), torch.full(*args, **kw_t))


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like"])
def test_like(name):
    for dt in ("float64", "int32", "bool"):
        src_e, src_t = ember.zeros(2, 3, dtype=getattr(ember, dt)), torch.zeros(2, 3, dtype=getattr(torch, dt))
        e, t = getattr(ember, name)(src_e), getattr(torch, name)(src_t)
        assert tuple(e.shape) == tuple(t.shape) and str(e.dtype)[6:] == str(t.dtype)[6:]
        if name != "empty_like":
            same(e, t)
    assert ember.zeros_like(ember.ones(2), dtype=ember.int64).dtype == ember.int64
    same(ember.full_like(ember.ones(2, 2), 3.5), torch.full_like(torch.ones(2, 2), 3.5))
    same(ember.full_like(ember.ones(2, dtype=ember.int64), 3.5), torch.full_like(torch.ones(2, dtype=torch.int64), 3.5))


@pytest.mark.parametrize("args,kw", [
    ((5,), {}), ((2, 7), {}), ((0, 10, 3), {}), ((1.0, 2.0, 0.25), {}), ((10, 0, -2), {}), ((0, 1, 0.1), {}),
    ((5,), {"dtype": "float64"}), ((0.0, 3), {}), ((-3, 3), {"dtype": "int32"}), ((0, 0), {}),
])
def test_arange(args, kw):
    same(ember.arange(*args, **{k: getattr(ember, v) for k, v in kw.items()}),
         torch.arange(*args, **{k: getattr(torch, v) for k, v in kw.items()}))


def test_arange_errors():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError):
            lib.arange(0, 5, 0)
        with pytest.raises(RuntimeError):
            lib.arange(5, 0, 1)


@pytest.mark.parametrize("args,kw", [((0, 1, 5), {}), ((-2.5, 2.5, 11), {}), ((3, 3, 1), {}), ((0, 1, 0), {}),
                                     ((1, 10, 4), {"dtype": "float64"})])
def test_linspace_logspace(args, kw):
    kw_e = {k: getattr(ember, v) for k, v in kw.items()}
    kw_t = {k: getattr(torch, v) for k, v in kw.items()}
    same(ember.linspace(*args, **kw_e), torch.linspace(*args, **kw_t))
    same(ember.logspace(*args, **kw_e), torch.logspace(*args, **kw_t))
    same(ember.logspace(*args, base=2.0, **kw_e), torch.logspace(*args, base=2.0, **kw_t))


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (0,), (1, 1)])
def test_eye(args):
    same(ember.eye(*args), torch.eye(*args))
    same(ember.eye(*args, dtype=ember.int64), torch.eye(*args, dtype=torch.int64))


def test_default_dtype_applies_to_factories():
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for fn in (lambda lib: lib.tensor([1.5]), lambda lib: lib.zeros(2), lambda lib: lib.arange(0.0, 1.0, 0.5),
                   lambda lib: lib.linspace(0, 1, 3), lambda lib: lib.full((2,), 1.5), lambda lib: lib.eye(2),
                   lambda lib: lib.tensor([1, 2])):
            same(fn(ember), fn(torch))
    finally:
        ember.set_default_dtype(ember.float32)
        torch.set_default_dtype(torch.float32)


def test_device_argument():
    assert ember.zeros(2, device="cpu").device == ember.device("cpu")
    with pytest.raises(RuntimeError, match="not available"):
        ember.zeros(2, device="cuda")


@pytest.mark.parametrize("make", [
    lambda lib: lib.empty(2 ** 62), lambda lib: lib.zeros(10 ** 12), lambda lib: lib.ones(10 ** 6, 10 ** 6),
    lambda lib: lib.full((10 ** 12,), 1.0), lambda lib: lib.zeros(3).new_zeros(10 ** 12),
    lambda lib: lib.zeros(3).new_full((10 ** 12,), 2.0), lambda lib: lib.empty(10 ** 12, dtype=lib.float64),
    lambda lib: lib.rand(10 ** 12), lambda lib: lib.randn(10 ** 6, 10 ** 6), lambda lib: lib.randint(0, 5, (10 ** 12,)),
    lambda lib: lib.randperm(10 ** 13),
])
def test_huge_allocations_raise_runtime_error_like_torch(make):
    for lib in (torch, ember):
        with pytest.raises(RuntimeError):
            make(lib)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
def test_linspace_is_bitwise_torchs(dtype):
    """torch's symmetric kernel (first half from start, second half from end, fused multiply-add)."""
    rng = np.random.default_rng(7)
    for trial in range(150):
        a, b = rng.normal(0, 10.0 ** rng.integers(0, 6), 2)
        n = int(rng.integers(0, 40 if trial % 3 else 3000))
        t = torch.linspace(a, b, n, dtype=getattr(torch, dtype)).numpy()
        e = ember.linspace(a, b, n, dtype=getattr(ember, dtype)).numpy()
        assert e.dtype == t.dtype and e.shape == t.shape
        assert (e.view(np.uint8) == t.view(np.uint8)).all(), (a, b, n)


def test_factories_take_out_layout_and_memory_format_as_torch():
    for lib in (torch, ember):
        o = lib.empty(5, dtype=lib.float64)
        assert lib.arange(5, out=o) is o and lib.linspace(0, 1, 5, out=o) is o
        got = {"arange": lib.arange(5, out=lib.empty(5, dtype=lib.float64)).numpy(),
               "full": lib.full((2, 2), 3, layout=lib.strided, pin_memory=False).numpy(),
               "eye": lib.eye(3, 2, layout=lib.strided, out=lib.empty(0)).numpy(),
               "empty": lib.empty(2, 3, memory_format=lib.contiguous_format).shape,
               "clone": lib.ones(2, 3, 4, 5).clone(memory_format=lib.channels_last).numpy(),
               "like": lib.zeros_like(lib.ones(2, 3, 4, 5), memory_format=lib.preserve_format).numpy()}
        if lib is torch:
            want = got
    for k, v in got.items():
        if k == "empty":
            assert tuple(v) == tuple(want[k])
            continue
        np.testing.assert_array_equal(v, want[k])
        assert v.dtype == want[k].dtype, k
    assert repr(ember.channels_last) == "ember.channels_last"


@pytest.mark.parametrize("args, kwargs", [((0, 5, 1.5), {"dtype": "int64"}), ((0.5, 5.7, 1), {"dtype": "int64"}),
                                          ((1, 2.5, 0.5), {}), ((0, 64, 0.5), {"dtype": "int64"}),
                                          ((0, float("inf"), 2), {}), ((float("-inf"), 1), {}), ((0, 3, 0), {})])
def test_arange_bounds_truncated_for_integer_dtypes_and_errors_as_torch(args, kwargs):
    res = []
    for lib in (torch, ember):
        kw = {k: getattr(lib, v) for k, v in kwargs.items()}
        try:
            res.append(lib.arange(*args, **kw))
        except (RuntimeError, ValueError) as e:
            res.append(type(e))
    if isinstance(res[0], type):
        assert res[1] is res[0]
    else:
        same(res[1], res[0])


def test_scalar_tensor_empty_strided_empty_permuted_as_torch():
    for s, dt in ((-5, "uint8"), (2.75, None), (True, None), (3, "int64")):
        same(*(lib.scalar_tensor(s, dtype=None if dt is None else getattr(lib, dt)) for lib in (ember, torch)))
    for size, stride in (((2, 3), (1, 2)), ((4, 5), (5, 1)), ((0, 3), (3, 1)), ((), ())):
        e, t = ember.empty_strided(size, stride), torch.empty_strided(size, stride)
        assert e.shape == t.shape and e.stride() == t.stride() and e.dtype == ember.float32
        n = ember.ones(1, dtype=ember.int32).new_empty_strided(size, stride)
        assert n.shape == t.shape and n.stride() == t.stride() and n.dtype == ember.int32
    for lib in (torch, ember):  # elements sharing memory: in-place writes refused
        with pytest.raises(RuntimeError):
            lib.empty_strided((3, 2), (0, 1)).add_(1.0)
    for size, order in (((2, 3, 4), (2, 0, 1)), ((2, 3), (1, 0)), ((5,), (0,))):
        e, t = ember.empty_permuted(size, order), torch.empty_permuted(size, order)
        assert e.shape == t.shape and e.stride() == t.stride()
    for size, order in (((2,), (0, 1)), ((2,), (3,)), ((2, 3), (0, 0))):
        for lib in (torch, ember):
            with pytest.raises(RuntimeError):
                lib.empty_permuted(size, order)


def test_arange_end_keyword_as_torch():
    """torch's arange(end=...) overload (what transe-style code writes), and its refusals."""
    for lib in (torch, ember):
        assert lib.arange(end=5).tolist() == [0, 1, 2, 3, 4]
        assert lib.arange(start=2, end=5).tolist() == [2, 3, 4]
        for bad in (lambda: lib.arange(), lambda: lib.arange(end=6, step=2)):
            with pytest.raises(TypeError):
                bad()
