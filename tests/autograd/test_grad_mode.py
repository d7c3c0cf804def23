"""no_grad / enable_grad / set_grad_enabled / inference_mode: context managers, decorators, threads."""
import threading

import pytest
import torch

import ember


def test_no_grad_context():
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        y = x * 2
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_decorator():
    @ember.no_grad()
    def f(x):
        return x * 2

    y = f(ember.ones(2, requires_grad=True))
    assert not y.requires_grad
    assert ember.is_grad_enabled()
    assert f.__name__ == "f"


def test_enable_grad_inside_no_grad():
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        with ember.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_enable_grad_decorator():
    @ember.enable_grad()
    def f(x):
        return x * 2

    with ember.no_grad():
        assert f(ember.ones(1, requires_grad=True)).requires_grad


def test_set_grad_enabled_function_and_context():
    x = ember.ones(1, requires_grad=True)
    ember.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        ember.set_grad_enabled(True)
    with ember.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    with ember.no_grad():
        with ember.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not ember.is_grad_enabled()


def test_inference_mode():
    x = ember.ones(1, requires_grad=True)
    with ember.inference_mode():
        assert ember.is_inference_mode_enabled() and not ember.is_grad_enabled()
        assert not (x * 2).requires_grad
    assert not ember.is_inference_mode_enabled()
    with ember.inference_mode(False):
        assert (x * 2).requires_grad

    @ember.inference_mode()
    def f(t):
        return t * 2

    assert not f(x).requires_grad


def test_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with ember.no_grad():
            raise ValueError
    assert ember.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = {}

    def worker():
        seen["thread"] = ember.is_grad_enabled()
        x = ember.ones(1, requires_grad=True)
        seen["records"] = (x * 2).requires_grad

    with ember.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert not ember.is_grad_enabled()
    # torch behaves the same way: a new thread starts with grad mode on
    tseen = {}
    with torch.no_grad():
        t = threading.Thread(target=lambda: tseen.setdefault("thread", torch.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == {"thread": tseen["thread"], "records": True}


def test_no_grad_in_thread_does_not_leak():
    def worker():
        with ember.no_grad():
            pass
        ember.set_grad_enabled(False)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert ember.is_grad_enabled()


def test_leaf_update_inside_no_grad():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with ember.no_grad():
        w -= 0.1 * w.grad
    assert w.is_leaf and w.requires_grad
    assert [round(v, 6) for v in w.tolist()] == [0.8, 1.6]
