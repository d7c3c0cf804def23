"""Memory: training loops do not grow, graphs hold no reference cycles, intermediates die with their graph."""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import ember


@pytest.fixture
def no_gc():
    """Run with the cyclic collector off, so that only reference counting frees memory."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _step(w, b, x, y, lr=0.01):
    pred = ember.tanh(x @ w + b)
    r = pred - y
    loss = (r * r).mean()
    loss.backward()
    with ember.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
        w.grad = None
        b.grad = None
    return loss


def test_training_loop_does_not_grow(no_gc):
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((8, 4)), dtype=ember.float32)
    y = ember.tensor(rng.standard_normal((8, 1)), dtype=ember.float32)
    w = ember.tensor(rng.standard_normal((4, 1)) * 0.1, dtype=ember.float32, requires_grad=True)
    b = ember.zeros(1, requires_grad=True)
    first = _step(w, b, x, y).item()
    tracemalloc.start()
    try:
        # warm-up: CPython keeps up to 2,000 freed tuples of each small size for reuse, which tracemalloc
        # counts as held; how many steps fill that pool (up to ~110 KB) depends on the code path
        for _ in range(3_000):
            _step(w, b, x, y)
        after_3k = tracemalloc.get_traced_memory()[0]
        for _ in range(9_000):
            last = _step(w, b, x, y)
        after_12k = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert last.item() < first  # it did train
    assert after_12k - after_3k < 16_384, f"grew by {after_12k - after_3k} bytes over 9,000 iterations"
    assert w.is_leaf and w.requires_grad


def _graph(x):
    h = x * 2.0
    a = ember.exp(h)
    z = ember.tanh(a * h - x)
    return (z * z + h).sum() / 3.0


def test_graph_has_no_reference_cycles(no_gc):
    x = ember.ones(3, 4, requires_grad=True)
    y = _graph(x)
    del y
    assert gc.collect() == 0


def test_graph_after_backward_has_no_reference_cycles(no_gc):
    x = ember.ones(3, 4, requires_grad=True)
    y = _graph(x)
    h = x * 3.0
    h.retain_grad()
    (y + h.sum()).backward()
    del y, h
    x.grad = None
    assert gc.collect() == 0


def test_retained_graph_and_user_function_have_no_cycles(no_gc):
    class Exp(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out = ember.exp(x)
            ctx.save_for_backward(out)  # a saved output must not make node -> output -> node
            return out

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out

    x = ember.ones(2, requires_grad=True)
    y = Exp.apply(x * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    del y
    assert gc.collect() == 0


def test_intermediate_dies_with_its_output():
    x = ember.ones(3, requires_grad=True)
    h = x * 2.0
    y = h * h  # Mul saves h
    ref = weakref.ref(h)
    node_ref = weakref.ref(y.grad_fn)
    del h
    assert ref() is not None  # still needed for y's backward
    del y
    assert ref() is None and node_ref() is None


def test_backward_releases_saved_tensors():
    x = ember.ones(3, requires_grad=True)
    h = x * 2.0
    y = (h * h).sum()
    ref = weakref.ref(h)
    del h
    y.backward()
    assert ref() is None  # freed by backward although y is alive
    assert x.grad.tolist() == [8.0, 8.0, 8.0]


def test_leaf_does_not_keep_accumulator_alive_in_a_cycle(no_gc):
    x = ember.ones(2, requires_grad=True)
    (x * 2).sum().backward()
    ref = weakref.ref(x)
    del x
    assert ref() is None
