"""The activations ember.nn.functional adds on top of ember._ops.nn_math: glu, the shrinks, prelu,
rrelu, gumbel_softmax, and the in-place aliases (``relu_`` ...).

All are compositions of differentiable ember ops (a constant 0/1 mask is the derivative of a
piecewise-linear function), so none needs a backward of its own.
"""
from __future__ import annotations

from ..._backend import xp

from ..._tensor import Tensor
from ...amp import autocast_mode as _amp
from ..._ops import nn_math as M
from ..._ops.common import register
from ...random import _gen

__all__ = ["glu", "hardshrink", "softshrink", "prelu", "rrelu", "rrelu_", "gumbel_softmax", "relu_", "elu_",
           "leaky_relu_", "selu_", "celu_", "hardtanh_", "threshold_"]


def _const(a: xp.ndarray) -> Tensor:
    return Tensor._make(xp.asarray(a))


def _mask(x: Tensor, cond: xp.ndarray) -> Tensor:
    return _const(cond.astype(x._data.dtype))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` where ``a, b`` are the two halves of ``input`` along ``dim``."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        d = dim + input.dim() if dim < 0 else dim
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.chunk(2, dim)
    return a * M.sigmoid(b)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0."""
    M._float(input, "hardshrink_cpu")
    return input * _mask(input, xp.abs(input._data) > lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, 0 between."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    M._float(input, "softshrink_cpu")
    x = input._data
    return (input - input.clamp(-lambd, lambd)) * _mask(input, (x > lambd) | (x < -lambd))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` for positive ``x``, ``weight * x`` otherwise; ``weight`` has 1 element or one per channel (dim 1)."""
    if _amp.state.on:
        return _amp.call(prelu, _amp.LOWER, input, weight)
    from ... import where
    n = weight.numel()
    if n != 1:
        if weight.dim() != 1:
            raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.dim()}")
        if input.dim() == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        c = input.shape[1] if input.dim() >= 2 else 1  # as torch: a 1-D input is one channel
        if c != n:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{n} and channel size = {c}.")
        if input.dim() >= 2:
            weight = weight.reshape((n,) + (1,) * (input.dim() - 2))
    elif weight.dim() > 1 or input.dim() == 0:  # one weight broadcasts without adding a dim
        weight = weight.reshape(())
    return where(_const(input._data > 0), input, weight * input)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Leaky ReLU with a slope drawn from U(lower, upper) per element in training, ``(lower+upper)/2`` in eval."""
    if lower > upper:
        raise RuntimeError(f"rrelu: Lower bound should be less than or equal to the upper bound, got lower={lower}, "
                           f"upper={upper}")
    if not training:
        return M.leaky_relu(input, (lower + upper) / 2, inplace)
    M._float(input, "rrelu_with_noise")
    x = input._data
    # torch draws one double slope per element <= 0, in memory order, and none for the others
    at = x <= 0
    slopes = xp.ones(x.shape)
    slopes[at] = _gen(None).uniform(lower, upper, size=(int(at.sum()),))
    noise = _const(slopes.astype(x.dtype))
    return M._maybe_inplace(input, lambda x: x * noise, inplace, "rrelu_")


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    """In-place rrelu."""
    return rrelu(input, lower, upper, training, True)


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """A sample from the Gumbel-softmax distribution; ``hard`` returns one-hot vectors whose gradient is the
    soft sample's (straight-through)."""
    x = logits._data
    gumbels = _const(-xp.log(_gen(None).exponential(size=x.shape)).astype(x.dtype))
    y_soft = M.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    d = dim + x.ndim if dim < 0 else dim
    index = xp.expand_dims(y_soft._data.argmax(axis=d), d)
    y_hard = xp.zeros_like(y_soft._data)
    xp.put_along_axis(y_hard, index, 1.0, axis=d)
    return _const(y_hard) - y_soft.detach() + y_soft


# ----------------------------------------------------------------------------- in-place aliases
def relu_(input: Tensor) -> Tensor:
    """In-place relu."""
    return M.relu(input, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place elu."""
    return M.elu(input, alpha, inplace=True)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place leaky_relu."""
    return M.leaky_relu(input, negative_slope, inplace=True)


def selu_(input: Tensor) -> Tensor:
    """In-place selu."""
    return M.selu(input, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place celu."""
    return M.celu(input, alpha, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place hardtanh."""
    return M.hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place threshold."""
    return M.threshold(input, threshold, value, inplace=True)


@register(method=False)
def _softmax_backward_data(grad_output: Tensor, output: Tensor, dim: int, input_dtype) -> Tensor:
    """softmax's input gradient from its output y: ``y * (g - sum(g * y, dim))``, in the input's dtype."""
    gy = grad_output * output
    return (gy - output * gy.sum(dim, keepdim=True)).to(input_dtype)
