"""Losses (functional and modules) against torch 2.13.0: values, input gradients, weights, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from torch_compare import compare, f32

REDUCTIONS = ["none", "mean", "sum"]


def _int(a):
    return np.asarray(a, dtype=np.int64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, kw", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
                                      ("smooth_l1_loss", {"beta": 0.0}), ("huber_loss", {"delta": 0.7})])
def test_regression_losses(rng, name, kw, reduction):
    x, y = f32(rng, 4, 5), f32(rng, 4, 5)
    compare(lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kw),
            lambda a, b: getattr(TF, name)(a, b, reduction=reduction, **kw), x, y)


@pytest.mark.parametrize("cls, kw", [("MSELoss", {}), ("L1Loss", {}), ("SmoothL1Loss", {"beta": 2.0}),
                                     ("HuberLoss", {"delta": 0.3}), ("SoftMarginLoss", {})])
def test_regression_modules(rng, cls, kw):
    x = f32(rng, 3, 4)
    y = np.sign(f32(rng, 3, 4)) if cls == "SoftMarginLoss" else f32(rng, 3, 4)
    compare(getattr(nn, cls)(**kw), getattr(torch.nn, cls)(**kw), x, y,
            grad=[0] if cls == "SoftMarginLoss" else None)  # torch has no target gradient there


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("shape", [(6, 5), (5,), (3, 4, 2, 3)])
def test_cross_entropy_class_indices(rng, reduction, use_weight, shape):
    x = f32(rng, *shape)
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else shape[:1] + shape[2:]
    t = _int(rng.integers(0, c, tshape))
    if t.ndim:
        t.reshape(-1)[0] = -100  # an ignored entry
    w = rng.uniform(0.5, 2, c).astype(np.float32) if use_weight else None
    kw = dict(reduction=reduction)
    compare(lambda a: F.cross_entropy(a, ember.tensor(t), None if w is None else ember.tensor(w), **kw),
            lambda a: TF.cross_entropy(a, torch.tensor(t), None if w is None else torch.tensor(w), **kw), x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_cross_entropy_label_smoothing_and_ignore_index(rng, reduction, use_weight):
    x = f32(rng, 7, 4)
    t = _int([0, 3, 2, 1, 2, 2, 0])
    w = rng.uniform(0.5, 2, 4).astype(np.float32) if use_weight else None
    kw = dict(reduction=reduction, ignore_index=2, label_smoothing=0.2)
    compare(lambda a: F.cross_entropy(a, ember.tensor(t), None if w is None else ember.tensor(w), **kw),
            lambda a: TF.cross_entropy(a, torch.tensor(t), None if w is None else torch.tensor(w), **kw), x)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities(rng, smoothing, reduction):
    x = f32(rng, 3, 5, 2)
    p = np.exp(f32(rng, 3, 5, 2))
    p /= p.sum(1, keepdims=True)
    w = rng.uniform(0.5, 2, 5).astype(np.float32)
    compare(lambda a, b: F.cross_entropy(a, b, ember.tensor(w), reduction=reduction, label_smoothing=smoothing),
            lambda a, b: TF.cross_entropy(a, b, torch.tensor(w), reduction=reduction, label_smoothing=smoothing),
            x, p)


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [3.0, 1e4, -1e4]], dtype=np.float32)
    t = _int([0, 0, 2])
    e, _ = compare(lambda a: F.cross_entropy(a, ember.tensor(t), reduction="none"),
                   lambda a: TF.cross_entropy(a, torch.tensor(t), reduction="none"), x)
    assert np.isfinite(e.detach().numpy()).all()
    compare(nn.CrossEntropyLoss(label_smoothing=0.1), torch.nn.CrossEntropyLoss(label_smoothing=0.1), x,
            _int([1, 1, 0]))


def test_cross_entropy_module_and_hand_value():
    loss = nn.CrossEntropyLoss()
    assert abs(loss(ember.zeros(2, 4), ember.tensor([0, 3])).item() - np.log(4)) < 1e-6
    assert repr(loss) == "CrossEntropyLoss()"
    w = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    compare(nn.CrossEntropyLoss(weight=ember.tensor(w), ignore_index=1),
            torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=1),
            f32(np.random.default_rng(3), 4, 3), _int([0, 1, 2, 2]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(rng, reduction):
    x = np.log(np.abs(f32(rng, 5, 4)) + 0.1).astype(np.float32)
    t = _int([0, 3, -1, 2, 3])
    w = rng.uniform(0.5, 2, 4).astype(np.float32)
    compare(lambda a: F.nll_loss(a, ember.tensor(t), ember.tensor(w), ignore_index=-1, reduction=reduction),
            lambda a: TF.nll_loss(a, torch.tensor(t), torch.tensor(w), ignore_index=-1, reduction=reduction), x)
    compare(nn.NLLLoss(reduction=reduction), torch.nn.NLLLoss(reduction=reduction), x, _int([0, 1, 2, 3, 3]))


def test_nll_all_ignored_is_nan_like_torch():
    x = np.zeros((2, 3), dtype=np.float32)
    t = _int([-100, -100])
    compare(lambda a: F.nll_loss(a, ember.tensor(t)), lambda a: TF.nll_loss(a, torch.tensor(t)), x)


def test_cross_entropy_double_backward_and_gradcheck(rng):
    t = ember.tensor(_int([1, 0, 2]))
    x = ember.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = ember.tensor(rng.uniform(0.5, 2, 4))
    fn = lambda a: F.cross_entropy(a, t, w, label_smoothing=0.1)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))
    assert gradgradcheck(lambda a, b: F.binary_cross_entropy(a, b), (
        ember.tensor(rng.uniform(0.1, 0.9, (3, 2)), requires_grad=True),
        ember.tensor(rng.uniform(0.1, 0.9, (3, 2)), requires_grad=True)))


def test_classification_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(IndexError, match="Target 4 is out of bounds."):
        F.cross_entropy(x, ember.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        F.nll_loss(x, ember.tensor([0, 1]))
    with pytest.raises(ValueError, match="Using a target size"):
        F.binary_cross_entropy(ember.full((3,), 0.5), ember.zeros(2))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(ember.tensor([1.5]), ember.tensor([1.0]))
    with pytest.raises(ValueError, match="Target size"):
        F.binary_cross_entropy_with_logits(x, ember.zeros(3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce(rng, reduction):
    x = rng.uniform(0.01, 0.99, (4, 3)).astype(np.float32)
    x[0, 0], x[1, 1] = 0.0, 1.0  # logs clamped at -100
    y = rng.uniform(0, 1, (4, 3)).astype(np.float32)
    w = rng.uniform(0.5, 2, 3).astype(np.float32)
    compare(lambda a, b: F.binary_cross_entropy(a, b, ember.tensor(w), reduction=reduction),
            lambda a, b: TF.binary_cross_entropy(a, b, torch.tensor(w), reduction=reduction), x, y,
            atol=1e-3, rtol=1e-4)
    compare(nn.BCELoss(), torch.nn.BCELoss(), x[1:], y[1:])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits(rng, reduction):
    x = f32(rng, 4, 3) * 3
    x[0] = [1e4, -1e4, 50.0]
    y = rng.uniform(0, 1, (4, 3)).astype(np.float32)
    w = rng.uniform(0.5, 2, 3).astype(np.float32)
    pw = rng.uniform(0.5, 3, 3).astype(np.float32)
    compare(lambda a, b: F.binary_cross_entropy_with_logits(a, b, ember.tensor(w), reduction=reduction,
                                                            pos_weight=ember.tensor(pw)),
            lambda a, b: TF.binary_cross_entropy_with_logits(a, b, torch.tensor(w), reduction=reduction,
                                                             pos_weight=torch.tensor(pw)), x, y, atol=1e-4)
    compare(nn.BCEWithLogitsLoss(pos_weight=ember.tensor(pw)),
            torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw)), x, y, atol=1e-4)


@pytest.mark.parametrize("reduction", ["none", "batchmean", "sum", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(rng, reduction, log_target):
    x = np.log(rng.dirichlet(np.ones(4), 3)).astype(np.float32)
    t = rng.dirichlet(np.ones(4), 3).astype(np.float32)
    t[0, 0] = 0.0
    if log_target:
        t = np.log(t + 0.01).astype(np.float32)
    # at target 0 torch's target gradient is nan (d/dt t log t = -inf): compare the input gradient only
    with pytest.warns(UserWarning) if reduction == "mean" else _nothing():
        compare(nn.KLDivLoss(reduction=reduction, log_target=log_target),
                torch.nn.KLDivLoss(reduction=reduction, log_target=log_target), x, t,
                grad=None if log_target else [0])
        compare(nn.KLDivLoss(reduction=reduction, log_target=log_target),
                torch.nn.KLDivLoss(reduction=reduction, log_target=log_target), x[1:], t[1:])


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ranking_and_embedding_losses(rng, reduction):
    a, b = f32(rng, 5, 3), f32(rng, 5, 3)
    y = np.array([1, -1, 1, -1, -1], dtype=np.float32)
    compare(nn.CosineEmbeddingLoss(margin=0.1, reduction=reduction),
            torch.nn.CosineEmbeddingLoss(margin=0.1, reduction=reduction), a, b, y, grad=[0, 1])
    compare(nn.MarginRankingLoss(margin=0.2, reduction=reduction),
            torch.nn.MarginRankingLoss(margin=0.2, reduction=reduction), a[:, 0], b[:, 0], y, grad=[0, 1])
    compare(nn.HingeEmbeddingLoss(margin=0.5, reduction=reduction),
            torch.nn.HingeEmbeddingLoss(margin=0.5, reduction=reduction), a[:, 0], y, grad=[0])


@pytest.mark.parametrize("kw", [{}, {"p": 1.0, "margin": 0.5}, {"swap": True}])
def test_triplet_margin_loss(rng, kw):
    a, p, n = f32(rng, 6, 4), f32(rng, 6, 4), f32(rng, 6, 4)
    compare(nn.TripletMarginLoss(**kw), torch.nn.TripletMarginLoss(**kw), a, p, n, atol=1e-5)
    compare(lambda *t: F.triplet_margin_loss(*t, reduction="none", **kw),
            lambda *t: TF.triplet_margin_loss(*t, reduction="none", **kw), a, p, n)


def test_mse_broadcast_warning_and_bad_reduction():
    with pytest.warns(UserWarning, match="Using a target size"):
        F.mse_loss(ember.zeros(3, 1), ember.zeros(3))
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        F.l1_loss(ember.zeros(2), ember.zeros(2), reduction="avg")


def test_loss_reprs_match_torch():
    for name, kw in [("CrossEntropyLoss", {}), ("MSELoss", {}), ("HuberLoss", {"delta": 2.0}),
                     ("BCEWithLogitsLoss", {}), ("TripletMarginLoss", {}), ("NLLLoss", {})]:
        assert repr(getattr(nn, name)(**kw)) == repr(getattr(torch.nn, name)(**kw))
    w = ember.ones(3)
    assert list(nn.CrossEntropyLoss(weight=w).state_dict()) == ["weight"]


@pytest.mark.parametrize("dtype", ["int32", "int16", "int8", "bool", "uint8", "int64"])
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_class_target_dtypes_as_torch(dtype, fn):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    target = np.array([0, 1, 1])
    results = []
    for lib, functional in ((torch, TF), (ember, F)):
        try:
            results.append(getattr(functional, fn)(lib.tensor(x), lib.tensor(target).to(getattr(lib, dtype))).item())
        except RuntimeError:
            results.append(RuntimeError)
    assert results[0] == pytest.approx(results[1]) if results[0] is not RuntimeError else results[1] is RuntimeError
