"""Tensor methods outside the op table: factories on a tensor, in-place aliases, small attributes."""
import numpy as np
import pytest
import torch

import ember
from conftest import assert_close


@pytest.mark.parametrize("lib_dtype", ["int64", "float64", "float32"])
def test_new_factories_inherit_dtype(lib_dtype):
    for lib in (ember, torch):
        x = lib.ones(2, dtype=getattr(lib, lib_dtype))
        for t in (x.new_zeros(2, 3), x.new_ones((3,)), x.new_empty([1, 2]), x.new_full((2,), 7), x.new_tensor([1, 2])):
            assert str(t.dtype).split(".")[-1] == lib_dtype
        assert x.new_zeros(2, dtype=lib.int32).dtype == lib.int32
        if lib_dtype != "int64":
            assert x.new_tensor([1.0], requires_grad=True).requires_grad
    assert_close(ember.ones(1).new_full((2, 2), 3.5), torch.ones(1).new_full((2, 2), 3.5))
    assert_close(ember.ones(1, dtype=ember.int64).new_tensor([1.7, 2.2]),
                 torch.ones(1, dtype=torch.int64).new_tensor([1.7, 2.2]))


ALIASES = ["absolute_", "arccos_", "arcsin_", "arctan_", "arccosh_", "arcsinh_", "arctanh_", "negative_", "fix_",
           "sgn_", "deg2rad_", "rad2deg_", "sinc_", "lgamma_", "digamma_", "i0_"]


@pytest.mark.parametrize("name", ALIASES)
def test_unary_inplace_aliases(name):
    data = np.array([0.3, 0.7, 0.45], np.float32) + (1.0 if name == "arccosh_" else 0.0)
    e, t = ember.tensor(data), torch.tensor(data)
    assert getattr(e, name)() is e
    getattr(t, name)()
    assert_close(e, t)


@pytest.mark.parametrize("name,arg", [("divide_", 2.0), ("multiply_", 3.0), ("subtract_", 1.0), ("true_divide_", 4.0),
                                      ("greater_", 0.5), ("greater_equal_", 0.5), ("less_", 0.5),
                                      ("less_equal_", 0.5), ("not_equal_", 0.5), ("arctan2_", 0.5),
                                      ("xlogy_", 2.0), ("copysign_", -1.0), ("ldexp_", 2), ("heaviside_", 0.5),
                                      ("nextafter_", 0.0)])
def test_binary_inplace_aliases(name, arg):
    data = np.array([0.3, 0.5, -0.45, 0.0], np.float32)
    e, t = ember.tensor(data), torch.tensor(data)
    if name in ("ldexp_", "heaviside_", "nextafter_", "arctan2_", "copysign_"):
        earg, targ = ember.full((4,), arg, dtype=ember.float32), torch.full((4,), arg, dtype=torch.float32)
    else:
        earg, targ = arg, arg
    getattr(e, name)(earg)
    getattr(t, name)(targ)
    assert_close(e, t)


def test_more_inplace():
    for lib in (ember, torch):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
        x.cumsum_(1).cumprod_(0)
        y = lib.tensor([1.0, 2.0, 3.0]).addcmul_(lib.tensor([1.0, 2.0, 3.0]), lib.tensor(2.0), value=0.5)
        z = lib.tensor([12, 18]).gcd_(lib.tensor([8, 12])).lcm_(lib.tensor([3, 5]))
        p = lib.tensor([2.0, 3.0], dtype=lib.float64).float_power_(2).polygamma_(1).mvlgamma_(1)
        m = lib.zeros(2, 2).masked_scatter_(lib.tensor([[True, False], [False, True]]), lib.tensor([5.0, 6.0]))
        i = lib.ones(3, 2).index_reduce_(0, lib.tensor([0, 2]), lib.tensor([[2.0, 3.0], [4.0, 5.0]]), "prod")
        if lib is ember:
            got = [x, y, z, p, m, i]
        else:
            for e, t in zip(got, [x, y, z, p, m, i]):
                assert_close(e, t)


def test_grad_through_inplace_alias():
    xs = []
    for lib in (ember, torch):
        a = lib.tensor([0.2, 0.4], requires_grad=True)
        b = a * 1
        b.arcsin_().multiply_(a).sinc_()
        b.sum().backward()
        xs.append(a.grad)
    assert_close(*xs)


def test_float_power_inplace_needs_double():
    with pytest.raises(RuntimeError, match="float_power_ has dtype Float"):
        ember.ones(2).float_power_(2)


def test_gcd_rejects_floats():
    with pytest.raises(RuntimeError, match="gcd_cpu"):
        ember.gcd(ember.ones(2), ember.ones(2))


def test_small_attributes():
    for lib in (ember, torch):
        x = lib.arange(12.0).reshape(3, 4)
        v = x[1:, 2:]
        assert x.is_cpu and not x.is_sparse and not x.is_quantized and not x.is_meta
        assert str(x.layout).endswith("strided") and x.layout == lib.strided
        assert x.is_signed() and not lib.tensor([1], dtype=lib.uint8).is_signed()
        assert not lib.tensor([0.0]).is_nonzero() and lib.tensor([[2]]).is_nonzero()
        assert x.is_same_size(x * 2) and not x.is_same_size(v)
        assert v.storage_offset() == 6 and x.storage_offset() == 0
        assert x.output_nr == 0 and x.real is x
        assert not x.is_conj() and not x.is_neg() and not x.is_pinned() and not x.is_inference()
        assert lib.equal(x.conj(), x) and lib.equal(x.resolve_conj(), x) and lib.equal(x.resolve_neg(), x)
        assert x.share_memory_() is x
        with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
            x.is_nonzero()
        with pytest.raises(RuntimeError, match="no values is ambiguous"):
            lib.ones(0).is_nonzero()


def test_apply_map_resize():
    outs = []
    for lib in (ember, torch):
        y = lib.arange(6.0).reshape(2, 3)
        y.apply_(lambda a: a * 2).map_(lib.tensor([1.0, 2.0, 3.0]), lambda a, b: a + b)
        z = lib.arange(6.0)
        z.resize_(2, 2)
        w = lib.arange(3.0)
        w.resize_as_(lib.ones(1, 2))
        outs.append((y, z, w))
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            lib.ones(2, requires_grad=True).resize_(3)
    for e, t in zip(*outs):
        assert_close(e, t)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda lib: lib.select(lib.ones(2, 3), 1, 3), IndexError, "out of range"),
    (lambda lib: lib.hsplit(lib.ones(2, 5), 2), RuntimeError, "not divisible"),
    (lambda lib: lib.vsplit(lib.ones(4), 2), RuntimeError, "at least 2 dimension"),
    (lambda lib: lib.ones(2, 3).sum_to_size(4), RuntimeError, "is not expandable"),
    (lambda lib: lib.ones(3).fill_diagonal_(1.0), RuntimeError, "dimensions must larger than 1"),
    (lambda lib: lib.ones(2, 3, 4).fill_diagonal_(1.0), RuntimeError, "equal length"),
    (lambda lib: lib.masked_scatter(lib.ones(3), lib.tensor([True, True, True]), lib.ones(2)), RuntimeError,
     "Number of elements of source < number of ones in mask"),
    (lambda lib: lib.index_reduce(lib.ones(3), 0, lib.tensor([0]), lib.ones(1), "sum"), RuntimeError,
     "Expected reduce to be one of prod, mean, amax or amin"),
    (lambda lib: lib.trace(lib.ones(3)), RuntimeError, "expected a matrix"),
    (lambda lib: lib.inner(lib.ones(2, 3), lib.ones(4)), RuntimeError, "last dimension must match"),
    (lambda lib: lib.vdot(lib.ones(2, 2), lib.ones(4)), RuntimeError, "1D tensors expected"),
    (lambda lib: lib.polygamma(-1, lib.ones(2)), RuntimeError, "negative n"),
    (lambda lib: lib.heaviside(lib.ones(2), lib.ones(2, dtype=lib.float64)), RuntimeError, "different dtypes"),
    (lambda lib: +lib.tensor([True]) if lib is torch else lib.positive(lib.tensor([True])), RuntimeError,
     "on a bool tensor is not supported"),
])
def test_errors_match_torch(call, exc, msg):
    for lib in (torch, ember):
        with pytest.raises(exc, match=msg):
            call(lib)
