"""ember.ops.aten (torch.ops.aten): names resolved as torch's, and max_pool2d_with_indices_backward against torch."""
import numpy as np
import pytest
import torch

import ember

CASES = [  # input shape, kernel_size, stride, padding, dilation, ceil_mode
    ((2, 3, 7, 6), (3, 3), (2, 2), (1, 1), (1, 1), False),  # overlapping windows: repeated indices add up
    ((1, 2, 5, 8), (2, 3), (1, 2), (0, 1), (2, 1), True),
    ((3, 6, 6), (2, 2), (2, 2), (0, 0), (1, 1), False),  # unbatched
]


def _both(shape, k, s, p, d, ceil, requires_grad=False):
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    _, idx = torch.nn.functional.max_pool2d_with_indices(x, k, s, p, d, ceil)
    g = torch.randn(idx.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    g.requires_grad_(requires_grad)
    e = [ember.tensor(t.detach().numpy()) for t in (g, x, idx)]
    e[0].requires_grad_(requires_grad)
    return (g, x, idx), e


@pytest.mark.parametrize("case", CASES)
def test_max_pool2d_with_indices_backward_matches_torch(case):
    shape, k, s, p, d, ceil = case
    (g, x, idx), (eg, ex, eidx) = _both(*case)
    want = torch.ops.aten.max_pool2d_with_indices_backward.default(g, x, k, s, p, d, ceil, idx)
    got = ember.ops.aten.max_pool2d_with_indices_backward.default(eg, ex, k, s, p, d, ceil, eidx)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    assert got.dtype is ember.float64 and tuple(got.shape) == tuple(want.shape)
    # the packet itself is callable, as torch's
    again = ember.ops.aten.max_pool2d_with_indices_backward(eg, ex, k, s, p, d, ceil, eidx)
    np.testing.assert_array_equal(again.numpy(), got.numpy())


@pytest.mark.parametrize("case", CASES[:2])
def test_max_pool2d_with_indices_backward_is_differentiable_in_grad_output(case):
    shape, k, s, p, d, ceil = case
    (g, x, idx), (eg, ex, eidx) = _both(*case, requires_grad=True)
    x.requires_grad_(True)
    ex.requires_grad_(True)
    out = torch.ops.aten.max_pool2d_with_indices_backward(g, x, k, s, p, d, ceil, idx)
    eout = ember.ops.aten.max_pool2d_with_indices_backward(eg, ex, k, s, p, d, ceil, eidx)
    assert eout.requires_grad
    v = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    tg, tx = torch.autograd.grad(out, (g, x), v)
    eg_, ex_ = ember.autograd.grad(eout, (eg, ex), ember.tensor(v.numpy()), allow_unused=True)
    np.testing.assert_allclose(eg_.numpy(), tg.numpy(), rtol=1e-12, atol=1e-12)
    # self only gives the shape: torch's derivative is zeros, ember's is none (zero)
    assert not tx.any() and (ex_ is None or not ex_.numpy().any())


def test_mismatched_grad_output_raises_runtime_error():
    (g, x, idx), (eg, ex, eidx) = _both(*CASES[0])
    args = ((3, 3), (2, 2), (1, 1), (1, 1), False)
    with pytest.raises(RuntimeError):
        torch.ops.aten.max_pool2d_with_indices_backward(g[:, :, :1], x, *args, idx)
    with pytest.raises(RuntimeError, match="max_pool2d_with_indices_backward"):
        ember.ops.aten.max_pool2d_with_indices_backward(eg[:, :, :1], ex, *args, eidx)


def test_aten_names_resolve_to_ember_functions():
    assert ember.ops.aten.add.default is ember.add
    assert ember.ops.aten.softmax.default is ember.softmax
    assert ember.ops.aten.max_pool2d_with_indices_backward.overloads() == ["default"]
    assert repr(ember.ops.aten.add) == repr(torch.ops.aten.add)
    x = ember.tensor([1.0, 2.0])
    np.testing.assert_array_equal(ember.ops.aten.mul(x, x).numpy(), [1.0, 4.0])


@pytest.mark.parametrize("name", ["no_such_operator", "_safe_softmax"])
def test_unknown_or_private_names_raise_attribute_error(name):
    with pytest.raises(AttributeError, match="'_OpNamespace' 'aten' object has no attribute"):
        getattr(ember.ops.aten, name)
    if name.startswith("no_"):
        with pytest.raises(AttributeError, match="'_OpNamespace' 'aten' object has no attribute"):
            getattr(torch.ops.aten, name)


def test_other_operator_namespaces_are_absent_and_say_so():
    assert not hasattr(ember.ops, "quantized")
    with pytest.raises(NotImplementedError, match=r"torch\.ops\.quantized"):
        ember.ops.quantized
