"""nn.utils: gradient clipping and parameter vectors against torch 2.13.0."""
import math

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from conftest import assert_close


def _params(rng, with_none=True):
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,), (2, 2, 2)]]
    grads = [rng.standard_normal(a.shape).astype(np.float32) * 3 for a in arrays]
    ep, tp = [], []
    for a, g in zip(arrays, grads):
        e, t = nn.Parameter(ember.tensor(a)), torch.nn.Parameter(torch.tensor(a))
        e.grad, t.grad = ember.tensor(g.copy()), torch.tensor(g.copy())
        ep.append(e)
        tp.append(t)
    if with_none:
        ep.append(nn.Parameter(ember.zeros(2)))
        tp.append(torch.nn.Parameter(torch.zeros(2)))
    return ep, tp


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm(rng, norm_type, max_norm):
    ep, tp = _params(rng)
    en = nn.utils.clip_grad_norm_(ep, max_norm, norm_type)
    tn = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert_close(en, tn, atol=1e-4, rtol=1e-5, what="total norm")
    for e, t in zip(ep, tp):
        assert_close(e.grad, t.grad, what="clipped grad")


def test_clip_grad_norm_single_tensor_and_nonfinite(rng):
    ep, tp = _params(rng, with_none=False)
    assert_close(nn.utils.clip_grad_norm_(ep[0], 1.0), torch.nn.utils.clip_grad_norm_(tp[0], 1.0))
    assert_close(ep[0].grad, tp[0].grad)
    ep[1].grad.numpy()[0] = np.inf
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is "
                                           "non-finite"):
        nn.utils.clip_grad_norm_(ep, 1.0, error_if_nonfinite=True)
    assert float(nn.utils.clip_grad_norm_([nn.Parameter(ember.zeros(1))], 1.0)) == 0.0


def test_clip_grad_value(rng):
    ep, tp = _params(rng)
    nn.utils.clip_grad_value_(ep, 0.7)
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    for e, t in zip(ep, tp):
        assert_close(e.grad, t.grad)


def test_parameters_vector_round_trip(rng):
    m, t = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    m.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()})
    v = nn.utils.parameters_to_vector(m.parameters())
    assert_close(v, torch.nn.utils.parameters_to_vector(t.parameters()))
    (v * ember.arange(8.0)).sum().backward()  # differentiable, as torch's
    assert_close(m.bias.grad, torch.arange(6.0, 8.0))
    new = ember.tensor(rng.standard_normal(8).astype(np.float32))
    w = m.weight
    nn.utils.vector_to_parameters(new, m.parameters())
    assert m.weight is w and m.weight.tolist() == new.numpy()[:6].reshape(2, 3).tolist()
    with pytest.raises(TypeError, match="expected torch.Tensor, but got"):
        nn.utils.vector_to_parameters([1.0], m.parameters())
