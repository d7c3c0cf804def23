"""ctc_loss and CTCLoss against torch 2.13.0 (values and torch's gradient) and a hand-derived case."""
import math

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
from torch_compare import compare

TF = torch.nn.functional


def _log_probs(rng, *shape, dtype=np.float64):
    return torch.tensor(rng.standard_normal(shape)).log_softmax(-1).numpy().astype(dtype)


TARGETS = np.array([[1, 2, 2, 3, 0], [4, 4, 4, 0, 0], [5, 1, 0, 0, 0], [0, 0, 0, 0, 0]])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ctc_loss_vs_torch(rng, reduction, zero_infinity, dtype):
    lp = _log_probs(rng, 12, 4, 6, dtype=dtype)
    kw = dict(reduction=reduction, zero_infinity=zero_infinity)
    il, tl = [12, 10, 7, 5], [4, 3, 2, 0]  # repeated labels, an empty target, shorter inputs
    compare(lambda x, t: F.ctc_loss(x, t, il, tl, **kw), lambda x, t: TF.ctc_loss(x, t, il, tl, **kw),
            lp, TARGETS, atol=1e-5 if dtype == np.float32 else 1e-10)


def test_ctc_loss_concatenated_targets_tensor_lengths_and_blank_vs_torch(rng):
    lp, tl = _log_probs(rng, 9, 3, 5), np.array([3, 1, 2])
    tg = rng.integers(0, 4, tl.sum()).astype(np.int32)  # blank=4: labels 0..3
    compare(lambda x, t, i, n: F.ctc_loss(x, t, i, n, blank=4), lambda x, t, i, n: TF.ctc_loss(x, t, i, n, blank=4),
            lp, tg, np.array([9, 8, 9]), tl)


def test_ctc_loss_unbatched_vs_torch(rng):
    lp = _log_probs(rng, 7, 5)
    compare(lambda x, t: F.ctc_loss(x, t, (7,), (3,), reduction="sum"),
            lambda x, t: TF.ctc_loss(x, t, (7,), (3,), reduction="sum"),
            lp, np.array([1, 2, 2]))


def test_ctc_loss_impossible_alignments_as_torch(rng):
    """Too few frames for a target: inf loss and NaN gradient, or zeros with zero_infinity."""
    lp, tg = _log_probs(rng, 6, 3, 5), np.array([[1, 1, 1, 1], [2, 3, 0, 0], [1, 2, 3, 4]])
    for zi in (False, True):
        for red in ("none", "mean"):
            compare(lambda x, t: F.ctc_loss(x, t, [6, 1, 6], [4, 2, 4], reduction=red, zero_infinity=zi),
                    lambda x, t: TF.ctc_loss(x, t, [6, 1, 6], [4, 2, 4], reduction=red, zero_infinity=zi), lp, tg)


def test_ctc_loss_hand_derived():
    """T=2, target [1], C=2: alignments (1,b), (b,1), (1,1) give p1a*pb2 + pba*p12 + p1a*p12."""
    p = np.array([[0.3, 0.7], [0.6, 0.4]])  # rows: time; columns: blank, label 1
    lp = ember.tensor(np.log(p)[:, None, :])
    loss = F.ctc_loss(lp, ember.tensor([[1]]), [2], [1], reduction="sum")
    expected = -math.log(0.7 * 0.6 + 0.3 * 0.4 + 0.7 * 0.4)
    assert abs(loss.item() - expected) < 1e-12


def test_ctc_loss_gradient_is_not_differentiable_again_as_torch(rng):
    lp = ember.tensor(_log_probs(rng, 5, 1, 4), requires_grad=True)
    (g,) = ember.autograd.grad(F.ctc_loss(lp, ember.tensor([[1, 2]]), [5], [2]), [lp], create_graph=True)
    with pytest.raises(RuntimeError, match="ctc_loss"):
        ember.autograd.grad(g.sum(), [lp])


def test_ctc_module_vs_torch(rng):
    lp, tg = _log_probs(rng, 10, 2, 6), rng.integers(1, 6, (2, 4))
    for kw in (dict(), dict(reduction="sum", zero_infinity=True)):
        compare(lambda x, t: nn.CTCLoss(**kw)(x, t, (10, 9), (4, 3)),
                lambda x, t: torch.nn.CTCLoss(**kw)(x, t, (10, 9), (4, 3)), lp, tg)


@pytest.mark.parametrize("args", [
    dict(targets=[[1, 2]], il=[5], tl=[3]),  # targets shorter than their length
    dict(targets=[[1, 2]], il=[6], tl=[2]),  # input length beyond T
    dict(targets=[[1, 2]], il=[5, 5], tl=[2]),  # lengths of another batch size
])
def test_ctc_loss_errors_as_torch(rng, args):
    lp = _log_probs(rng, 5, 1, 4)
    for lib in (torch, ember):
        with pytest.raises(RuntimeError):
            lib.nn.functional.ctc_loss(lib.tensor(lp), lib.tensor(args["targets"]), args["il"], args["tl"])
    with pytest.raises(RuntimeError):
        TF.ctc_loss(torch.tensor(lp), torch.tensor([[1]]), [5], [1], blank=4)
    with pytest.raises(RuntimeError, match="blank"):
        F.ctc_loss(ember.tensor(lp), ember.tensor([[1]]), [5], [1], blank=4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.bool_])
def test_ctc_loss_targets_of_any_dtype_cast_to_int64_as_torch(rng, dtype):
    """torch casts targets to int64 (truncating floats): speech scripts pass ``torch.Tensor(labels)``."""
    lp = _log_probs(rng, 8, 2, 6, dtype=np.float32)
    tg = np.array([[1.7, 2.2, 3.0], [4.9, 1.0, 0.0]]).astype(dtype)
    compare(lambda x, t: F.ctc_loss(x, t, [8, 7], [3, 2]), lambda x, t: TF.ctc_loss(x, t, [8, 7], [3, 2]), lp, tg,
            atol=1e-5)
