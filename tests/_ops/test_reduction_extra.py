"""Reductions beyond the spec table: named tuples, result dtypes, errors, NaN, hand-derived gradients."""
import numpy as np
import pytest
import torch

import ember
from conftest import assert_close

X = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], dtype=np.float32)


def both(x):
    return ember.tensor(x.copy()), torch.from_numpy(x.copy())


@pytest.mark.parametrize("op,args", [("max", (1,)), ("min", (0, True)), ("median", (1,)), ("sort", (1, True)),
                                     ("topk", (2,))])
def test_named_tuple(op, args):
    e, t = both(X)
    er, tr = getattr(ember, op)(e, *args), getattr(torch, op)(t, *args)
    assert type(er).__name__ == type(tr).__name__ == op
    assert isinstance(er, tuple) and len(er) == 2
    values, indices = er
    assert values is er.values and indices is er.indices and er[0] is values
    assert_close(er.values, tr.values, what=f"{op} values")
    assert_close(er.indices, tr.indices, what=f"{op} indices")
    assert repr(er).startswith(f"ember.return_types.{op}(\nvalues=tensor(")


@pytest.mark.parametrize("dt", [np.int32, np.int64, np.uint8, np.bool_])
@pytest.mark.parametrize("fn", [
    lambda L, x: L.sum(x), lambda L, x: x.sum(0, keepdim=True), lambda L, x: L.prod(x), lambda L, x: L.prod(x, 1),
    lambda L, x: L.cumsum(x, 0), lambda L, x: L.cumprod(x, 1), lambda L, x: L.amax(x, 0), lambda L, x: L.max(x),
    lambda L, x: L.max(x, 1).values, lambda L, x: L.argmax(x), lambda L, x: L.count_nonzero(x, 0),
    lambda L, x: L.all(x), lambda L, x: L.any(x, 1), lambda L, x: L.logsumexp(x, 1), lambda L, x: L.sort(x, 0).values,
    lambda L, x: L.median(x), lambda L, x: L.median(x, 0).values, lambda L, x: L.topk(x, 2).indices,
    lambda L, x: L.argmin(x, 1), lambda L, x: L.sum(x, dtype=L.float64), lambda L, x: L.mean(x, dtype=L.float64),
])
def test_integer_result_dtypes(dt, fn):
    e, t = both(np.array([[3, 0, 1], [2, 2, 1]]).astype(dt))
    try:
        expected = fn(torch, t)
    except Exception as err:  # e.g. argmax and median refuse bool: ember must refuse it the same way
        with pytest.raises(type(err)):
            fn(ember, e)
        return
    assert_close(fn(ember, e), expected, what="integer reduction")


def _same_error(fn, x):
    e, t = both(x)
    with pytest.raises(Exception) as te:
        fn(torch, t)
    with pytest.raises(type(te.value)) as ee:
        fn(ember, e)
    return str(ee.value)


@pytest.mark.parametrize("fn,x", [
    (lambda L, x: L.max(x), np.zeros(0, np.float32)),
    (lambda L, x: x.min(), np.zeros((2, 0), np.float32)),
    (lambda L, x: L.amax(x), np.zeros((0, 3), np.float32)),
    (lambda L, x: L.amin(x, 1), np.zeros((2, 0), np.float32)),
    (lambda L, x: L.max(x, 1), np.zeros((2, 0), np.float32)),
    (lambda L, x: L.argmax(x), np.zeros(0, np.float32)),
    (lambda L, x: L.argmin(x, 0), np.zeros((0, 2), np.float32)),
    (lambda L, x: L.median(x, 1), np.zeros((2, 0), np.float32)),
    (lambda L, x: L.topk(x, 4), X),
    (lambda L, x: L.topk(x, -1), X),
    (lambda L, x: L.sum(x, 2), X),
    (lambda L, x: L.max(x, -3), X),
    (lambda L, x: L.sum(x, (0, 0)), X),
    (lambda L, x: L.mean(x), np.arange(3)),
    (lambda L, x: L.var(x), np.arange(3)),
    (lambda L, x: L.std(x, 0), np.arange(3)),
    (lambda L, x: L.prod(x, (0, 1)), X),
    (lambda L, x: L.logsumexp(x), X),
    (lambda L, x: L.cumsum(x, 2), X),
])
def test_errors_match_torch(fn, x):
    _same_error(fn, x)


def test_empty_max_message():
    msg = _same_error(lambda L, x: L.max(x), np.zeros(0, np.float32))
    assert "max(): Expected reduction dim to be specified for input.numel() == 0" in msg
    msg = _same_error(lambda L, x: L.max(x, 1), np.zeros((2, 0), np.float32))
    assert "max(): Expected reduction dim 1 to have non-zero size" in msg


def test_max_of_two_tensors_is_maximum():
    a, b = np.array([1.0, 5.0, -2.0], np.float32), np.array([3.0, 2.0, -2.0], np.float32)
    assert_close(ember.max(ember.tensor(a), ember.tensor(b)), torch.max(torch.from_numpy(a), torch.from_numpy(b)))
    assert_close(ember.tensor(a).min(ember.tensor(b)), torch.from_numpy(a).min(torch.from_numpy(b)))


@pytest.mark.parametrize("fn", [
    lambda L, x: L.max(x), lambda L, x: L.max(x, 1).values, lambda L, x: L.max(x, 1).indices,
    lambda L, x: L.argmax(x, 1), lambda L, x: L.argmin(x), lambda L, x: L.amin(x, 0), lambda L, x: L.median(x),
    lambda L, x: L.median(x, 1).values, lambda L, x: L.median(x, 1).indices,
    lambda L, x: L.sort(x, 1).values, lambda L, x: L.sort(x, 1, descending=True).indices,
    lambda L, x: L.topk(x, 2).values, lambda L, x: L.logsumexp(x, 1), lambda L, x: L.cumsum(x, 1),
])
def test_nan_propagates_like_torch(fn):
    x = np.array([[1.0, np.nan, 3.0, 0.5], [2.0, -1.0, 0.0, 4.0], [np.nan, 1.0, np.nan, 0.0]], np.float32)
    e, t = both(x)
    assert_close(fn(ember, e), fn(torch, t), what="with NaN")


def test_full_max_splits_gradient_among_ties():
    x = ember.tensor([1.0, 3.0, 3.0, 2.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 1 / 3, 1 / 3, 0, 1 / 3], rtol=1e-6)


def test_max_with_dim_sends_gradient_to_the_first_of_ties():
    x = ember.tensor([[3.0, 1.0, 3.0]], requires_grad=True)
    x.max(1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 0, 0]])


def test_prod_gradient_with_zeros_by_hand():
    # d/dx_i of x0*x1*x2*x3 is the product of the others: non-zero only where the one zero sits
    x = ember.tensor([2.0, 0.0, 3.0, 4.0], dtype=ember.float64, requires_grad=True)
    x.prod().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 24, 0, 0])
    y = ember.tensor([0.0, 5.0, 0.0], dtype=ember.float64, requires_grad=True)
    y.prod().backward()  # two zeros: every partial product still holds a zero
    np.testing.assert_array_equal(y.grad.numpy(), [0, 0, 0])


def test_cumprod_gradient_with_zero_by_hand():
    # out = (a, ab, abc) with b = 0: d(sum out)/db = a + ac
    x = ember.tensor([2.0, 0.0, 5.0], dtype=ember.float64, requires_grad=True)
    x.cumprod(0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 2 + 10, 0])


def test_logsumexp_is_stable():
    x = ember.tensor([1000.0, 1000.0], dtype=ember.float32)
    np.testing.assert_allclose(ember.logsumexp(x, 0).item(), 1000 + np.log(2), rtol=1e-6)
    assert ember.logsumexp(ember.tensor([-np.inf, -np.inf]), 0).item() == -np.inf
    assert ember.logsumexp(ember.tensor([np.inf, 1.0]), 0).item() == np.inf


def test_reduction_dtype_keeps_input_grad_dtype():
    x = ember.tensor(X, requires_grad=True)
    x.sum(dtype=ember.float64).backward()
    assert x.grad.dtype == ember.float32
    x.grad = None
    x.cumsum(1, dtype=ember.float64).sum().backward()
    assert x.grad.dtype == ember.float32 and np.all(x.grad.numpy() == [[3, 2, 1], [3, 2, 1]])


def test_var_legacy_forms_match_torch():
    e, t = both(X)
    assert_close(ember.var(e, False), torch.var(t, False))
    assert_close(e.std(1, True, True), t.std(1, True, True))
    v, m = ember.var_mean(e, 1, correction=0)
    tv, tm = torch.var_mean(t, 1, correction=0)
    assert_close(v, tv), assert_close(m, tm)


def test_var_degenerate_warns():
    with pytest.warns(UserWarning, match="degrees of freedom"):
        ember.var(ember.tensor([1.0]))


# ---------------------------------------------------------------- issue 7: integer semantics, histogram edges, out=
@pytest.mark.parametrize("call", [
    lambda lib, y, x: lib.trapezoid(y, x), lambda lib, y, x: lib.trapz(y, x, dim=0),
    lambda lib, y, x: lib.trapezoid(y), lambda lib, y, x: lib.trapezoid(y, dx=3),
    lambda lib, y, x: lib.cumulative_trapezoid(y, x), lambda lib, y, x: lib.cumulative_trapezoid(y, dx=2),
    lambda lib, y, x: lib.trapezoid(y, x[0])])
@pytest.mark.parametrize("dtype", ["uint8", "int32", "float32"])
def test_trapezoid_family_matches_torch_including_integer_wraparound(call, dtype):
    y = np.array([[5, 1, 6, 250], [5, 6, 4, 3]]).astype(dtype)
    x = np.array([[2, 5, 5, 0], [9, 3, 1, 7]]).astype(dtype)
    e = call(ember, ember.tensor(y), ember.tensor(x))
    t = call(torch, torch.tensor(y), torch.tensor(x))
    assert_close(e, t)


def test_histogram_of_a_constant_widens_its_range_by_a_half_histc_by_one():
    for x in ([-8.5], [3.0, 3.0, 3.0]):
        e, t = ember.histogram(ember.tensor(x), 4), torch.histogram(torch.tensor(x), 4)
        assert_close(e.hist, t.hist)
        assert_close(e.bin_edges, t.bin_edges)
        assert_close(ember.histc(ember.tensor(x), 3), torch.histc(torch.tensor(x), 3))


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_scatter_reduce_of_bools_matches_torch(reduce):
    x, src = np.array([True, False, True, False]), np.array([False, True, False])
    for include_self in (True, False):
        e = ember.tensor(x).scatter_reduce(0, ember.tensor([0, 1, 1]), ember.tensor(src), reduce,
                                           include_self=include_self)
        t = torch.tensor(x).scatter_reduce(0, torch.tensor([0, 1, 1]), torch.tensor(src), reduce,
                                           include_self=include_self)
        assert_close(e, t)


def test_sum_to_size_of_no_dims_sums_with_torchs_promotion():
    for dtype in ("int32", "uint8", "float32"):
        x = np.array(3).astype(dtype)
        assert_close(ember.tensor(x).sum_to_size(()), torch.tensor(x).sum_to_size(()))
        y = np.arange(6).reshape(2, 3).astype(dtype)
        assert_close(ember.tensor(y).sum_to_size(2, 3), torch.tensor(y).sum_to_size(2, 3))


def test_kthvalue_writes_out_and_refuses_an_out_that_overlaps_the_input():
    res = []
    for lib in (ember, torch):
        x = lib.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
        v, i = lib.zeros(0), lib.zeros(0, dtype=lib.int64)
        lib.kthvalue(x, 2, 1, out=(v, i))
        res.append((v, i))
        with pytest.raises(RuntimeError):
            lib.kthvalue(x, 2, 1, out=(x[0], i))
    for e, t in zip(*res):
        assert_close(e, t)


@pytest.mark.parametrize("kwargs", [{}, {"spacing": 2.0}, {"spacing": [2.0, 0.5], "edge_order": 2},
                                    {"dim": 1, "edge_order": 2}, {"dim": (0,), "spacing": [[0.0, 1.0, 3.0, 3.5]]},
                                    {"spacing": [[0.0, 1.0, 3.0, 3.5], [1.0, 1.5, 4.0, 4.2, 7.0]], "edge_order": 2}])
def test_gradient_values_and_derivatives_match_torch(kwargs):
    y0 = np.random.default_rng(0).normal(size=(4, 5))
    res = []
    for lib in (ember, torch):
        kw = dict(kwargs)
        if isinstance(kw.get("spacing"), list) and isinstance(kw["spacing"][0], list):
            kw["spacing"] = [lib.tensor(c, dtype=lib.float64) for c in kw["spacing"]]
        y = lib.tensor(y0, requires_grad=True)
        outs = lib.gradient(y, **kw)
        g, = lib.autograd.grad(sum((o * o).sum() for o in outs), y)
        res.append((*outs, g))
    for e, t in zip(*res, strict=True):
        assert_close(e, t, atol=1e-10)
    ints = np.arange(12).reshape(3, 4) ** 2
    for e, t in zip(ember.gradient(ember.tensor(ints)), torch.gradient(torch.tensor(ints)), strict=True):
        assert_close(e, t)


@pytest.mark.parametrize("kwargs", [{"edge_order": 3}, {"spacing": [0.1], "dim": (1, 0)}, {"dim": (1, 1)},
                                    {"edge_order": 2, "dim": 0}])
def test_gradient_errors_are_torchs(kwargs):
    with pytest.raises(RuntimeError):
        torch.gradient(torch.ones(2, 3), **kwargs)
    with pytest.raises(RuntimeError):
        ember.gradient(ember.ones(2, 3), **kwargs)


@pytest.mark.parametrize("bins", [3, [2, 4], "edges"])
@pytest.mark.parametrize("density", [False, True])
def test_histogramdd_matches_torch(bins, density):
    x0 = np.random.default_rng(1).normal(size=(20, 2)).astype(np.float32)
    w0 = np.random.default_rng(2).uniform(size=20).astype(np.float32)
    res = []
    for lib in (ember, torch):
        b = [lib.tensor([-1.0, 0.0, 2.0]), lib.tensor([1.0, -1.0])] if bins == "edges" else bins
        res.append(lib.histogramdd(lib.tensor(x0), b, weight=lib.tensor(w0), density=density))
    (eh, ee), (th, te) = res
    assert_close(eh, th)
    for a, b in zip(ee, te, strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "prod"])
@pytest.mark.parametrize("initial", [None, 2.0])
def test_segment_reduce_matches_torch_with_gradients(reduce, initial):
    d0 = np.random.default_rng(3).normal(size=(6, 2))
    res = []
    for lib in (ember, torch):
        d = lib.tensor(d0, requires_grad=True)
        for seg in ({"lengths": lib.tensor([0, 1, 3, 2])}, {"offsets": lib.tensor([0, 2, 2, 6])}):
            y = lib.segment_reduce(d, reduce, **seg, initial=initial)
            finite = lib.where(y.isfinite(), y, lib.zeros_like(y))
            res.append((y, *lib.autograd.grad(finite.sum(), d)))
    n = len(res) // 2
    for e, t in zip(res[:n], res[n:]):
        for a, b in zip(e, t):
            assert_close(a, b, atol=1e-12)


@pytest.mark.parametrize("call", [lambda lib, x, o: lib.amax(x, 1, out=o[0]), lambda lib, x, o: lib.amin(x, 0, out=o[0]),
                                  lambda lib, x, o: lib.aminmax(x, dim=1, out=o)])
def test_amax_amin_aminmax_write_out_and_check_its_dtype_as_torch(call):
    res = []
    for lib in (ember, torch):
        x = lib.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
        out = (lib.zeros(0), lib.zeros(0))
        r = call(lib, x, out)
        res.append(list(r) if isinstance(r, tuple) else [r])
        assert all(a is b for a, b in zip(res[-1], out))
        with pytest.raises(RuntimeError):
            call(lib, x, (lib.zeros(0, dtype=lib.int32), lib.zeros(0, dtype=lib.int32)))
    for e, t in zip(*res, strict=True):
        assert_close(e, t)
