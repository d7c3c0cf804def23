"""The Optimizer contract beyond the update rules, each call run under torch and ember: tensor learning
rates, named parameters, duplicate parameters, non-leaf parameters, differentiable steps."""
import warnings

import numpy as np
import pytest
import torch

import ember

LIBS = (torch, ember)
W = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)


def _param(lib, value=W):
    p = lib.nn.Parameter(lib.tensor(value))
    p.grad = lib.ones(*value.shape)
    return p


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Rprop", "ASGD", "Adafactor"])
def test_tensor_learning_rate_steps_like_a_float(name):
    results = []
    for lib in LIBS:
        p = _param(lib)
        getattr(lib.optim, name)([p], lr=lib.tensor(0.1)).step()
        results.append(p.detach().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6, atol=1e-7)
    assert not np.allclose(results[1], W)


def test_named_parameters_are_recorded_in_param_groups_and_state_dict():
    dicts = []
    for lib in LIBS:
        model = lib.nn.Linear(3, 2)
        opt = lib.optim.Adam(model.named_parameters(), lr=0.1)
        opt.add_param_group({"params": [("extra", lib.nn.Parameter(lib.zeros(1)))]})
        dicts.append(opt.state_dict()["param_groups"])
    assert [g["param_names"] for g in dicts[1]] == [g["param_names"] for g in dicts[0]]
    assert [g["params"] for g in dicts[1]] == [g["params"] for g in dicts[0]]


def test_duplicate_parameters_warn_and_named_mixing_raises():
    for lib in LIBS:
        p = _param(lib)
        with pytest.warns(UserWarning, match="duplicate parameters"):
            lib.optim.SGD([p, p], lr=0.1)
        with pytest.raises(ValueError, match="with/without names"):
            lib.optim.SGD([("w", p), _param(lib)], lr=0.1)
        with pytest.raises(ValueError, match="more than one parameter group"):
            lib.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


@pytest.mark.parametrize("make,error", [
    (lambda lib: {"betas": (1.0, 0.9)}, ValueError), (lambda lib: {"betas": (0.9, lib.tensor(0.99))}, ValueError),
    (lambda lib: {"weight_decay": -1.0}, ValueError), (lambda lib: {"eps": -1.0}, ValueError),
    (lambda lib: {"lr": -0.1}, ValueError), (lambda lib: {"lr": lib.tensor([0.1, 0.2])}, ValueError),
    (lambda lib: {"fused": True, "differentiable": True}, RuntimeError),
])
def test_adam_checks_its_hyper_parameters_as_torch(make, error):
    for lib in LIBS:
        with pytest.raises(error):
            lib.optim.Adam([_param(lib)], **make(lib))


def test_non_leaf_parameters_need_differentiable():
    for lib in LIBS:
        leaf = lib.tensor(W, requires_grad=True)
        with pytest.raises(ValueError, match="non-leaf"):
            lib.optim.SGD([leaf * 2], lr=0.1)
        lib.optim.SGD([leaf * 2], lr=0.1, differentiable=True)


@pytest.mark.parametrize("name,kwargs", [("SGD", {"momentum": 0.9, "weight_decay": 0.1}),
                                         ("Adam", {"weight_decay": 0.1}), ("RMSprop", {"weight_decay": 0.1})])
def test_differentiable_step_gives_the_gradient_through_the_update(name, kwargs):
    """d(updated weights)/d(initial weights) and d/d(gradient), through two steps, as torch's."""
    grads = []
    for lib in LIBS:
        w0 = lib.tensor(W, requires_grad=True)
        g = lib.tensor(W[::-1].copy() * 0.5, requires_grad=True)
        p = w0.clone()
        opt = getattr(lib.optim, name)([p], lr=0.1, differentiable=True, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note on .grad of a non-leaf tensor
            p.grad = g * 1.0
            opt.step()
        (p * lib.tensor(W)).sum().backward()
        grads.append([None if t.grad is None else t.grad.numpy().copy() for t in (w0, g)])
    for e, t in zip(grads[1], grads[0]):
        assert (e is None) == (t is None)  # SGD starts its momentum from a detached copy, as torch
        if t is not None:
            np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-6)
