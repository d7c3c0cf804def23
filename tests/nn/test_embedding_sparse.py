"""Embedding(sparse=True) / EmbeddingBag(sparse=True): the weight's sparse COO gradient, against torch 2.13 on the
same inputs (its entries in order, coalesced form, dense form), and its accumulation over backward passes."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as EF

RNG = np.random.default_rng(0)
W = RNG.standard_normal((7, 3)).astype(np.float32)


def _weights(w=W):
    return torch.tensor(w, requires_grad=True), ember.tensor(w, requires_grad=True)


def _same_sparse(e, t):
    """Same entries in the same order, same coalesced flag, same coalesced and dense forms."""
    assert t.is_sparse and e.is_sparse
    assert tuple(e.shape) == tuple(t.shape) and e.is_coalesced() == t.is_coalesced()
    assert e._indices().dtype == ember.int64
    np.testing.assert_array_equal(e._indices().numpy(), t._indices().numpy())
    np.testing.assert_allclose(e._values().numpy(), t._values().detach().numpy(), rtol=1e-6, atol=1e-6)
    ec, tc = e.coalesce(), t.coalesce()
    np.testing.assert_array_equal(ec.indices().numpy(), tc.indices().numpy())
    np.testing.assert_allclose(ec.values().numpy(), tc.values().detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(e.to_dense().numpy(), t.to_dense().numpy(), rtol=1e-6, atol=1e-6)


def _upstream(shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("idx,kwargs", [
    ([1, 4, 1, 0], {}),                               # a repeated index
    ([[1, 2, 1], [0, 6, 2]], {}),                     # 2-D input
    ([[1, 2, 1], [0, 6, 2]], {"padding_idx": 2}),     # padding rows are left out
    ([3, 5, 3], {"padding_idx": -2}),                 # negative padding_idx (row 5)
    ([[4]], {}),                                      # one entry: torch calls it coalesced
    ([2, 2], {"padding_idx": 2}),                     # every lookup is padding: no entries
])
def test_embedding_sparse_grad_matches_torch(idx, kwargs):
    tw, ew = _weights()
    up = _upstream(np.shape(idx) + (3,))
    TF.embedding(torch.tensor(idx), tw, sparse=True, **kwargs).backward(torch.tensor(up))
    EF.embedding(ember.tensor(idx), ew, sparse=True, **kwargs).backward(ember.tensor(up))
    _same_sparse(ew.grad, tw.grad)


def test_embedding_sparse_int32_indices_and_max_norm():
    w = W * 3
    tw, ew = _weights(w)
    idx = np.array([1, 3, 1, 6], dtype=np.int32)
    up = _upstream((4, 3))
    TF.embedding(torch.tensor(idx), tw, max_norm=1.0, sparse=True).backward(torch.tensor(up))
    EF.embedding(ember.tensor(idx), ew, max_norm=1.0, sparse=True).backward(ember.tensor(up))
    _same_sparse(ew.grad, tw.grad)
    np.testing.assert_allclose(ew.detach().numpy(), tw.detach().numpy(), rtol=1e-6)  # the renormed rows


def test_embedding_module_sparse():
    t = torch.nn.Embedding(7, 3, padding_idx=0, sparse=True)
    e = ember.nn.Embedding(7, 3, padding_idx=0, sparse=True)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(W))
    e.weight.data = ember.tensor(W)
    idx = [[0, 5, 5], [6, 1, 0]]
    (t(torch.tensor(idx)) ** 2).sum().backward()
    (e(ember.tensor(idx)) ** 2).sum().backward()
    _same_sparse(e.weight.grad, t.weight.grad)
    assert repr(e) == repr(t)


def test_scale_grad_by_freq_with_sparse_is_refused_in_backward():
    tw, ew = _weights()
    t_out = TF.embedding(torch.tensor([1, 1]), tw, scale_grad_by_freq=True, sparse=True).sum()
    e_out = EF.embedding(ember.tensor([1, 1]), ew, scale_grad_by_freq=True, sparse=True).sum()
    with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse gradients") as te:
        t_out.backward()
    with pytest.raises(RuntimeError) as ee:
        e_out.backward()
    assert str(ee.value) == str(te.value).split("\n")[0]


@pytest.mark.parametrize("second", ["matmul", "expanded"])
def test_two_backward_passes_accumulate_as_torch(second):
    """A second sparse gradient is added into .grad in place: the entry lists merged as sorted lists would be
    when both value blocks are contiguous (a matmul's gradient), concatenated when one is a broadcast view
    (an expanded gradient given to backward)."""
    tw, ew = _weights()
    m, row = _upstream((3, 2)), _upstream((3,))
    grads = []
    for lib, w in ((torch, tw), (ember, ew)):
        F = TF if lib is torch else EF
        (F.embedding(lib.tensor([[1, 4], [1, 0]]), w, sparse=True) @ lib.tensor(m)).sum().backward()
        first = w.grad
        out = F.embedding(lib.tensor([0, 1, 4]), w, sparse=True)
        if second == "matmul":
            (out @ lib.tensor(m)).sum().backward()
        else:
            out.backward(lib.tensor(row).expand(3, 3))
        assert w.grad is first
        grads.append(w.grad)
    _same_sparse(grads[1], grads[0])
    assert grads[0]._nnz() == (5 if second == "matmul" else 7)  # the two rules differ on these entries


def test_many_passes_coalesce_past_numel_as_torch():
    """Concatenated entries are coalesced (the flag left unset) once they outnumber the tensor's elements."""
    tw, ew = _weights(W[:2, :1])
    for lib, w in ((torch, tw), (ember, ew)):
        F = TF if lib is torch else EF
        for _ in range(2):
            F.embedding(lib.tensor([1, 1, 0]), w, sparse=True).backward(lib.tensor([2.0]).expand(3, 1))
    _same_sparse(ew.grad, tw.grad)
    assert tw.grad._nnz() == 2


def test_sparse_and_dense_gradients_mix_as_torch():
    """A dense gradient added to a sparse .grad, or a sparse one to a dense .grad, gives a dense .grad."""
    for dense_first in (True, False):
        tw, ew = _weights()
        for lib, w in ((torch, tw), (ember, ew)):
            F = TF if lib is torch else EF
            passes = [lambda: (w * 2).sum().backward(),
                      lambda: F.embedding(lib.tensor([1, 3, 1]), w, sparse=True).sum().backward()]
            for run in passes if dense_first else passes[::-1]:
                run()
        assert not tw.grad.is_sparse and not ew.grad.is_sparse
        np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy())


def test_two_lookups_in_one_graph_as_torch():
    tw, ew = _weights()
    m = _upstream((3, 2))
    for lib, w in ((torch, tw), (ember, ew)):
        F = TF if lib is torch else EF
        (F.embedding(lib.tensor([1, 3, 5]), w, sparse=True) @ lib.tensor(m)).sum().add(
            (F.embedding(lib.tensor([0, 3]), w, sparse=True) @ lib.tensor(m)).sum() * 3).backward()
    _same_sparse(ew.grad, tw.grad)


def test_autograd_grad_returns_the_sparse_gradient():
    tw, ew = _weights()
    up = _upstream((2, 3))
    tg, = torch.autograd.grad(TF.embedding(torch.tensor([6, 2]), tw, sparse=True), tw, torch.tensor(up))
    eg, = ember.autograd.grad(EF.embedding(ember.tensor([6, 2]), ew, sparse=True), ew, ember.tensor(up))
    _same_sparse(eg, tg)


def test_zero_grad_empties_a_sparse_gradient():
    tw, ew = _weights()
    for lib, w in ((torch, tw), (ember, ew)):
        F = TF if lib is torch else EF
        F.embedding(lib.tensor([1, 3]), w, sparse=True).sum().backward()
        g = w.grad
        lib.optim.SGD([w], lr=0.1).zero_grad(set_to_none=False)
        assert w.grad is g
    _same_sparse(ew.grad, tw.grad)
    assert ew.grad._nnz() == 0


@pytest.mark.parametrize("mode,kwargs", [
    ("sum", {}),
    ("mean", {}),
    ("mean", {"padding_idx": 2}),
    ("sum", {"include_last_offset": True}),
])
def test_embedding_bag_sparse_grad_matches_torch(mode, kwargs):
    tw, ew = _weights()
    idx, offs = [1, 2, 4, 6, 4, 3, 2, 0], [0, 2, 5, 8]
    nbags = len(offs) - (1 if kwargs.get("include_last_offset") else 0)
    up = _upstream((nbags, 3))
    TF.embedding_bag(torch.tensor(idx), tw, torch.tensor(offs), mode=mode, sparse=True,
                     **kwargs).backward(torch.tensor(up))
    EF.embedding_bag(ember.tensor(idx), ew, ember.tensor(offs), mode=mode, sparse=True,
                     **kwargs).backward(ember.tensor(up))
    _same_sparse(ew.grad, tw.grad)


def test_embedding_bag_sparse_per_sample_weights_and_2d_input():
    tw, ew = _weights()
    psw = _upstream((2, 3))
    t_psw, e_psw = torch.tensor(psw, requires_grad=True), ember.tensor(psw, requires_grad=True)
    idx = [[1, 2, 1], [6, 0, 2]]
    up = _upstream((2, 3))
    TF.embedding_bag(torch.tensor(idx), tw, mode="sum", sparse=True, per_sample_weights=t_psw).backward(
        torch.tensor(up))
    EF.embedding_bag(ember.tensor(idx), ew, mode="sum", sparse=True, per_sample_weights=e_psw).backward(
        ember.tensor(up))
    _same_sparse(ew.grad, tw.grad)
    np.testing.assert_allclose(e_psw.grad.numpy(), t_psw.grad.numpy(), rtol=1e-5)


def test_embedding_bag_module_sparse_and_max_mode_refusal():
    t = torch.nn.EmbeddingBag(7, 3, mode="sum", sparse=True)
    e = ember.nn.EmbeddingBag(7, 3, mode="sum", sparse=True)
    assert repr(e) == repr(t)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(W))
    e.weight.data = ember.tensor(W)
    t(torch.tensor([1, 5, 5]), torch.tensor([0, 1])).pow(2).sum().backward()
    e(ember.tensor([1, 5, 5]), ember.tensor([0, 1])).pow(2).sum().backward()
    _same_sparse(e.weight.grad, t.weight.grad)
    tw, ew = _weights()
    with pytest.raises(ValueError, match="max mode does not support sparse weights"):
        TF.embedding_bag(torch.tensor([1, 2]), tw, torch.tensor([0]), mode="max", sparse=True)
    with pytest.raises(ValueError, match="max mode does not support sparse weights"):
        EF.embedding_bag(ember.tensor([1, 2]), ew, ember.tensor([0]), mode="max", sparse=True)


def test_leaf_hooks_see_the_sparse_gradient_once():
    seen = {}
    for lib, w in zip((torch, ember), _weights()):
        F = TF if lib is torch else EF
        calls = seen[lib.__name__] = []
        w.register_hook(lambda g, calls=calls: calls.append((g.is_sparse, g._indices().tolist())))
        w.register_post_accumulate_grad_hook(lambda p, calls=calls: calls.append(p.grad.is_sparse))
        (F.embedding(lib.tensor([1, 3, 1]), w, sparse=True) ** 2).sum().backward()
    assert seen["ember"] == seen["torch"] == [(True, [[1, 3, 1]]), True]


@pytest.mark.parametrize("a,b", [
    ([3, 1, 3, 0], [1, 3, 2]),       # unsorted lists: heads compared, equal heads summed
    ([2, 5], [0, 1, 6, 6]),
    ([4], []),
])
def test_sparse_sum_rules_used_by_accumulation(a, b):
    """COO + COO (the sum a second sparse gradient is accumulated with), dense + COO, COO + dense refused."""
    rng = np.random.default_rng(len(a) + len(b))
    va, vb = rng.standard_normal((len(a), 2)).astype(np.float32), rng.standard_normal((len(b), 2)).astype(np.float32)
    dense = rng.standard_normal((7, 2)).astype(np.float32)
    for lib in (torch, ember):
        x = lib.sparse_coo_tensor(lib.tensor([a], dtype=lib.int64).reshape(1, -1), lib.tensor(va), (7, 2))
        y = lib.sparse_coo_tensor(lib.tensor([b], dtype=lib.int64).reshape(1, -1), lib.tensor(vb), (7, 2))
        if lib is torch:
            t_sum, t_dense = x + y, lib.tensor(dense) + x
        else:
            _same_sparse(x + y, t_sum)
            np.testing.assert_allclose((lib.tensor(dense) + x).numpy(), t_dense.numpy(), rtol=1e-6)
        with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
            x + lib.tensor(dense)


def test_forward_ad_and_func_grad_with_sparse():
    """Forward mode gives the tangent's looked-up rows; func.grad returns the sparse gradient, as torch's."""
    tangent = RNG.standard_normal((7, 3)).astype(np.float32)
    idx = [[1, 6], [1, 0]]
    outs = []
    for lib, F in ((torch, TF), (ember, EF)):
        with lib.autograd.forward_ad.dual_level():
            dual = lib.autograd.forward_ad.make_dual(lib.tensor(W), lib.tensor(tangent))
            out = F.embedding(lib.tensor(idx), dual, padding_idx=0, sparse=True)
            outs.append(lib.autograd.forward_ad.unpack_dual(out).tangent.numpy())
        outs.append(lib.func.grad(lambda w: (F.embedding(lib.tensor(idx), w, sparse=True) ** 2).sum())(
            lib.tensor(W)))
    np.testing.assert_allclose(outs[2], outs[0])
    _same_sparse(outs[3], outs[1])
