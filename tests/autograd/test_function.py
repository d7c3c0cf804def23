"""User-defined autograd Functions: the torch tutorial's LegendrePolynomial3 and the ctx API, against torch."""
import math

import numpy as np
import pytest
import torch

import ember
from conftest import assert_close

LIBS = {"ember": ember, "torch": torch}


def legendre(lib):
    """The torch tutorial's P3 Function, written once for either library."""
    class LegendrePolynomial3(lib.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input * input * input - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input * input - 1)

    return LegendrePolynomial3


def test_legendre_training_matches_torch():
    xs = np.linspace(-math.pi, math.pi, 2000)
    ys = np.sin(xs)
    result = {}
    for name, lib in LIBS.items():
        P3 = legendre(lib)
        x = lib.tensor(xs, dtype=lib.float32)
        y = lib.tensor(ys, dtype=lib.float32)
        a, b, c, d = (lib.full((), v, dtype=lib.float32, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3))
        lr = 5e-6
        losses = []
        for _ in range(20):
            y_pred = a + b * P3.apply(c + d * x)
            loss = ((y_pred - y) * (y_pred - y)).sum()
            losses.append(loss.item())
            loss.backward()
            with lib.no_grad():
                for p in (a, b, c, d):
                    p -= lr * p.grad
                    p.grad = None
        result[name] = (losses, [p.item() for p in (a, b, c, d)], y_pred.grad_fn.name())
    np.testing.assert_allclose(result["ember"][0], result["torch"][0], rtol=1e-4)
    np.testing.assert_allclose(result["ember"][1], result["torch"][1], rtol=1e-4, atol=1e-6)
    assert result["ember"][2] == result["torch"][2] == "AddBackward0"


def test_custom_node_name_matches_torch():
    names = []
    for lib in LIBS.values():
        x = lib.tensor([0.5], requires_grad=True)
        names.append(legendre(lib).apply(x).grad_fn.name())
    assert names[0] == names[1] == "LegendrePolynomial3Backward"


def test_legendre_gradcheck():
    x = ember.tensor(np.linspace(-1, 1, 5), dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(legendre(ember).apply, (x,))


def test_needs_input_grad():
    seen = {}
    for name, lib in LIBS.items():
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y, k):
                seen.setdefault(name, []).append(tuple(ctx.needs_input_grad))
                ctx.k = k
                return x * y * k

            @staticmethod
            def backward(ctx, g):
                seen[name].append(tuple(ctx.needs_input_grad))
                return g * ctx.k, None, None

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        Scale.apply(x, lib.tensor([3.0, 4.0]), 2.0).sum().backward()
        seen[name].append(x.grad.tolist())
    assert seen["ember"] == seen["torch"] == [(True, False, False), (True, False, False), [2.0, 2.0]]


def test_mark_non_differentiable():
    out = {}
    for name, lib in LIBS.items():
        class WithMask(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x * 2
                mask = x * 0
                ctx.mark_non_differentiable(mask)
                return y, mask

            @staticmethod
            def backward(ctx, gy, gmask):
                return gy * 2

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y, mask = WithMask.apply(x)
        y.sum().backward()
        out[name] = (y.requires_grad, mask.requires_grad, x.grad.tolist())
    assert out["ember"] == out["torch"] == (True, False, [2.0, 2.0])


@pytest.mark.parametrize("materialize", [True, False])
def test_set_materialize_grads(materialize):
    out = {}
    for name, lib in LIBS.items():
        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(materialize)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                out[name] = (g1 is None, g2 is None, None if g2 is None else g2.tolist())
                return g1 * 2

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, _ = Two.apply(x)
        a.sum().backward()
    assert out["ember"] == out["torch"]
    assert out["ember"] == ((False, False, [0.0, 0.0]) if materialize else (False, True, None))


def test_mark_dirty():
    out = {}
    for name, lib in LIBS.items():
        class Double_(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2

        a = lib.tensor([1.0, 3.0], requires_grad=True)
        h = a * 1.0
        r = Double_.apply(h)
        (r * r).sum().backward()
        out[name] = (r is h, h.tolist(), a.grad.tolist(), h.grad_fn.name())
    assert out["ember"] == out["torch"]


def test_mark_dirty_on_leaf_raises():
    class Inc_(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        Inc_.apply(ember.ones(2, requires_grad=True))


def test_saving_output():
    rng = np.random.default_rng(0)
    arr = rng.standard_normal(4).astype(np.float32)
    res = {}
    for name, lib in LIBS.items():
        class Exp(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, g):
                (y,) = ctx.saved_tensors
                return g * y

        x = lib.tensor(arr, requires_grad=True)
        (Exp.apply(x) * lib.tensor(arr)).sum().backward()
        res[name] = x.grad
    assert_close(res["ember"], res["torch"])


def test_once_differentiable():
    res = {}
    for name, lib in LIBS.items():
        from importlib import import_module
        once = import_module(f"{name}.autograd.function").once_differentiable

        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            @once
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        x = lib.tensor([1.5, -2.0], requires_grad=True)
        Square.apply(x).sum().backward()
        res[name] = x.grad.tolist()
    assert res["ember"] == res["torch"] == [3.0, -4.0]


def test_wrong_number_of_gradients():
    class Bad(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return (g,)

    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"returned an incorrect number of gradients \(expected 2, got 1\)"):
        Bad.apply(x, ember.ones(2)).sum().backward()


def test_wrong_gradient_shape():
    class Bad(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return ember.ones(5)

    with pytest.raises(RuntimeError, match="returned an invalid gradient at index 0"):
        Bad.apply(ember.ones(2, requires_grad=True)).sum().backward()


def test_function_without_grad_inputs_records_nothing():
    y = legendre(ember).apply(ember.ones(2))
    assert not y.requires_grad and y.grad_fn is None


def test_setup_context_style_function_as_torch():
    """torch 2's form: forward(*args) without ctx, setup_context(ctx, inputs, output) saves what backward needs."""
    import torch

    def run(lib):
        class MulExp(lib.autograd.Function):
            @staticmethod
            def forward(x, y):
                return x * y.exp()

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(*inputs, output)

            @staticmethod
            def backward(ctx, g):
                x, y, out = ctx.saved_tensors
                return g * y.exp(), g * out
        x = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([0.3, 0.1, -1.0], dtype=lib.float64, requires_grad=True)
        out = MulExp.apply(x, y)
        (out * out).sum().backward()
        return [t.detach().numpy() for t in (out, x.grad, y.grad)]
    for e, t in zip(run(ember), run(torch)):
        np.testing.assert_allclose(e, t, rtol=1e-14)
