"""AdaptiveLogSoftmaxWithLoss against torch 2.13.0: output, loss, gradients, log_prob and predict."""
import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from conftest import assert_close


def _pair(rng, **kw):
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 20, **kw).double()
    em = nn.AdaptiveLogSoftmaxWithLoss(8, 20, **kw).double()
    assert list(em.state_dict()) == list(tm.state_dict())
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return em, tm


@pytest.mark.parametrize("kw", [dict(cutoffs=[5, 10]), dict(cutoffs=[3], div_value=2.0, head_bias=True),
                                dict(cutoffs=[4, 8, 16])])
@pytest.mark.parametrize("targets", [[0, 7, 12, 19, 4, 4], [1, 2, 3, 0, 0, 1], [19, 11, 12, 13, 14, 18]])
def test_adaptive_log_softmax_vs_torch(rng, kw, targets):
    em, tm = _pair(rng, **kw)
    x = rng.standard_normal((len(targets), 8))
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eo, to = em(ex, ember.tensor(targets)), tm(tx, torch.tensor(targets))
    assert eo._fields == ("output", "loss")
    assert_close(eo.output, to.output, what="output")
    assert_close(eo.loss, to.loss, what="loss")
    gy = rng.standard_normal(len(targets))
    (eo.loss + (eo.output * ember.tensor(gy)).sum()).backward()
    (to.loss + (to.output * torch.tensor(gy)).sum()).backward()
    assert_close(ex.grad, tx.grad, what="input gradient")
    for (name, ep), tp in zip(em.named_parameters(), tm.parameters()):
        assert_close(ep.grad, tp.grad, what=f"gradient of {name}")
    assert_close(em.log_prob(ember.tensor(x)), tm.log_prob(torch.tensor(x)), what="log_prob")
    assert np.array_equal(em.predict(ember.tensor(x)).numpy(), tm.predict(torch.tensor(x)).numpy())


def test_adaptive_log_softmax_unbatched_vs_torch(rng):
    em, tm = _pair(rng, cutoffs=[5, 10])
    x = rng.standard_normal(8)
    eo, to = em(ember.tensor(x), ember.tensor(13)), tm(torch.tensor(x), torch.tensor(13))
    assert eo.output.shape == () and to.output.shape == ()
    assert_close(eo.output, to.output, what="output")
    for lib, m in ((torch, tm), (ember, em)):  # log_prob takes batches only
        with pytest.raises(IndexError):
            m.log_prob(lib.tensor(x))


def test_adaptive_log_softmax_predict_picks_tail_classes_as_torch(rng):
    em, tm = _pair(rng, cutoffs=[2, 10])
    with torch.no_grad():
        tm.head.weight[2:] *= 20  # the cluster entries dominate: predict must look into the tails
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = rng.standard_normal((10, 8))
    assert np.array_equal(em.predict(ember.tensor(x)).numpy(), tm.predict(torch.tensor(x)).numpy())


@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs=[]),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs=[10, 5]),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs=[5, 20]),
])
def test_adaptive_log_softmax_bad_cutoffs_raise_as_torch(make):
    for lib in (torch, ember):
        with pytest.raises(ValueError):
            make(lib)


@pytest.mark.parametrize("x, t", [((4, 8), [0, 1, 2, 20]), ((4, 8), [0, 1, 2]), ((4, 8), [[0]]), ((8,), [1, 2])])
def test_adaptive_log_softmax_bad_input_raises_as_torch(x, t):
    for lib in (torch, ember):
        m = lib.nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs=[5])
        with pytest.raises(RuntimeError):
            m(lib.ones(*x), lib.tensor(t))
