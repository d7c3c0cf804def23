"""Optimizers on sparse gradients (Embedding(sparse=True)), against torch 2.13 run on the same weights and lookups:
SparseAdam, SGD (with momentum, Nesterov, maximize) and Adagrad update as torch's; the others refuse a sparse
gradient with torch's error; SparseAdam refuses a dense one; L-BFGS densifies; clipping refuses."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as EF

W = np.random.default_rng(1).standard_normal((8, 3)).astype(np.float32)
M = np.random.default_rng(2).standard_normal((3, 2)).astype(np.float32)
# each step's lookups: repeated rows, rows left untouched, a row (7) seen only in the last step
LOOKUPS = [[1, 4, 1, 0], [4, 4, 2], [7, 1, 0, 0, 5]]


def _loss(lib, w, idx):
    F = TF if lib is torch else EF
    return ((F.embedding(lib.tensor(idx), w, sparse=True) @ lib.tensor(M)) ** 2).sum()


def _train(lib, name: str, kwargs: dict, lookups=LOOKUPS):
    w = lib.tensor(W, requires_grad=True)
    opt = getattr(lib.optim, name)([w], **kwargs)
    for idx in lookups:
        opt.zero_grad()
        _loss(lib, w, idx).backward()
        assert w.grad.is_sparse
        opt.step()
    return w, opt


@pytest.mark.parametrize("name,kwargs", [
    ("SparseAdam", {"lr": 0.1}),
    ("SparseAdam", {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-6, "maximize": True}),
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.5, "maximize": True}),
])
def test_sparse_steps_match_torch(name, kwargs):
    tw, t_opt = _train(torch, name, kwargs)
    ew, e_opt = _train(ember, name, kwargs)
    np.testing.assert_allclose(ew.detach().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ew.detach().numpy()[[3, 6]], W[[3, 6]])  # untouched rows stay
    for key, tv in t_opt.state[tw].items():
        ev = e_opt.state[ew][key]
        if isinstance(tv, torch.Tensor) and tv.is_sparse:  # SGD's momentum buffer is sparse, as torch's
            assert ev.is_sparse
            np.testing.assert_array_equal(ev._indices().numpy(), tv._indices().numpy())
            ev, tv = ev.to_dense(), tv.to_dense()
        np.testing.assert_allclose(np.asarray(ev.numpy() if hasattr(ev, "numpy") else ev),
                                   np.asarray(tv.numpy() if hasattr(tv, "numpy") else tv), rtol=1e-5, atol=1e-6)


def test_sparse_adam_moves_only_touched_rows_even_where_their_gradient_is_zero():
    """A looked-up row whose gradient is exactly 0 is in the sparse pattern: its moments decay (torch's rule)."""
    for lib in (torch, ember):
        w = lib.tensor(W, requires_grad=True)
        opt = lib.optim.SparseAdam([w], lr=0.1)
        F = TF if lib is torch else EF
        (F.embedding(lib.tensor([1, 2]), w, sparse=True) * lib.tensor([[1.0], [0.0]])).sum().backward()
        opt.step()
        opt.zero_grad()
        (F.embedding(lib.tensor([2]), w, sparse=True) * 0).sum().backward()
        opt.step()
        if lib is torch:
            t_w, t_m = w.detach().numpy(), opt.state[w]["exp_avg"].numpy()
        else:
            np.testing.assert_allclose(w.detach().numpy(), t_w, rtol=1e-6)
            np.testing.assert_allclose(opt.state[w]["exp_avg"].numpy(), t_m, rtol=1e-6)
            assert opt.state[w]["step"] == 2


def test_sparse_adam_refuses_a_dense_gradient():
    for lib in (torch, ember):
        w = lib.tensor(W, requires_grad=True)
        (w * 2).sum().backward()
        with pytest.raises(RuntimeError, match="^SparseAdam does not support dense gradients, please consider "
                                               "Adam instead$"):
            lib.optim.SparseAdam([w]).step()


@pytest.mark.parametrize("name,kwargs", [
    ("Adam", {}), ("AdamW", {}), ("Adam", {"foreach": True}), ("Adadelta", {}), ("Adamax", {}), ("NAdam", {}),
    ("RAdam", {}), ("RMSprop", {}), ("Rprop", {}), ("ASGD", {}), ("Adafactor", {}), ("Muon", {}),
    ("SGD", {"weight_decay": 0.1}), ("SGD", {"weight_decay": 0.1, "momentum": 0.9}),
    ("Adagrad", {"weight_decay": 0.1}),
])
def test_optimizers_refuse_sparse_gradients_as_torch(name, kwargs):
    messages = []
    for lib in (torch, ember):
        w = lib.tensor(W, requires_grad=True)
        _loss(lib, w, [1, 2]).backward()
        opt = getattr(lib.optim, name)([w], lr=0.01, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError) as err:
                opt.step()
        messages.append(str(err.value))
        np.testing.assert_array_equal(w.detach().numpy(), W)  # refused before any change
    assert messages[1] == messages[0]


def test_lbfgs_reads_a_sparse_gradient_densely():
    results = []
    for lib in (torch, ember):
        w = lib.tensor(W.astype(np.float64), requires_grad=True)
        m = lib.tensor(M.astype(np.float64))
        opt = lib.optim.LBFGS([w], lr=0.5, max_iter=5)
        F = TF if lib is torch else EF

        def closure():
            opt.zero_grad()
            loss = ((F.embedding(lib.tensor([1, 3, 1]), w, sparse=True) @ m - 1) ** 2).sum()
            loss.backward()
            assert w.grad.is_sparse
            return loss
        opt.step(closure)
        results.append(w.detach().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-7)


@pytest.mark.parametrize("clip", ["norm", "value"])
def test_clipping_a_sparse_gradient_is_refused_as_torch(clip):
    for lib in (torch, ember):
        w = lib.tensor(W, requires_grad=True)
        _loss(lib, w, [1, 2]).backward()
        with pytest.raises(NotImplementedError, match="SparseCPU"):
            if clip == "norm":
                lib.nn.utils.clip_grad_norm_([w], 1.0)
            else:
                lib.nn.utils.clip_grad_value_([w], 0.1)


def test_module_zero_grad_and_training_loop_with_sparse_adam():
    """Embedding(sparse=True) in a model, SparseAdam, module zero_grad(set_to_none=False) between steps."""
    results = []
    for lib in (torch, ember):
        emb = lib.nn.Embedding(8, 3, sparse=True)
        with (torch.no_grad() if lib is torch else ember.no_grad()):
            emb.weight.copy_(lib.tensor(W))
        opt = lib.optim.SparseAdam(list(emb.parameters()), lr=0.1)
        for idx in LOOKUPS:
            emb.zero_grad(set_to_none=False)
            ((emb(lib.tensor(idx)) @ lib.tensor(M)) ** 2).sum().backward()
            opt.step()
        assert emb.weight.grad.is_sparse
        results.append(emb.weight.detach().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5, atol=1e-6)


def test_grad_scaler_unscales_the_stored_values():
    """GradScaler.unscale_ divides a sparse gradient's values (torch's sparse branch); the step then matches."""
    results = []
    for lib in (torch, ember):
        w = lib.tensor(W, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        scaler = lib.amp.GradScaler("cpu", init_scale=1024.0)
        scaler.scale(_loss(lib, w, [1, 4, 1])).backward()
        scaler.unscale_(opt)
        assert w.grad.is_sparse
        results.append(w.grad.to_dense().numpy())
        scaler.step(opt)
        scaler.update()
        results.append(w.detach().numpy())
    np.testing.assert_allclose(results[2], results[0], rtol=1e-6)
    np.testing.assert_allclose(results[3], results[1], rtol=1e-6)
