"""ember.nn.init: fans and gains equal torch's; draws have the right bounds, moments and structure."""
import math

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from ember.nn import init


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5), (6, 2, 3, 3), (2, 3, 1, 2, 2)])
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(ember.zeros(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))


@pytest.mark.parametrize("name, param", [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                                         ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                         ("selu", None)])
def test_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_errors_match_torch():
    for lib, mod in ((init, ember), (torch.nn.init, torch)):
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            lib.xavier_uniform_(mod.zeros(3))
        with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
            lib.calculate_gain("foo")
        with pytest.raises(ValueError, match="Mode fan_x not supported"):
            lib.kaiming_normal_(mod.zeros(2, 2), mode="fan_x")
        with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
            lib.orthogonal_(mod.zeros(3))


def _big(*shape):
    return nn.Parameter(ember.zeros(*shape))


def test_uniform_normal_constant_are_in_place_and_no_grad():
    p = _big(200, 300)
    assert init.uniform_(p, -2, 3) is p and p.requires_grad and p.grad_fn is None
    v = p.detach().numpy()
    assert v.min() >= -2 and v.max() < 3 and abs(v.mean() - 0.5) < 0.02 and abs(v.std() - 5 / math.sqrt(12)) < 0.02
    init.normal_(p, 1.0, 0.5)
    v = p.detach().numpy()
    assert abs(v.mean() - 1.0) < 0.01 and abs(v.std() - 0.5) < 0.01
    assert init.constant_(p, 0.25).detach().numpy().tolist()[0][:2] == [0.25, 0.25]
    assert init.zeros_(p).detach().numpy().sum() == 0 and init.ones_(p).detach().numpy().mean() == 1


def test_generator_makes_draws_reproducible():
    a, b = _big(5, 5), _big(5, 5)
    init.normal_(a, generator=ember.Generator().manual_seed(3))
    init.normal_(b, generator=ember.Generator().manual_seed(3))
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
def test_xavier_and_kaiming_std(shape):
    p = _big(*shape)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(p)
    cases = [
        (lambda: init.xavier_uniform_(p, gain=2.0), 2.0 * math.sqrt(2 / (fan_in + fan_out)), True),
        (lambda: init.xavier_normal_(p), math.sqrt(2 / (fan_in + fan_out)), False),
        (lambda: init.kaiming_uniform_(p, a=math.sqrt(5)), math.sqrt(2 / 6) / math.sqrt(fan_in), True),
        (lambda: init.kaiming_normal_(p, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / fan_out), False),
    ]
    for fill, std, uniform in cases:
        v = fill().detach().numpy()
        assert abs(v.std() / std - 1) < 0.03, (std, v.std())
        if uniform:
            assert np.abs(v).max() <= math.sqrt(3) * std * (1 + 1e-6)


def test_trunc_normal_bounds_and_moments():
    p = _big(400, 250)
    v = init.trunc_normal_(p, mean=0.5, std=1.0, a=-0.5, b=2.0).detach().numpy()
    assert v.min() >= -0.5 and v.max() <= 2.0
    ref = torch.nn.init.trunc_normal_(torch.zeros(400, 250), mean=0.5, std=1.0, a=-0.5, b=2.0).numpy()
    assert abs(v.mean() - ref.mean()) < 0.01 and abs(v.std() - ref.std()) < 0.01


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3)])
def test_orthogonal(shape):
    p = init.orthogonal_(_big(*shape), gain=1.5).detach().numpy().reshape(shape[0], -1).astype(np.float64)
    small = p @ p.T if shape[0] <= p.shape[1] else p.T @ p
    assert np.allclose(small, 2.25 * np.eye(small.shape[0]), atol=1e-5)


def test_eye_and_dirac_match_torch():
    assert np.array_equal(init.eye_(_big(3, 5)).detach().numpy(), torch.nn.init.eye_(torch.zeros(3, 5)).numpy())
    for shape, groups in [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((2, 2, 1, 3, 3), 1)]:
        assert np.array_equal(init.dirac_(_big(*shape), groups).detach().numpy(),
                              torch.nn.init.dirac_(torch.zeros(*shape), groups).numpy())


def test_kaiming_on_empty_tensor_warns():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(ember.zeros(0, 3))
