"""The fused cross_entropy path ((N, C) logits, class indices, no weight or smoothing) against torch:
values, gradients, and second derivatives, for every reduction and with ignored targets."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ember


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("spread", [4, 40])  # logits within +-60 (exp without row maxima) and beyond
def test_cross_entropy_matches_torch(dt, reduction, ignore_index, spread):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5)).astype(dt) * spread
    t = rng.integers(0, 5, 7)
    t[1] = 2
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    tl = F.cross_entropy(tx, torch.tensor(t), reduction=reduction, ignore_index=ignore_index)
    el = ember.nn.functional.cross_entropy(ex, ember.tensor(t), reduction=reduction, ignore_index=ignore_index)
    cot = np.asarray(rng.standard_normal(tuple(tl.shape))).astype(dt)
    tg, = torch.autograd.grad(tl, tx, torch.tensor(cot), create_graph=True)
    eg, = ember.autograd.grad(el, ex, ember.tensor(cot), create_graph=True)
    v = rng.standard_normal((7, 5)).astype(dt)
    tgg, = torch.autograd.grad(tg, tx, torch.tensor(v))
    egg, = ember.autograd.grad(eg, ex, ember.tensor(v))
    tg1, = torch.autograd.grad(F.cross_entropy(tx, torch.tensor(t), reduction=reduction, ignore_index=ignore_index),
                               tx, torch.tensor(cot))
    eg1, = ember.autograd.grad(ember.nn.functional.cross_entropy(ex, ember.tensor(t), reduction=reduction,
                                                                 ignore_index=ignore_index), ex, ember.tensor(cot))
    tol = dict(rtol=1e-5, atol=1e-6) if dt == "float32" else dict(rtol=1e-12, atol=1e-12)
    for mine, theirs in ((el, tl), (eg, tg), (egg, tgg), (eg1, tg1)):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), **tol)
    assert el.dtype == getattr(ember, dt)


def test_all_targets_ignored_is_nan_with_zero_gradient():
    x = torch.randn(3, 4, requires_grad=True)
    ex = ember.tensor(x.detach().numpy(), requires_grad=True)
    t = [-100, -100, -100]
    tl, el = F.cross_entropy(x, torch.tensor(t)), ember.nn.functional.cross_entropy(ex, ember.tensor(t))
    tl.backward()
    el.backward()
    assert np.isnan(float(el)) and np.isnan(float(tl))
    np.testing.assert_array_equal(ex.grad.numpy(), x.grad.numpy())
