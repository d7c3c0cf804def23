"""In-place ops on views update the base's history, as torch's view + CopySlices semantics do."""
import numpy as np
import pytest
import torch

import ember

SCENARIOS = {
    "slice_mul_": lambda L, x: _then(x * 1, lambda y: y[1:].mul_(2)),
    "column_add_": lambda L, x: _then(x.reshape(2, 3) * 1, lambda y: y[:, 0].add_(x[:2] * 10)),
    "view_of_view": lambda L, x: _then(x * 1, lambda y: y.view(2, 3)[1].view(3)[::2].mul_(x[1:3])),
    "transpose_copy_": lambda L, x: _then(x.reshape(2, 3) + 0, lambda y: y.t()[0].copy_(x[4:6].exp())),
    "select_setitem": lambda L, x: _then(x.reshape(2, 3) * 2, lambda y: y[1].__setitem__(slice(0, 2), x[:2] ** 2)),
    "narrow_relu_": lambda L, x: _then(x - 0.5, lambda y: y.narrow(0, 2, 3).relu_()),
    "diagonal_fill_": lambda L, x: _then(x[:4].reshape(2, 2) * 1, lambda y: y.diagonal().fill_(7.0)),
}


def _then(y, f):
    f(y)
    return y


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_in_place_on_a_view_matches_torch(name):
    x0 = np.array([0.3, -1.2, 0.8, 2.0, -0.4, 1.5])
    results = []
    for lib in (ember, torch):
        x = lib.tensor(x0.copy(), requires_grad=True)
        y = SCENARIOS[name](lib, x)
        w = lib.tensor(np.arange(1.0, 1.0 + y.numel()).reshape(tuple(y.shape)))
        (y * w).sum().backward()
        results.append((y.detach().numpy().copy(), x.grad.numpy().copy()))
    (ey, eg), (ty, tg) = results
    np.testing.assert_allclose(ey, ty, rtol=1e-12)
    np.testing.assert_allclose(eg, tg, rtol=1e-12)


def test_views_share_memory_and_know_their_base():
    x = ember.arange(6.0)
    v = x.view(2, 3)[1]
    assert v._base is x and x.view(2, 3)._base is x and x._base is None
    v.fill_(0.0)
    assert x.tolist() == [0.0, 1.0, 2.0, 0.0, 0.0, 0.0]
    assert (x * 1)._base is None and x.clone()._base is None


def test_view_of_leaf_and_modified_saved_result_raise_as_torch():
    for lib in (ember, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
            a[0:1].mul_(2)
        b = a.exp()
        b[0].mul_(2)  # exp saved its result for backward: that result changed through a view
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            b.sum().backward()
        y = (a * 1).reshape(2, 1)
        with pytest.raises(RuntimeError, match="Output 1 of Unbind is a view and is being modified inplace"):
            y.unbind(0)[1].zero_()
    with ember.no_grad():
        a = ember.tensor([1.0, 2.0], requires_grad=True)
        a[0:1].mul_(2)  # allowed without recording, as in torch
    assert a.tolist() == [2.0, 2.0]


SPLITS = {  # pieces of a (4, 4) tensor; torch's tensor_split family returns one slice view per piece
    "tensor_split": lambda a: a.tensor_split(2),
    "tensor_split_indices": lambda a: a.tensor_split([1, 3], dim=1),
    "hsplit": lambda a: a.hsplit(2),
    "vsplit": lambda a: a.vsplit([3]),
    "dsplit": lambda a: a.reshape(2, 2, 4).dsplit(2),
    "unsafe_split": lambda a: a.unsafe_split(2),   # pieces autograd does not track as views
    "unsafe_chunk": lambda a: a.unsafe_chunk(2, 1),
}


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_split_pieces_written_in_place_as_torch(name):
    results = []
    for lib in (ember, torch):
        x = lib.arange(1.0, 17.0, dtype=lib.float64).reshape(4, 4).requires_grad_()
        a = x * 1
        SPLITS[name](a)[1].mul_(3)
        (a * a * lib.arange(16.0, dtype=lib.float64).reshape(4, 4)).sum().backward()
        results.append((a.detach().numpy().copy(), x.grad.numpy().copy()))
    (ea, eg), (ta, tg) = results
    np.testing.assert_array_equal(ea, ta)
    np.testing.assert_array_equal(eg, tg)


def test_unbind_of_a_vector_gives_views():
    # a 1-D tensor's pieces are 0-d: they must still be views, so that a write through one reaches the base
    for lib in (ember, torch):
        a = lib.arange(1.0, 5.0)
        pieces = a.unbind(0)
        pieces[1].mul_(2)
        pieces[3].fill_(-1)
        assert a.tolist() == [1.0, 4.0, 3.0, -1.0]
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="Output 1 of Unbind is a view and is being modified inplace"):
            (x * 1).unbind(0)[1].mul_(2)
