"""Version counters and saved tensors, as torch's.

A tensor, its views and its ``detach()``es share one version counter (``.data`` does not); every
tensor an op or a custom Function saved for backward is checked against it. Each case runs the same
code under ember and torch and compares the gradients, or that both raise RuntimeError.
"""
import numpy as np
import pytest
import torch

import ember


def _outcome(lib, program):
    try:
        leaves = program(lib)
    except RuntimeError:
        return "RuntimeError"
    return [None if t.grad is None else t.grad.numpy().tolist() for t in leaves]


def _x(lib):
    return lib.tensor([1.0, 2.0, 3.0], requires_grad=True)


def _sigmoid_output_zeroed_through_detach(lib):
    x = _x(lib)
    y = x.sigmoid()
    y.detach().zero_()
    y.sum().backward()
    return [x]


def _saved_input_scaled_through_detach(lib):
    x = _x(lib)
    a = x * 1
    b = a * a
    a.detach().mul_(10)
    b.sum().backward()
    return [x]


def _saved_input_scaled_through_data(lib):  # .data is the one alias with a counter of its own
    x = _x(lib)
    a = x * 1
    b = a * a
    a.data.mul_(10)
    b.sum().backward()
    return [x]


def _saved_view_then_base_scaled(lib):
    x = _x(lib)
    a = x * 1
    v = a[0:2]
    y = v * v
    a.mul_(3)
    y.sum().backward()
    return [x]


def _unsaved_input_written_through_detach(lib):
    x = _x(lib)
    a = x * 1
    y = a.exp()
    a.detach()[1:].zero_()  # exp saved its output, not a: no error
    y.sum().backward()
    return [x]


def _saved_output_then_in_place(lib):
    x = _x(lib)
    y = x.exp()
    y.mul_(2)
    y.sum().backward()
    return [x]


def _in_place_saved_output_then_written(lib):
    x = _x(lib)
    a = x * 1
    a.sigmoid_()
    a.add_(1)
    a.sum().backward()
    return [x]


def _in_place_saved_output_then_copied_over(lib):
    x = _x(lib)
    a = x * 1
    a.tanh_()
    a.copy_(lib.ones(3, dtype=lib.float32))
    a.sum().backward()
    return [x]


def _view_of_detached_alias_written(lib):
    x = _x(lib)
    a = x * 1
    y = a * a
    a.detach()[0:1].mul_(2)
    y.sum().backward()
    return [x]


def _fill_keeps_a_zero_gradient(lib):
    x = _x(lib)
    a = x * 2
    a[1:].fill_(5.0)
    a.zero_()
    a.sum().backward()
    return [x]


class _Exp:
    """A custom Function that saves its output, defined for both libraries."""

    def __new__(cls, lib):
        class Exp(lib.autograd.Function):
            @staticmethod
            def forward(ctx, i):
                out = i.exp()
                ctx.save_for_backward(out)
                return out

            @staticmethod
            def backward(ctx, g):
                out, = ctx.saved_tensors
                return g * out
        return Exp


class _Square:
    """A custom Function that saves its input."""

    def __new__(cls, lib):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, i):
                ctx.save_for_backward(i)
                return i * i

            @staticmethod
            def backward(ctx, g):
                i, = ctx.saved_tensors
                return 2 * g * i
        return Square


def _function_output_written(lib):
    x = _x(lib)
    y = _Exp(lib).apply(x)
    y.mul_(2)
    y.sum().backward()
    return [x]


def _function_output_written_through_detach(lib):
    x = _x(lib)
    y = _Exp(lib).apply(x)
    y.detach().zero_()
    y.sum().backward()
    return [x]


def _function_input_written(lib):
    x = _x(lib)
    a = x * 1
    y = _Square(lib).apply(a)
    a.add_(1)
    y.sum().backward()
    return [x]


def _function_untouched(lib):
    x = _x(lib)
    a = x * 1
    (_Exp(lib).apply(a) + _Square(lib).apply(a)).sum().backward()
    return [x]


CASES = [_sigmoid_output_zeroed_through_detach, _saved_input_scaled_through_detach, _saved_input_scaled_through_data,
         _saved_view_then_base_scaled, _unsaved_input_written_through_detach, _saved_output_then_in_place,
         _in_place_saved_output_then_written, _in_place_saved_output_then_copied_over, _view_of_detached_alias_written,
         _fill_keeps_a_zero_gradient, _function_output_written, _function_output_written_through_detach,
         _function_input_written, _function_untouched]


@pytest.mark.parametrize("program", CASES, ids=lambda f: f.__name__.strip("_"))
def test_saved_tensors_are_checked_as_torch(program):
    got, want = _outcome(ember, program), _outcome(torch, program)
    if isinstance(want, list):
        np.testing.assert_allclose(np.array(got, dtype=float), np.array(want, dtype=float), rtol=1e-6)
    else:
        assert got == want


def test_version_counter_is_shared_by_views_and_detach_but_not_data():
    counts = []
    for lib in (ember, torch):
        x = _x(lib)
        a = x * 1
        v, d, data = a[0:2], a.detach(), a.data
        v.mul_(2)
        d.add_(1)
        data.add_(1)
        dv = d[1:]
        dv.zero_()
        counts.append((a._version, v._version, d._version, dv._version, data._version, x._version))
    assert counts[0] == counts[1]


# ----------------------------------------------------------------------------- inference tensors
def _inference_requires_grad(lib):
    with lib.inference_mode():
        t = lib.ones(3)
    t.requires_grad_()


def _inference_parameter(lib):
    with lib.inference_mode():
        t = lib.ones(3)
    lib.nn.Parameter(t)


def _inference_saved_by_mul(lib):
    with lib.inference_mode():
        t = lib.ones(3)
    (t * lib.ones(3, requires_grad=True)).sum().backward()


def _inference_saved_by_matmul(lib):
    with lib.inference_mode():
        t = lib.ones(3)
    lib.ones(3, requires_grad=True) @ t


def _inference_view_saved(lib):
    with lib.inference_mode():
        t = lib.tensor([1.0, 2.0])
    t[0:1] * lib.ones(1, requires_grad=True)


def _inference_written_outside(lib):
    with lib.inference_mode():
        t = lib.ones(3)
    with lib.no_grad():
        t.add_(1)


def _inference_added(lib):  # add saves nothing: allowed
    with lib.inference_mode():
        t = lib.ones(3)
    w = lib.ones(3, requires_grad=True)
    (t + w).sum().backward()
    return w.grad.tolist()


def _inference_cloned(lib):  # a clone is a normal tensor
    with lib.inference_mode():
        t = lib.ones(3)
    c = t.clone().requires_grad_()
    (c * c).sum().backward()
    return c.grad.tolist(), t.is_inference(), c.is_inference()


def _inference_written_inside(lib):
    with lib.inference_mode():
        t = lib.ones(3)
        t.mul_(2)
        t[0:1].add_(1)
        v = t[1:]
    x = lib.ones(3)
    with lib.inference_mode():
        xv = x[0:2]
    return t.tolist(), v.is_inference(), t.detach().is_inference(), xv.is_inference()


@pytest.mark.parametrize("program", [_inference_requires_grad, _inference_parameter, _inference_saved_by_mul,
                                     _inference_saved_by_matmul, _inference_view_saved, _inference_written_outside,
                                     _inference_added, _inference_cloned, _inference_written_inside],
                         ids=lambda f: f.__name__.strip("_"))
def test_inference_tensors_stay_out_of_autograd_as_torch(program):
    outcomes = []
    for lib in (ember, torch):
        try:
            outcomes.append(program(lib))
        except RuntimeError:
            outcomes.append(RuntimeError)
    assert outcomes[0] == outcomes[1]


# ----------------------------------------------------------------------------- .grad is writable
@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 1)])
@pytest.mark.parametrize("how", ["broadcast", "twice", "hook_expand", "expand"])
def test_grad_of_a_leaf_is_its_own_writable_array(shape, how):
    results = []
    for lib in (ember, torch):
        p = lib.tensor(np.full(shape, 1.5), requires_grad=True)
        other = lib.tensor(np.arange(1.0, 7.0).reshape(2, 3))
        if how == "hook_expand":
            p.register_hook(lambda g, lib=lib: lib.tensor(2.0, dtype=lib.float64).expand(shape))
        steps = 2 if how == "twice" else 1
        for _ in range(steps):
            y = p.expand(2, 3) if how == "expand" else p * other
            (y * other).sum().backward()
        before = p.grad.tolist()
        p.grad.zero_()
        p.grad.add_(1)
        results.append((before, p.grad.tolist()))
    assert results[0] == results[1]


@pytest.mark.parametrize("shapes", [((4, 0, 3), (3, 0)), ((4, 3, 0), (0,)), ((4, 3, 0), (0, 3)), ((0, 2, 3), (3, 0)),
                                    ((2, 1, 3, 0), (0, 3)), ((2, 0), (0, 3)), ((0, 2), (2, 3)), ((0,), (0,))])
def test_matmul_backward_with_a_zero_size_dim_matches_torch(shapes):
    results = []
    for lib in (ember, torch):
        a = lib.ones(shapes[0], requires_grad=True)
        b = lib.ones(shapes[1], requires_grad=True)
        (a @ b).sum().backward()
        results.append((tuple(a.grad.shape), a.grad.tolist(), tuple(b.grad.shape), b.grad.tolist()))
    assert results[0] == results[1]
