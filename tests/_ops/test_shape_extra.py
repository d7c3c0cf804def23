"""Shape and view ops beyond the spec table: memory sharing, errors, Size results, dtypes.

Every expectation is torch 2.13.0's behaviour on the same call.
"""
import warnings

import numpy as np
import pytest
import torch

import ember
from conftest import assert_close


def values(t):
    return np.array(t.detach().numpy())


# (name, op): whether the result sees a later in-place change of its input must match torch
SHARING = [
    ("reshape", lambda x: x.reshape(6, 4)),
    ("view", lambda x: x.view(-1)),
    ("view_as", lambda x: x.view_as(_lib(x).zeros(4, 6))),
    ("flatten", lambda x: x.flatten(1)),
    ("unflatten", lambda x: x.unflatten(2, (2, 2))),
    ("squeeze", lambda x: x.unsqueeze(0).squeeze(0)),
    ("unsqueeze", lambda x: x.unsqueeze(1)),
    ("permute", lambda x: x.permute(2, 0, 1)),
    ("transpose", lambda x: x.transpose(0, 2)),
    ("movedim", lambda x: x.movedim(0, -1)),
    ("mT", lambda x: x.mT),
    ("expand", lambda x: x.reshape(2, 3, 4, 1).expand(2, 3, 4, 2)),
    ("split", lambda x: x.split(1, 1)[1]),
    ("chunk", lambda x: x.chunk(2, 2)[1]),
    ("unbind", lambda x: x.unbind(2)[3]),
    ("narrow", lambda x: x.narrow(2, 1, 2)),
    ("diagonal", lambda x: x.diagonal(1, 1, 2)),
    ("tensor_split", lambda x: x.tensor_split(2, 2)[0]),
    ("flip", lambda x: x.flip(0)),
    ("roll", lambda x: x.roll(1, 2)),
    ("repeat", lambda x: x.repeat(1, 1, 1)),
    ("tril", lambda x: x.tril()),
    ("cat", lambda x: _lib(x).cat([x, x])),
    ("stack", lambda x: _lib(x).stack([x])),
    ("diag_embed", lambda x: _lib(x).diag_embed(x)),
    ("unfold", lambda x: x.unfold(2, 2, 1)),
    ("ravel", lambda x: x.ravel()),
    ("rot90", lambda x: _lib(x).rot90(x, 1, (1, 2))),
    ("meshgrid", lambda x: _lib(x).meshgrid(x.flatten(), indexing="ij")[0]),
]


def _lib(x):
    return ember if isinstance(x, ember.Tensor) else torch


@pytest.mark.parametrize("name,op", SHARING, ids=[n for n, _ in SHARING])
def test_views_share_memory_as_torch(name, op):
    seen = []
    for lib in (ember, torch):
        x = lib.arange(24.0).reshape(2, 3, 4)
        v = op(x)
        x.mul_(2)
        seen.append(values(v))
    np.testing.assert_array_equal(seen[0], seen[1])


@pytest.mark.parametrize("name,op", [
    ("transpose", lambda x: x.transpose(0, 1)),
    ("narrow", lambda x: x.narrow(1, 1, 2)),
    ("diagonal", lambda x: x.diagonal()),
    ("unbind", lambda x: x.unbind(1)[2]),
    ("split", lambda x: x.split(2, 1)[1]),
    ("view", lambda x: x.view(12)),
])
def test_writes_through_views_reach_the_base(name, op):
    seen = []
    for lib in (ember, torch):
        x = lib.zeros(3, 4)
        op(x).add_(1)
        seen.append(values(x))
    np.testing.assert_array_equal(seen[0], seen[1])


ERRORS = [
    lambda L: L.cat([L.zeros(2, 2), L.zeros(3, 2)], 1),
    lambda L: L.cat([L.zeros(2, 2), L.zeros(3)]),
    lambda L: L.cat([]),
    lambda L: L.cat([L.tensor(1.0)]),
    lambda L: L.cat([L.zeros(2, 2)], 2),
    lambda L: L.stack([L.zeros(2, 3), L.zeros(2, 4)]),
    lambda L: L.stack([]),
    lambda L: L.zeros(2, 3).permute(0),
    lambda L: L.zeros(2, 3).permute(0, 0),
    lambda L: L.zeros(2, 3).permute(0, 2),
    lambda L: L.zeros(2, 3).transpose(0, 2),
    lambda L: L.zeros(2, 3).flatten(1, 0),
    lambda L: L.zeros(2, 6).unflatten(1, (2, 2)),
    lambda L: L.zeros(2, 6).split(-1),
    lambda L: L.zeros(2, 6).split([2, 3], 1),
    lambda L: L.zeros(2, 6).chunk(0),
    lambda L: L.zeros(2, 6).narrow(1, 5, 3),
    lambda L: L.zeros(2, 6).narrow(1, -7, 1),
    lambda L: L.zeros(2, 6).repeat(2),
    lambda L: L.zeros(2, 3).repeat(-1, 2),
    lambda L: L.zeros(2, 3, 4).t(),
    lambda L: L.zeros(3).mT,
    lambda L: L.diag(L.zeros(2, 2, 2)),
    lambda L: L.zeros(2, 3).diagonal(0, 0, 0),
    lambda L: L.tril(L.zeros(3)),
    lambda L: L.zeros(2, 3).squeeze(2),
    lambda L: L.zeros(2, 3).squeeze((0, 0)),
    lambda L: L.zeros(2, 3).unsqueeze(3),
    lambda L: L.zeros(2, 3).expand(3, 3),
    lambda L: L.zeros(2, 3).expand(3),
    lambda L: L.broadcast_shapes((2, 3), (4, 3)),
    lambda L: L.broadcast_tensors(L.zeros(2, 3), L.zeros(4, 3)),
    lambda L: L.zeros(2, 3).movedim((0, 1), (1,)),
    lambda L: L.zeros(2, 3).movedim((0, 0), (0, 1)),
    lambda L: L.zeros(6).view(4),
    lambda L: L.zeros(6).view(-1, -1),
    lambda L: L.zeros(2, 3).t().view(6),
    lambda L: L.zeros(2, 3).roll(1, (0, 1)),
    lambda L: L.repeat_interleave(L.zeros(3), L.tensor([1, 2])),
    lambda L: L.zeros(3).unbind(1),
    lambda L: L.tensor(1.0).unbind(0),
    lambda L: L.zeros(2, 6).tensor_split(0),
    lambda L: L.zeros(2, 3).flip(0, 0),
    lambda L: L.fliplr(L.zeros(3)),
    lambda L: L.zeros(4).reshape(3),
    lambda L: L.tensor(1.0).split(1),
    lambda L: L.tensor(1.0).chunk(1),
    lambda L: L.tensor(1.0).tensor_split(1),
    lambda L: L.tensor(1.0).narrow(0, 0, 1),
    lambda L: L.rot90(L.zeros(2, 2), 1, [0, 0]),
    lambda L: L.rot90(L.zeros(2), 1, [0, 1]),
    lambda L: L.rot90(L.zeros(2, 2), 1, [0]),
    lambda L: L.zeros(2, 3).unfold(1, 4, 1),
    lambda L: L.zeros(2, 3).unfold(1, 2, 0),
    lambda L: L.zeros(2, 3).unfold(2, 1, 1),
    lambda L: L.meshgrid(L.zeros(2, 2), indexing="ij"),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_match_torch(k):
    fn = ERRORS[k]
    with pytest.raises(Exception) as te:
        fn(torch)
    with pytest.raises(Exception) as ee:
        fn(ember)
    assert type(ee.value) is type(te.value), f"ember raised {ee.value!r}, torch {te.value!r}"
    # torch's message up to its first line; ember may name the op in front
    first = str(te.value).split("\n")[0].split(" but got: ")[0]  # torch prints a tensor's values after it
    if "unexpected error" not in first and "permute(sparse_coo)" not in first:
        assert first in str(ee.value), f"{str(ee.value)!r} lacks {first!r}"


def test_cat_error_names_tensor_and_dim():
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 1. Expected size 2 "
                                           "but got size 3 for tensor number 1 in the list."):
        ember.cat([ember.zeros(2, 2), ember.zeros(3, 2)], 1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember.zeros(2, 3).permute(0, 5)


def test_shapes_are_sizes():
    x = ember.zeros(2, 3)
    for s in (x.reshape(3, 2).shape, x.T.shape, ember.broadcast_shapes((2, 1), (3,), (1,)),
              ember.broadcast_shapes(3, (2, 1))):
        assert isinstance(s, ember.Size)
    assert ember.broadcast_shapes((2, 1), (3,)) == torch.broadcast_shapes((2, 1), (3,))
    assert ember.broadcast_shapes(3, (2, 1)) == torch.broadcast_shapes(3, (2, 1))
    assert ember.broadcast_shapes() == torch.broadcast_shapes()
    assert repr(ember.zeros(2, 3).flatten().shape) == "ember.Size([6])"


@pytest.mark.parametrize("dts", [("int32", "int64"), ("bool", "float32"), ("uint8", "int8"), ("bool", "bool"),
                                 ("int64", "float64"), ("float32", "float64")])
def test_cat_promotes_like_torch(dts):
    arrs = [np.arange(6).reshape(2, 3).astype(d) for d in dts]
    e = ember.cat([ember.tensor(a) for a in arrs], 1)
    t = torch.cat([torch.from_numpy(a) for a in arrs], 1)
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_cat_skips_empty_1d_but_promotes_their_dtype():
    e = ember.cat([ember.zeros(0, dtype=ember.float64), ember.ones(2, 3)])
    t = torch.cat([torch.zeros(0, dtype=torch.float64), torch.ones(2, 3)])
    assert e.shape == t.shape and e.dtype == ember.float64 and t.dtype == torch.float64


def test_non_float_ops_keep_dtype():
    for fn in (lambda L, x: x.flip(0), lambda L, x: x.tril(), lambda L, x: x.repeat(2, 1),
               lambda L, x: L.diag(x), lambda L, x: x.roll(1), lambda L, x: x.repeat_interleave(2, 0),
               lambda L, x: L.stack([x, x], 1), lambda L, x: x.T, lambda L, x: x.split(1)[1]):
        a = np.arange(9).reshape(3, 3)
        e, t = fn(ember, ember.tensor(a)), fn(torch, torch.from_numpy(a))
        assert e.dtype == ember.int64
        np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_repeat_interleave_counts_form():
    e = ember.repeat_interleave(ember.tensor([2, 0, 3]))
    t = torch.repeat_interleave(torch.tensor([2, 0, 3]))
    assert e.dtype == ember.int64
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_T_reverses_all_dims():
    x = np.arange(24.0).reshape(2, 3, 4)
    with warnings.catch_warnings():  # torch warns about .T on 3-D (once per process)
        warnings.simplefilter("ignore")
        tt = torch.from_numpy(x).T
    np.testing.assert_array_equal(ember.tensor(x).T.numpy(), tt.numpy())


def test_view_as_other_dtype_reinterprets_bits():
    a = np.array([1.0, -2.5, 3.0], dtype=np.float32)
    e = ember.tensor(a).view(ember.int32)
    t = torch.from_numpy(a).view(torch.int32)
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_partly_used_outputs_backprop_like_torch():
    x0 = np.random.default_rng(0).standard_normal((6, 4))

    def run(lib, x):
        a, _, c = x.chunk(3)
        rows = list(x.unbind(1))           # iteration-like use of unbind
        piece = lib.split(x, [1, 5])[1]
        return (a * c).sum() + rows[2].pow(2).sum() + piece.narrow(0, 1, 2).sum()

    ex = ember.tensor(x0, requires_grad=True)
    tx = torch.tensor(x0, requires_grad=True)
    run(ember, ex).backward()
    run(torch, tx).backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_iterating_a_tensor_unbinds_it():
    x0 = np.arange(6.0).reshape(3, 2)
    ex = ember.tensor(x0, requires_grad=True)
    tx = torch.tensor(x0, requires_grad=True)
    sum(r * (i + 1) for i, r in enumerate(ex)).sum().backward()
    sum(r * (i + 1) for i, r in enumerate(tx)).sum().backward()
    np.testing.assert_array_equal(ex.grad.numpy(), tx.grad.numpy())


def test_grad_of_several_outputs_of_one_node():
    # the roots of backward are two outputs of the same split node
    x0 = np.arange(10.0).reshape(5, 2)
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(x0, requires_grad=True)
        a, b, c = x.split(2)
        g = lib.autograd.grad([a, c], [x], [lib.ones(2, 2, dtype=lib.float64), lib.ones(1, 2, dtype=lib.float64)])
        grads.append(values(g[0]))
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("name,args", [("squeeze_", ()), ("unsqueeze_", (1,)), ("transpose_", (0, 2)),
                                        ("swapdims_", (1, 0)), ("t_", ())])
def test_inplace_view_variants(name, args):
    x0 = np.arange(6.0).reshape(1, 2, 3) if name != "t_" else np.arange(6.0).reshape(2, 3)
    res = []
    for lib in (ember, torch):
        x = lib.tensor(x0, requires_grad=True)
        y = x * 1
        out = getattr(y, name)(*args)
        assert out is y
        w = lib.tensor(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)))
        (y * w).sum().backward()
        res.append((tuple(y.shape), values(y), values(x.grad)))
    assert res[0][0] == res[1][0]
    np.testing.assert_array_equal(res[0][1], res[1][1])
    np.testing.assert_array_equal(res[0][2], res[1][2])
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(ember.zeros(1, 2, 3, requires_grad=True), name)(*args)


def test_meshgrid_without_indexing_warns_and_uses_ij():
    with pytest.warns(UserWarning, match="indexing"):
        e = ember.meshgrid(ember.arange(3), ember.arange(2))
    t = torch.meshgrid(torch.arange(3), torch.arange(2), indexing="ij")
    for a, b in zip(e, t):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_flip_takes_torchs_dims_keyword():
    x = np.arange(24).reshape(2, 3, 4)
    for call in (lambda lib, t: lib.flip(t, dims=(0,)), lambda lib, t: lib.flip(t, [0, 2]),
                 lambda lib, t: t.flip(dims=[1]), lambda lib, t: t.flip(2), lambda lib, t: t.flip(0, 1)):
        np.testing.assert_array_equal(call(ember, ember.tensor(x)).numpy(), call(torch, torch.tensor(x)).numpy())


# ---------------------------------------------------------------- as_strided, *_copy, slice (issue 7)
def _grads(lib, fn, x0, create_graph=False):
    x = lib.tensor(x0, requires_grad=True)
    y = fn(lib, x * 1)
    w = lib.tensor(np.arange(1.0, y.numel() + 1).reshape(tuple(y.shape)))
    g, = lib.autograd.grad((y * w).sum(), x, create_graph=create_graph)
    return y, g, x


@pytest.mark.parametrize("size,stride,offset", [((2, 2), (1, 2), 1), ((2, 1, 1, 2), (1, 7, 7, 1), 0),
                                                ((3, 3), (0, 1), 2), ((2, 3), (3, 1), None)])
def test_as_strided_values_and_gradients_match_torch(size, stride, offset):
    x0 = np.linspace(-1, 2, 16).reshape(4, 4)

    def fn(lib, x):
        return lib.as_strided(x, size, stride, offset) ** 2
    (ey, eg, ex), (ty, tg, tx) = _grads(ember, fn, x0, True), _grads(torch, fn, x0, True)
    assert_close(ey, ty)
    assert_close(eg, tg)
    egg, = ember.autograd.grad(eg.sum(), ex)
    tgg, = torch.autograd.grad(tg.sum(), tx)
    assert_close(egg, tgg)


def test_as_strided_is_a_view_of_the_storage_as_torch():
    for lib in (ember, torch):
        base = lib.arange(12.0).requires_grad_()
        x = base * 1
        v = x[2:].as_strided((2, 3), (3, 1))  # storage offset 2 is kept: it starts at x[2]
        w = x.as_strided((2, 2), (1, 2), 1)
        v.mul_(2)  # seen through x and through w
        g, = lib.autograd.grad((w * lib.arange(4.0).reshape(2, 2)).sum(), base)
        res = [x.detach().numpy().copy(), w.detach().numpy().copy(), g.numpy().copy()]
        if lib is ember:
            mine = res
    for a, b in zip(mine, res):
        np.testing.assert_array_equal(a, b)


def test_as_strided_errors_and_in_place_form_as_torch():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="out of bounds for storage"):
            lib.zeros(4, 4).as_strided((2, 2), (200, 200))
        with pytest.raises(RuntimeError, match="more than one element"):
            lib.zeros(4).as_strided((3,), (0,)).add_(1)
        t = lib.arange(6.0)
        assert t.as_strided_((2, 2), (2, 1), 1) is t
        np.testing.assert_array_equal(t.numpy(), [[1.0, 2.0], [3.0, 4.0]])


def test_as_strided_scatter_values_match_torch_and_gradients_finite_differences():
    x0, s0 = np.linspace(-1, 1, 9).reshape(3, 3), np.arange(4.0).reshape(2, 2)
    e = ember.as_strided_scatter(ember.tensor(x0), ember.tensor(s0), (2, 2), (1, 2), 1)
    t = torch.as_strided_scatter(torch.tensor(x0), torch.tensor(s0), (2, 2), (1, 2), 1)
    assert_close(e, t)
    # torch's own input gradient is wrong here (its op_db expects test_fn_grad to fail): check ember by finite
    # differences instead
    x, s = ember.tensor(x0, requires_grad=True), ember.tensor(s0, requires_grad=True)
    assert ember.autograd.gradcheck(lambda a, b: ember.as_strided_scatter(a, b, (2, 2), (1, 2), 1), (x, s))
    assert ember.autograd.gradgradcheck(lambda a, b: ember.as_strided_scatter(a, b, (2, 2), (1, 2), 1), (x, s))


@pytest.mark.parametrize("name,args", [("expand_copy", ((3, 2, 3),)), ("permute_copy", ((2, 0, 1),)),
                                       ("view_copy", ((3, 2),)), ("diagonal_copy", (0, 1, 2)),
                                       ("unfold_copy", (2, 2, 1)), ("t_copy", ()), ("alias_copy", ()),
                                       ("split_with_sizes_copy", ([1, 1], 1)), ("unbind_copy", (2,)),
                                       ("squeeze_copy", (0,)), ("unsqueeze_copy", (1,)),
                                       ("transpose_copy", (0, 2)), ("as_strided_copy", ((2, 2), (1, 2), 1))])
def test_view_copies_match_torch_and_own_their_memory(name, args):
    x0 = np.arange(6.0).reshape(1, 2, 3) if name != "t_copy" else np.arange(6.0).reshape(2, 3)
    ex, tx = ember.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    e, t = getattr(ember, name)(ex, *args), getattr(torch, name)(tx, *args)
    es, ts = (list(e), list(t)) if isinstance(t, (tuple, list)) else ([e], [t])
    assert len(es) == len(ts)
    for a, b in zip(es, ts):
        assert_close(a, b)
        assert a._base is None and not np.shares_memory(a.detach().numpy(), ex.detach().numpy())
    ember.autograd.backward(es, [ember.ones_like(a) for a in es])
    torch.autograd.backward(ts, [torch.ones_like(b) for b in ts])
    assert_close(ex.grad, tx.grad)


def test_slice_unsafe_split_and_tensor_split_by_tensor_match_torch():
    x0 = np.arange(60.0).reshape(3, 4, 5)
    calls = [lambda lib, x: lib.ops.aten.slice(x, 1, 1, -1, 2) if lib is torch else lib.slice(x, 1, 1, -1, 2),
             lambda lib, x: x.unsafe_split(2, 1), lambda lib, x: lib.unsafe_chunk(x, 2, 2),
             lambda lib, x: lib.tensor_split(x, lib.tensor([1, 3]), 1), lambda lib, x: x.tensor_split(lib.tensor(2))]
    for call in calls:
        e, t = call(ember, ember.tensor(x0)), call(torch, torch.tensor(x0))
        es, ts = (list(e), list(t)) if isinstance(t, (tuple, list)) else ([e], [t])
        for a, b in zip(es, ts, strict=True):
            assert_close(a, b)


@pytest.mark.parametrize("call", [
    lambda lib: lib.hstack([]), lambda lib: lib.vstack(()), lambda lib: lib.dstack([]),
    lambda lib: lib.narrow(lib.ones(3, 3), 0, lib.tensor(True), 1),
    lambda lib: lib.narrow(lib.ones(3, 3), 0, lib.tensor([1]), 1),
    lambda lib: lib.narrow_copy(lib.ones(3, 3), 2, 0, 1), lambda lib: lib.hsplit(lib.ones(3, 3), "ab"),
    lambda lib: lib.tensor_split(lib.ones(3), lib.tensor([1.0])),
    lambda lib: lib.tensor_split(lib.ones(3), lib.tensor([[1]]))])
def test_shape_errors_raise_torchs_exception_types(call):
    with pytest.raises(Exception) as te:
        call(torch)
    with pytest.raises(type(te.value)):
        call(ember)


@pytest.mark.parametrize("shapes,dim,chunks", [([(1, 2, 3), (1, 2, 3)], -1, 5), ([(1, 2, 3), (1, 2, 4)], 1, 2),
                                               ([(3, 3, 2, 1), (1, 4, 2, 2), (2, 1, 3, 3)], 0, 2)])
def test_chunk_cat_matches_torch(shapes, dim, chunks):
    arrays = [np.arange(np.prod(s), dtype=np.float32).reshape(s) + 100 * k for k, s in enumerate(shapes)]
    e = ember._chunk_cat([ember.tensor(a) for a in arrays], dim, chunks)
    t = torch._chunk_cat([torch.tensor(a) for a in arrays], dim, chunks)
    assert_close(e, t)
    for bad in ([], [np.zeros((2, 3)), np.zeros(4)]):
        with pytest.raises(RuntimeError):
            torch._chunk_cat([torch.tensor(a) for a in bad], -1, 2)
        with pytest.raises(RuntimeError):
            ember._chunk_cat([ember.tensor(a) for a in bad], -1, 2)
