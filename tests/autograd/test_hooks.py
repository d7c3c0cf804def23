"""Tensor and node hooks, retain_grad, and the non-leaf .grad warning, against torch."""
import warnings

import numpy as np
import pytest
import torch

import ember
from conftest import assert_close


def test_retain_grad_on_non_leaf():
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 3
        h.retain_grad()
        (h * h).sum().backward()
        assert h.retains_grad
        assert h.grad.tolist() == [6.0, 12.0]


def test_reading_grad_of_non_leaf_warns():
    x = ember.tensor([1.0], requires_grad=True)
    h = x * 2
    h.sum().backward()
    with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed"):
        assert h.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.grad is not None  # no warning for a leaf


def test_hook_replaces_gradient_on_leaf():
    res = {}
    for lib in (ember, torch):
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        seen = []
        x.register_hook(lambda g: seen.append(g.tolist()) or g * 10)
        (x * x).sum().backward()
        res[lib] = (seen, x.grad.tolist())
    assert res[ember] == res[torch] == ([[2.0, -4.0]], [20.0, -40.0])


def test_hook_on_non_leaf_changes_upstream_gradient():
    res = {}
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * x
        h.register_hook(lambda g: g + 1)
        (h * 3).sum().backward()
        res[lib] = x.grad.tolist()
    assert res[ember] == res[torch] == [8.0, 16.0]


def test_hook_returning_none_observes_only():
    x = ember.tensor(2.0, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.item()))
    (x * 5).backward()
    assert seen == [5.0] and x.grad.item() == 5.0


def test_handle_remove():
    x = ember.tensor(2.0, requires_grad=True)
    h = x * 1.0
    handle = h.register_hook(lambda g: g * 100)
    leaf_handle = x.register_hook(lambda g: g * 7)
    handle.remove()
    leaf_handle.remove()
    (h * 3).backward()
    assert x.grad.item() == 3.0


def test_hooks_run_in_registration_order():
    x = ember.tensor(1.0, requires_grad=True)
    x.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 10)
    (x * 2).backward()
    tx = torch.tensor(1.0, requires_grad=True)
    tx.register_hook(lambda g: g + 1)
    tx.register_hook(lambda g: g * 10)
    (tx * 2).backward()
    assert x.grad.item() == tx.grad.item() == 30.0


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.ones(2).register_hook(lambda g: g)


def test_post_accumulate_grad_hook():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (x * 4).sum().backward()
    assert seen == [[4.0, 4.0]]


def test_node_hooks():
    rng = np.random.default_rng(0)
    arr = rng.standard_normal(3).astype(np.float32)
    res = {}
    for lib in (ember, torch):
        x = lib.tensor(arr, requires_grad=True)
        y = lib.exp(x)
        got = []
        y.grad_fn.register_prehook(lambda gos: (gos[0] * 2,))
        y.grad_fn.register_hook(lambda gis, gos: got.append((gis[0].tolist(), gos[0].tolist())))
        y.sum().backward()
        res[lib] = (x.grad, got)
    assert_close(res[ember][0], res[torch][0])
    np.testing.assert_allclose(res[ember][1][0][0], res[torch][1][0][0], rtol=1e-6)
    np.testing.assert_allclose(res[ember][1][0][1], res[torch][1][0][1], rtol=1e-6)


def test_hooks_apply_to_autograd_grad():
    res = {}
    for lib in (ember, torch):
        x = lib.tensor(2.0, requires_grad=True)
        x.register_hook(lambda g: g * 10)
        h = x * 1
        h.register_hook(lambda g: g + 1)
        y = h * 3
        res[lib] = (lib.autograd.grad(y, h, retain_graph=True)[0].item(), lib.autograd.grad(y, x)[0].item())
    assert res[ember] == res[torch] == (4.0, 40.0)


def test_retained_grad_accumulates_and_backward_inputs_non_leaf():
    res = {}
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 2
        h.retain_grad()
        y = (h * h).sum()
        y.backward(retain_graph=True)
        y.backward()
        x2 = lib.tensor([1.0, 2.0], requires_grad=True)
        h2 = x2 * 2
        (h2 * h2).sum().backward(inputs=[h2])
        res[lib] = (h.grad.tolist(), x.grad.tolist(), h2.grad.tolist(), x2.grad)
    assert res[ember] == res[torch]


def test_removing_a_handle_twice_leaves_other_registrations_of_the_same_hook():
    results = []
    for lib in (ember, torch):
        calls = []

        def hook(g):
            calls.append("tensor")

        def node_hook(*args):
            calls.append("node")

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        first, second = x.register_hook(hook), x.register_hook(hook)
        node_first, node_second = y.grad_fn.register_hook(node_hook), y.grad_fn.register_hook(node_hook)
        y_first, y_second = y.register_hook(hook), y.register_hook(hook)
        for h in (first, node_first, y_first):
            h.remove()
            h.remove()
        y.sum().backward()
        results.append(sorted(calls))
        second.remove(), node_second.remove(), y_second.remove()
        (x * 2).sum().backward()
        results.append(sorted(calls))
    assert results[0] == results[2] == ["node", "tensor", "tensor"]
    assert results[1] == results[3]


def test_gradient_kept_by_a_leaf_hook_is_not_the_grad_accumulated_into():
    """A leaf's tensor hook that keeps its gradient keeps the values it saw: torch copies a gradient held
    elsewhere before making it ``.grad``, so the next backward's in-place accumulation does not reach it."""
    import torch

    import ember
    seen = {}
    for lib in (torch, ember):
        x = lib.ones(3, requires_grad=True)
        kept = []
        x.register_hook(lambda g, kept=kept: kept.append(g))
        (x * 2).sum().backward()
        (x * 3).sum().backward()
        seen[lib.__name__] = ([k.tolist() for k in kept], x.grad.tolist())
    assert seen["ember"] == seen["torch"]
