"""Indexing behaviour the spec table can't express: views, in-place forms, autograd state, errors (vs torch)."""
import numpy as np
import pytest
import torch

import ember
from conftest import assert_close


def both(fn, *arrays):
    """Run ``fn(lib, *tensors)`` on ember and on torch with the same (copied) inputs."""
    e = fn(ember, *[ember.tensor(a.copy()) for a in arrays])
    t = fn(torch, *[torch.from_numpy(a.copy()) for a in arrays])
    return e, t


def assert_same_error(fn, *arrays):
    """``fn`` raises the same exception type with the same message on ember and torch."""
    with pytest.raises(Exception) as te:
        fn(torch, *[torch.from_numpy(a.copy()) for a in arrays])
    with pytest.raises(type(te.value)) as ee:
        fn(ember, *[ember.tensor(a.copy()) for a in arrays])
    assert str(ee.value) == str(te.value)


X = np.arange(12.0, dtype=np.float32).reshape(3, 4)
I = np.array


# ---------------------------------------------------------------- views
def test_basic_index_is_a_view():
    x = ember.tensor(X.copy())
    col, row, elem = x[:, 0], x[1], x[1, 2]
    assert np.shares_memory(col._data, x._data) and np.shares_memory(row._data, x._data)
    assert elem.shape == () and np.shares_memory(elem._data, x._data)
    col.mul_(10)
    assert x[2, 0].item() == 80.0


def test_advanced_index_is_a_copy():
    x = ember.tensor(X.copy())
    y = x[[0, 1]]
    y.mul_(0)
    assert x[1, 1].item() == 5.0


# ---------------------------------------------------------------- index forms torch reads specially
@pytest.mark.parametrize("key", [
    lambda lib: [[0, 1], [1, 0]],                                # legacy: a list of lists is a tuple
    lambda lib: [lib.tensor(0), lib.tensor(1)],                 # ... and so is a list of tensors
    lambda lib: lib.tensor([1, 0, 1], dtype=lib.uint8),          # byte mask
    lambda lib: lib.tensor([2, 0], dtype=lib.int32),
    lambda lib: [],
    lambda lib: (lib.tensor(1), slice(None)),
    lambda lib: (None, lib.tensor([[0], [2]]), None, lib.tensor([1, 3])),
    lambda lib: np.array([2, 2]),
])
def test_getitem_forms(key):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e, t = both(lambda lib, x: x[key(lib)], X)
    assert_close(e, t)


# ---------------------------------------------------------------- errors, worded as torch's
@pytest.mark.parametrize("fn", [
    lambda lib, x: x[5],
    lambda lib, x: x[:, -5],
    lambda lib, x: x[::-1],
    lambda lib, x: x[1.5],
    lambda lib, x: x[0, 0, 0],
    lambda lib, x: x[lib.tensor([3])],
    lambda lib, x: x[:, lib.tensor([0, 4])],
    lambda lib, x: x[lib.tensor([1.0])],
    lambda lib, x: x[lib.tensor([True, False])],
    lambda lib, x: x[:, lib.tensor([True, False])],
    lambda lib, x: x.__setitem__(lib.tensor([0, 1]), lib.ones(3)),
    lambda lib, x: x.__setitem__(0, [1.0]),
    lambda lib, x: x.__setitem__((slice(0, 2), slice(None)), lib.ones(3, 1)),
    lambda lib, x: x[0, 1][0],
    lambda lib, x: x.gather(0, lib.tensor([[1.0]])),
    lambda lib, x: x.gather(0, lib.tensor([1])),
    lambda lib, x: x.gather(0, lib.tensor([[3]])),
    lambda lib, x: x.gather(0, lib.tensor([[-1]])),
    lambda lib, x: x.gather(1, lib.zeros(4, 4, dtype=lib.long)),
    lambda lib, x: x.scatter(0, lib.zeros(1, 1, dtype=lib.long), lib.ones(1, 1, dtype=lib.float64)),
    lambda lib, x: x.scatter(0, lib.zeros(2, 2, dtype=lib.long), lib.ones(1, 1)),
    lambda lib, x: x.scatter(0, lib.zeros(1, 5, dtype=lib.long), 1.0),
    lambda lib, x: x.scatter_add(0, lib.zeros(2, dtype=lib.long), lib.ones(2)),
    lambda lib, x: x.scatter(0, lib.zeros(2, 2, dtype=lib.long) - 1, lib.ones(2, 2)),
    lambda lib, x: x[lib.tensor([0]), lib.tensor([4])],
    lambda lib, x: x[None, 1:, lib.tensor([[0], [-5]])],
    lambda lib, x: x.scatter_reduce(0, lib.zeros(1, 1, dtype=lib.long), lib.ones(1, 1), "mul"),
    lambda lib, x: x.scatter_add(0, lib.full((1, 1), 7), lib.ones(1, 1)),
    lambda lib, x: x.index_select(0, lib.tensor([[0]])),
    lambda lib, x: x.index_select(0, lib.tensor([0.0])),
    lambda lib, x: x.index_select(0, lib.tensor([3])),
    lambda lib, x: x.index_add(0, lib.tensor([0, 1]), lib.ones(3, 4)),
    lambda lib, x: x.index_add(0, lib.tensor([0, 5]), lib.ones(2, 4)),
    lambda lib, x: x.index_add(0, lib.tensor([0, 1]), lib.ones(2, 4, dtype=lib.float64)),
    lambda lib, x: x.index_add(0, lib.tensor([0, 1]), lib.ones(2, 3)),
    lambda lib, x: x.index_copy(0, lib.tensor([0, 1], dtype=lib.int32), lib.ones(2, 4)),
    lambda lib, x: x.index_copy(0, lib.tensor([0, 7]), lib.ones(2, 4)),
    lambda lib, x: x.index_copy(0, lib.tensor([0, 1]), lib.ones(3, 4)),
    lambda lib, x: x.index_fill(0, lib.tensor([0, 7]), 1.0),
    lambda lib, x: x.index_fill(0, lib.tensor([0]), lib.tensor([1.0, 2.0])),
    lambda lib, x: x.masked_fill(lib.tensor([1, 0, 0, 0]), 1.0),
    lambda lib, x: x.masked_fill(lib.tensor([True, False, True, True]), lib.tensor([1.0, 2.0])),
    lambda lib, x: x.masked_select(lib.tensor([1, 0, 0, 0])),
    lambda lib, x: x.take(lib.tensor([12])),
    lambda lib, x: x.take(lib.tensor([-13])),
    lambda lib, x: x.take(lib.tensor([1], dtype=lib.int32)),
    lambda lib, x: x.put(lib.tensor([1]), lib.tensor([1.0, 2.0])),
    lambda lib, x: lib.take_along_dim(x, lib.tensor([1]), 0),
    lambda lib, x: lib.take_along_dim(x, lib.tensor([[1]], dtype=lib.int32), 0),
])
def test_errors_match_torch(fn):
    assert_same_error(fn, X)


def test_setitem_into_leaf_requiring_grad():
    x = ember.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 1.0
    with ember.no_grad():
        x[0] = 2.0
    assert x.tolist() == [2.0, 0.0, 0.0] and x.grad_fn is None and x.requires_grad


def test_setitem_records_and_bumps_version():
    x = ember.zeros(2, 3, requires_grad=True)
    v = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    before = y._version
    y[1] = v * 3
    assert y._version == before + 1 and y.grad_fn is not None
    y.sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]
    assert v.grad.tolist() == [3.0, 3.0, 3.0]


def test_setitem_value_requiring_grad_into_plain_tensor():
    y = ember.zeros(2, 2)
    v = ember.tensor(4.0, requires_grad=True)
    y[:, 0] = v
    (y * ember.tensor([[1.0, 5.0], [2.0, 7.0]])).sum().backward()
    assert y.requires_grad and v.grad.item() == 3.0


def test_setitem_casts_value_like_torch():
    e, t = both(lambda lib, x: _set(x.long(), 0, lib.tensor([1.7, -2.5, 3.2, 4.9])), X)
    assert_close(e, t)


def _set(x, key, value):
    x[key] = value
    return x


# ---------------------------------------------------------------- in-place forms
INPLACE = {
    "scatter_": lambda lib, x: x.scatter_(0, lib.tensor([[2, 0, 1, 0]]), lib.ones(1, 4) * 7),
    "scatter_value": lambda lib, x: x.scatter_(1, lib.tensor([[3], [0], [1]]), -1.0),
    "scatter_add_": lambda lib, x: x.scatter_add_(0, lib.tensor([[1, 1, 1, 1]]), lib.ones(1, 4)),
    "scatter_reduce_": lambda lib, x: x.scatter_reduce_(0, lib.tensor([[1, 1]]), lib.ones(1, 2) * 9, "amax"),
    "index_add_": lambda lib, x: x.index_add_(1, lib.tensor([0, 0]), lib.ones(3, 2), alpha=2),
    "index_copy_": lambda lib, x: x.index_copy_(0, lib.tensor([2]), lib.zeros(1, 4)),
    "index_fill_": lambda lib, x: x.index_fill_(1, lib.tensor([1, 3]), -3.0),
    "masked_fill_": lambda lib, x: x.masked_fill_(lib.tensor([True, False, True, False]), 0.5),
    "index_put_": lambda lib, x: x.index_put_((lib.tensor([0, 0]), lib.tensor([1, 1])), lib.tensor(1.0),
                                              accumulate=True),
    "put_": lambda lib, x: x.put_(lib.tensor([0, 11]), lib.tensor([5.0, 6.0])),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_forms(name):
    def run(lib, x):
        leaf = x.clone().requires_grad_()
        y = leaf * 1
        out = INPLACE[name](lib, y)
        assert out is y
        (y * lib.arange(12.0).reshape(3, 4)).sum().backward()
        return y, leaf.grad
    (ey, eg), (ty, tg) = both(run, X)
    assert_close(ey, ty)
    assert_close(eg, tg)


@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_reduce_argument(reduce):
    # torch has no derivative for scatter(reduce=...): forward only
    e, t = both(lambda lib, x: x.scatter_(0, lib.tensor([[2, 0], [2, 0]]), 3.0, reduce=reduce), X)
    assert_close(e, t)
    e, t = both(lambda lib, x: x.scatter(1, lib.tensor([[2, 2]]), lib.ones(1, 2) * 2, reduce=reduce), X)
    assert_close(e, t)


def test_scatter_reduce_ties_share_gradient():
    x = np.array([1.0, 5.0, 2.0], np.float64)
    src = np.array([5.0, 5.0, 0.0, 2.0], np.float64)
    idx = np.array([1, 1, 0, 2])

    def run(lib, x, s):
        x.requires_grad_(), s.requires_grad_()
        out = x.scatter_reduce(0, lib.from_numpy(idx) if lib is torch else lib.tensor(idx), s, "amax")
        (out * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum().backward()
        return out, x.grad, s.grad
    e, t = both(run, x, src)
    for a, b in zip(e, t):
        assert_close(a, b)


def test_scatter_reduce_mean_integers():
    x = np.array([[10, 20], [30, 40]], np.int64)
    e, t = both(lambda lib, x: x.scatter_reduce(0, lib.tensor([[0, 0], [0, 1]]), lib.tensor([[3, 4], [7, 1]]),
                                                "mean", include_self=False), x)
    assert_close(e, t)


def test_getitem_double_backward_adds_up():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x[[0, 0, 2]] ** 2).sum()
    (g,) = ember.autograd.grad(y, x, create_graph=True)
    assert g.tolist() == [4.0, 0.0, 6.0]
    (gg,) = ember.autograd.grad(g.sum(), x)
    assert gg.tolist() == [4.0, 0.0, 2.0]   # d/dx of (2 * 2x0, 2x2): repeats count twice


def test_nonzero_empty_and_bool():
    for a in (np.zeros((2, 3), np.float32), np.array([[True, False], [False, True]])):
        e, t = both(lambda lib, x: lib.nonzero(x), a)
        assert_close(e, t)


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_scatter_reduce_old_names(reduce):
    e, t = both(lambda lib, x: x.scatter_reduce(0, lib.tensor([[1, 0]]), lib.tensor([[100.0, -100.0]]), reduce), X)
    assert_close(e, t)


def test_src_bigger_than_index_gradients():
    # torch's own backward rejects a src bigger than index, so finite differences are the oracle
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    src = ember.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    index = ember.tensor(np.array([[0, 1], [2, 3], [3, 0]]))
    for f in (lambda a, s: a.scatter(0, index, s), lambda a, s: a.scatter_add(0, index, s)):
        assert ember.autograd.gradcheck(f, (x, src), eps=1e-6, atol=1e-5, rtol=1e-3)
        assert ember.autograd.gradgradcheck(f, (x, src), eps=1e-6, atol=1e-5, rtol=1e-3)
    e, t = both(lambda lib, x, s: x.scatter(0, lib.tensor([[0, 1], [2, 0]]), s), X, X * 10)
    assert_close(e, t)


def test_index_fill_negative_index():
    e, t = both(lambda lib, x: x.index_fill(1, lib.tensor([-1, 0]), 9.0), X)
    assert_close(e, t)


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_gradient_with_zeros(include_self):
    x = np.array([2.0, 0.0, 3.0, 0.0], np.float64)
    src = np.array([0.0, 4.0, 5.0, 0.0, 0.0, 1.5], np.float64)
    idx = np.array([0, 1, 1, 2, 2, 0])

    def run(lib, x, s):
        x.requires_grad_(), s.requires_grad_()
        i = torch.from_numpy(idx) if lib is torch else ember.tensor(idx)
        out = x.scatter_reduce(0, i, s, "prod", include_self=include_self)
        (out * lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64)).sum().backward()
        return out, x.grad, s.grad
    e, t = both(run, x, src)
    for a, b in zip(e, t):
        assert_close(a, b)


def test_setitem_int_and_array_apart():
    a = np.arange(24.0).reshape(2, 3, 4)

    def run(lib, x):
        leaf = x.requires_grad_()
        v = lib.tensor([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]], dtype=lib.float64, requires_grad=True)
        y = leaf * 1
        y[1, :, lib.tensor([3, 0])] = v.T
        (y * lib.arange(24.0, dtype=lib.float64).reshape(2, 3, 4)).sum().backward()
        with lib.no_grad():
            z = x.detach().clone()
            z[0, ..., lib.tensor([1, 2])] = -1.0
        return y, leaf.grad, v.grad, z
    e, t = both(run, a)
    for a_, b_ in zip(e, t):
        assert_close(a_, b_)


@pytest.mark.parametrize("shape,idx", [((3,), [-1]), ((3,), [3]), ((3,), [0, -4]), ((), [1]), ((), [-1]),
                                       ((3, 2), [-1]), ((3, 2), [3])])
def test_index_add_out_of_range_raises_torchs_class(shape, idx):
    src_shape = (len(idx),) + shape[1:] if shape else ()
    errors = []
    for lib in (torch, ember):
        with pytest.raises((IndexError, RuntimeError)) as info:
            lib.zeros(shape).index_add_(0, lib.tensor(idx), lib.ones(src_shape))
        errors.append(info.type)
    assert errors[0] is errors[1]


@pytest.mark.parametrize("index", [(..., ...), (..., 0, ...), (0, ..., ...), (..., None, ...), (..., ..., ...),
                                   (..., ..., 1), (0, 1, 2, ..., ...)])
def test_several_ellipses_as_torch(index):
    x = np.arange(24.0).reshape(2, 3, 4)
    try:
        expected = torch.tensor(x)[index]
    except IndexError:
        with pytest.raises(IndexError):
            ember.tensor(x)[index]
        return
    assert_close(ember.tensor(x)[index], expected)
    t, e = torch.tensor(x), ember.tensor(x)
    t[index], e[index] = -1.0, -1.0
    assert_close(e, t)


def test_ellipses_with_no_dims_left_to_skip():
    assert_close(ember.arange(3.0)[..., ..., 1], torch.arange(3.0)[..., ..., 1])


# ---------------------------------------------------------------- index_* on 0-d tensors, out= (issue 7)
@pytest.mark.parametrize("call", [
    lambda lib, x, s: lib.index_add(x, 0, lib.tensor([0]), s, alpha=2),
    lambda lib, x, s: lib.index_copy(x, 0, lib.tensor([0]), s),
    lambda lib, x, s: lib.index_fill(x, -1, lib.tensor([0]), s),
    lambda lib, x, s: lib.index_reduce(x, 0, lib.tensor([0]), s, "prod"),
    lambda lib, x, s: lib.index_reduce(x, 0, lib.tensor([0]), s, "mean", include_self=False),
    lambda lib, x, s: x.clone().index_add_(0, lib.tensor([0]), s)])
def test_index_ops_on_a_0d_input_match_torch_with_gradients(call):
    res = []
    for lib in (ember, torch):
        x, s = lib.tensor(1.5, requires_grad=True), lib.tensor(-2.0, requires_grad=True)
        y = call(lib, x, s)
        gx, gs = lib.autograd.grad(y * 3, (x, s), allow_unused=True)
        res.append((y, gx, gs))
    for e, t in zip(*res):
        assert_close(e, t)


def test_index_add_of_unsigned_ints_wraps_alpha_as_torch():
    x, s = np.array([3, 200], np.uint8), np.array([5, 7], np.uint8)
    e, t = both(lambda lib, a, b: lib.index_add(a, 0, lib.tensor([1, 0]), b, alpha=-1), x, s)
    assert_close(e, t)


def test_gather_takes_an_empty_index_of_any_dtype_as_torch():
    e, t = both(lambda lib, a: lib.gather(a, 0, lib.zeros(0, dtype=lib.uint8)), np.arange(5.0))
    assert_close(e, t)


@pytest.mark.parametrize("call", [
    lambda lib, x, o: lib.gather(x, 1, lib.tensor([[0, 2], [1, 0]]), out=o),
    lambda lib, x, o: lib.index_select(x, 1, lib.tensor([2, 0]), out=o),
    lambda lib, x, o: lib.take(x, lib.tensor([5, 0, 1, 1]), out=o),
    lambda lib, x, o: lib.masked_select(x, x > 2, out=o)])
def test_out_is_resized_written_and_checked_as_torch(call):
    x = np.arange(6.0).reshape(2, 3)

    def run(lib, a):
        o = lib.zeros(0, dtype=lib.float64)
        return call(lib, a, o), o
    e, t = both(run, x)
    assert e[0] is e[1] and t[0] is t[1]
    assert_close(e[1], t[1])
    for bad in (lambda lib, a: call(lib, a, lib.zeros(1, dtype=lib.int32)),  # wrong dtype
                lambda lib, a: call(lib, a, a.view(-1)[:4])):                  # overlaps the input
        with pytest.raises(RuntimeError):
            bad(torch, torch.tensor(x))
        with pytest.raises(RuntimeError):
            bad(ember, ember.tensor(x))


@pytest.mark.parametrize("size,fill", [(0, -1), (2, -1), (5, 7)])
def test_nonzero_static_cuts_or_pads_as_torch(size, fill):
    for x in (np.array([[0, 1, 2], [3, 0, 0]]), np.array(0.0), np.array(2.0)):
        e, t = both(lambda lib, a: lib.nonzero_static(a, size=size, fill_value=fill), x)
        assert_close(e, t)


def test_unsafe_masked_index_and_put_accumulate_match_torch_with_gradients():
    rng = np.random.default_rng(4)
    x0, v0 = rng.normal(size=(4, 5)), rng.normal(size=(4, 6))
    m0, i0, j0 = rng.uniform(size=(4, 6)) > 0.4, np.array([[4], [1], [7], [3]]), np.array([[4, 2, 5, 9, 3, 0]])
    res = []
    for lib in (ember, torch):
        x, v = lib.tensor(x0, requires_grad=True), lib.tensor(v0, requires_grad=True)
        idx = [lib.tensor(i0), lib.tensor(j0)]
        m = lib.tensor(m0) & (idx[0] < 4) & (idx[1] < 5)  # out-of-range positions are masked out
        a = lib._unsafe_masked_index(x, m, idx, -2.5)
        b = lib._unsafe_masked_index_put_accumulate(x, m, idx, v)
        res.append((a, b, *lib.autograd.grad((a * a).sum() + (b * b).sum(), (x, v))))
    for e, t in zip(*res):
        assert_close(e, t, atol=1e-12)


def test_filling_a_real_tensor_with_a_complex_value_raises_runtime_error_as_torch():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError):
            lib.ones(3).masked_fill(lib.ones(3, dtype=lib.bool), 1 + 2j)


def test_out_refuses_inputs_that_require_grad_unless_grad_is_off_as_torch():
    for lib in (ember, torch):
        x = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="out="):
            lib.take(x, lib.tensor([0]), out=lib.zeros(0))
        with lib.no_grad():
            assert lib.take(x, lib.tensor([2]), out=lib.zeros(0)).tolist() == [1.0]
