"""The math of neural networks: activations, softmax, one_hot, pad, normalize.

Exported by ember.nn.functional. Activations with a cheap closed-form derivative
are one ``_pointwise`` primitive each (forward on arrays, derivative in ember ops
so double backward works); the rest are compositions. softmax and log_softmax are
fused primitives: composed from exp/sum they would keep several full-size
intermediates alive for backward, and the fused forms are also the stable ones.
"""
from __future__ import annotations

import math

from .. import _complex32
from .._backend import parallel_map, xp, zeros_like
from .._dtype import is_half
from .._tensor import Tensor
from ..autograd.function import Op
from ..autograd.grad_mode import state
from . import _erf
from .common import FUNCTIONS, register, wrap_dim, check_inplace, write_inplace

__all__ = ["softmax", "log_softmax", "softmin", "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu",
           "silu", "sigmoid", "tanh", "softplus", "mish", "hardtanh", "hardsigmoid", "hardswish", "logsigmoid",
           "softsign", "tanhshrink", "threshold", "one_hot", "pad", "normalize", "cosine_similarity",
           "pairwise_distance"]


def _const(a) -> Tensor:
    """A constant (no-grad) tensor from an array."""
    return Tensor._make(xp.asarray(a))


def _float(x: Tensor, op: str) -> Tensor:
    if x._data.dtype.kind not in "fV":
        raise NotImplementedError(f'"{op}" not implemented for \'{_LONG.get(x.dtype.name, x.dtype.name)}\'')
    return x


_LONG = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


# ----------------------------------------------------------------------------- pointwise primitives
def _pointwise(name: str, fwd, deriv):
    """An elementwise primitive: ``fwd(x_array, *params)``, and ``deriv(x, y, *params)``, its derivative
    written with ember ops from the input ``x`` and output ``y`` (Tensors), so it is itself differentiable."""

    class Pointwise(Op):
        saves_output = True

        @staticmethod
        def forward(x, *params):
            return xp.asarray(fwd(x, *params), dtype=x.dtype)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.params = inputs[1:]

        @staticmethod
        def backward(ctx, g):
            return (g * deriv(ctx.saved_tensors[0], ctx.output, *ctx.params),) + (None,) * len(ctx.params)

    Pointwise.__name__ = Pointwise.__qualname__ = name
    Pointwise._Node.__name__ = name + "Backward0"
    return Pointwise.apply


def _mask(x: Tensor, cond) -> Tensor:
    """A 0/1 constant of ``x``'s dtype: the derivative of a piecewise-linear op."""
    return _const(cond.astype(x._data.dtype))


def _stable_sigmoid(x):
    return xp.exp(-xp.logaddexp(0, -x))


_sigmoid = _pointwise("Sigmoid", _stable_sigmoid, lambda x, y: y * (1 - y))
_softplus = _pointwise(
    "Softplus", lambda x, beta, th: xp.where(x * beta > th, x, xp.logaddexp(0, x * beta) / beta),
    lambda x, y, beta, th: _sigmoid(x * beta) * _mask(x, x._data * beta <= th) + _mask(x, x._data * beta > th))
_relu = _pointwise("Relu", lambda x: xp.maximum(x, zeros_like(x)), lambda x, y: _mask(x, x._data > 0))
_leaky = _pointwise("LeakyRelu", lambda x, s: xp.where(x > 0, x, x * s),
                    lambda x, y, s: _const(xp.where(x._data > 0, 1, s).astype(x._data.dtype)))
_elu = _pointwise("Elu", lambda x, a: xp.where(x > 0, x, a * xp.expm1(xp.minimum(x, 0))),
                  # exp of the negative part only: exp(x) of a large positive x would overflow
                  lambda x, y, a: _mask(x, x._data > 0) + _exp(x * _mask(x, x._data <= 0)) * (
                      _mask(x, x._data <= 0) * a))
_hardtanh = _pointwise("Hardtanh", lambda x, lo, hi: xp.clip(x, lo, hi),
                       lambda x, y, lo, hi: _mask(x, (x._data > lo) & (x._data < hi)))
_hardsigmoid = _pointwise("Hardsigmoid", lambda x: xp.clip(x / 6 + 0.5, 0, 1),
                          lambda x, y: _mask(x, (x._data > -3) & (x._data < 3)) * (1 / 6))
_threshold = _pointwise("Threshold", lambda x, th, v: xp.where(x > th, x, v),
                        lambda x, y, th, v: _mask(x, x._data > th))
_abs = _pointwise("Abs", lambda x: xp.abs(x), lambda x, y: _const(xp.sign(x._data)))

_SQRT1_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_Phi = _pointwise("NormalCdf", lambda x: _erf.normal_cdf(x, _SQRT1_2),
                  lambda x, y: _exp(x * x * -0.5) * _INV_SQRT_2PI)


def _exp(x: Tensor) -> Tensor:
    return FUNCTIONS["exp"](x)


def _fn(name: str, fallback):
    """The ember op ``name`` if another category defines it, else our private primitive."""
    return FUNCTIONS.get(name, fallback)


def _maybe_inplace(input: Tensor, fn, inplace: bool, name: str) -> Tensor:
    """``fn(input)``, or (``inplace=True``) ``input`` overwritten with it, as the nn ``inplace=`` flags do."""
    if not inplace:
        return fn(input)
    check_inplace(input, name)
    src = input
    if state.enabled and input._requires_grad:
        # fn's backward may need the values about to be overwritten: give it a copy that takes
        # input's place in the graph (torch saves the original values too)
        src = Tensor._make(input._data.copy(), True, input.grad_fn, input._output_nr)
    return write_inplace(input, fn(src), name)


# ----------------------------------------------------------------------------- activations
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(0, x) elementwise."""
    return _maybe_inplace(input, _fn("relu", _relu), inplace, "relu_")


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow."""
    return _fn("sigmoid", _sigmoid)(_float(input, "sigmoid"))


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return FUNCTIONS["tanh"](input)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(0, x), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    return _maybe_inplace(_float(input, "leaky_relu"), lambda x: _leaky(x, negative_slope), inplace, "leaky_relu_")


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha * (exp(x) - 1)."""
    return _maybe_inplace(_float(input, "elu"), lambda x: _elu(x, alpha), inplace, "elu_")


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _maybe_inplace(input, lambda x: elu(x, _SELU_ALPHA) * _SELU_SCALE, inplace, "selu_")


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha * (exp(x / alpha) - 1)."""
    return _maybe_inplace(input, lambda x: elu(x / alpha, 1.0) * alpha, inplace, "celu_")


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi the normal CDF), or its tanh approximation with approximate='tanh'."""
    _float(input, "GeluKernelImpl")
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2 / math.pi)
        return input * 0.5 * (tanh(inner) + 1)
    if approximate != "none":
        raise RuntimeError("approximate argument must be either none or tanh.")
    grad = state.enabled and input.requires_grad
    return Gelu.apply(input, grad)[0] if grad else Gelu.apply(input, False)


class Gelu(Op):
    """x * Phi(x) as one op (GELU runs about 25 passes of NumPy; composed, each op would add more):
    the forward pass also gives the derivative, for backward, from the same exp (``_erf.gelu``)."""

    differentiable_outputs = (0,)
    array_backward = True

    @staticmethod
    def forward(x, grad):
        y, d = _erf.gelu(x, grad)
        return y if d is None else (y, d)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], Tensor._make(output[1]) if type(output) is tuple else None)

    @staticmethod
    def backward(ctx, g, *_):
        x, d = ctx.saved_tensors
        if state.enabled:  # create_graph: a formula differentiable in x
            return g * (_Phi(x) + x * _exp(x * x * -0.5) * _INV_SQRT_2PI), None
        if d is None:  # the forward ran without its derivative (under a transform)
            d = _erf.gelu(x._data if isinstance(x, Tensor) else x, True)[1]
            d = Tensor._make(d) if isinstance(g, Tensor) else d
        if type(g) is type(d) is xp.ndarray and g.shape == d.shape and g.dtype == d.dtype and g.flags.c_contiguous:
            gx = xp.empty_like(d)  # (a large product split between ember's threads)
            parallel_map(lambda o, a, b: xp.multiply(a, b, out=o), gx, g, d)
            return gx, None
        return g * d, None


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    return _maybe_inplace(input, lambda x: x * sigmoid(x), inplace, "silu_")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    return _softplus(_float(input, "softplus"), beta, threshold)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return _maybe_inplace(input, lambda x: x * tanh(softplus(x)), inplace, "mish_")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(input, lambda x: _hardtanh(x, min_val, max_val), inplace, "hardtanh_")


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """clamp(x / 6 + 1/2, 0, 1)."""
    return _maybe_inplace(_float(input, "hardsigmoid"), _hardsigmoid, inplace, "hardsigmoid_")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * hardsigmoid(x)."""
    return _maybe_inplace(input, lambda x: x * hardsigmoid(x), inplace, "hardswish_")


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), without overflow."""
    return -softplus(-_float(input, "log_sigmoid_forward"))


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return input / (_fn("abs", _abs)(input) + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return input - tanh(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    return _maybe_inplace(input, lambda x: _threshold(x, threshold, value), inplace, "threshold_")


if "relu" not in FUNCTIONS:  # the elementwise category may define ember.relu itself
    @register("relu", inplace="relu_")
    def _relu_fn(input: Tensor) -> Tensor:
        """max(0, x) elementwise."""
        return _relu(input)


# ----------------------------------------------------------------------------- softmax
def _softmax_np(x, d):
    e = xp.asarray(x - x.max(axis=d, keepdims=True))  # asarray: a 0-d difference is a NumPy scalar
    xp.exp(e, out=e)
    e /= e.sum(axis=d, keepdims=True)
    return e


class Softmax(Op):
    batching = "dims"
    saves_output = True

    @staticmethod
    def forward(x, d):
        return _softmax_np(x, d) if x.size else x.copy()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.dim = inputs[1]

    @staticmethod
    def backward(ctx, g):
        y = ctx.output
        return y * (g - (g * y).sum(ctx.dim, keepdim=True)), None

    @staticmethod
    def jvp(inputs, y, t, _):  # the Jacobian is symmetric: the same formula as backward
        return y * (t - (t * y).sum(inputs[1], keepdim=True))


class LogSoftmax(Op):
    batching = "dims"
    saves_output = True

    @staticmethod
    def forward(x, d):
        if not x.size:
            return x.copy()
        z = x - x.max(axis=d, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=d, keepdims=True))
        return z

    setup_context = Softmax.setup_context

    @staticmethod
    def backward(ctx, g):
        return g - _exp(ctx.output) * g.sum(ctx.dim, keepdim=True), None

    @staticmethod
    def jvp(inputs, y, t, _):
        return t - (_exp(y) * t).sum(inputs[1], keepdim=True)


def _softmax_dim(input: Tensor, dim, dtype, op: str):
    if dim is None:
        # torch's legacy implicit choice (with a deprecation warning there)
        dim = 0 if input._data.ndim in (0, 1, 3) else 1
    if dtype is not None:
        input = input.to(dtype)
    name = "softmax_lastdim_kernel_impl" if op == "softmax" else "log_softmax_lastdim_kernel_impl"
    d = wrap_dim(dim, input._data.ndim, op)
    return _float(input, name), (d if input._data.ndim else None)


@register()
def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``."""
    input, d = _softmax_dim(input, dim, dtype, "softmax")
    if is_half(input._data.dtype) or input._data.dtype.kind == "V":  # in float32, rounded back, as torch's kernel
        _complex32.refuse(input, "softmax")
        return Softmax.apply(input.float(), d).to(input.dtype)
    return Softmax.apply(input, d)


@register()
def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably."""
    input, d = _softmax_dim(input, dim, dtype, "log_softmax")
    if is_half(input._data.dtype) or input._data.dtype.kind == "V":  # as softmax
        _complex32.refuse(input, "log_softmax")
        return LogSoftmax.apply(input.float(), d).to(input.dtype)
    return LogSoftmax.apply(input, d)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-x) along ``dim``."""
    return softmax(-input, dim, dtype=dtype)  # negated in input's dtype first (uint8 wraps), as torch


# ----------------------------------------------------------------------------- one_hot, normalize
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a new last dim of size ``num_classes`` (-1: max + 1)."""
    if tensor._data.dtype != xp.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = tensor._data
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size:
        if a.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if a.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return _const((a[..., None] == xp.arange(num_classes)).astype(xp.int64))


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """``input`` divided by its p-norm along ``dim`` (at least ``eps``)."""
    from ..linalg import vector_norm
    n = vector_norm(input, p, dim, keepdim=True)
    small = n._data < eps
    if small.any():
        n = n * _mask(n, ~small) + _mask(n, small) * eps  # max(n, eps) with the gradient torch gives
    return input / n


@register(method=False)
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` (broadcast) along ``dim``; each norm is at least ``eps``."""
    from .. import broadcast_tensors
    from ..linalg import vector_norm
    x1, x2 = broadcast_tensors(x1, x2)
    if x1.ndim == 0:  # torch takes dim 0 (or -1) of a scalar as a dim of size one
        wrap_dim(dim, 1)
        return cosine_similarity(x1.reshape((1,)), x2.reshape((1,)), 0, eps).reshape(())
    n1, n2 = vector_norm(x1, 2, dim, keepdim=True), vector_norm(x2, 2, dim, keepdim=True)
    # torch raises a small norm to eps in value only: the gradient still flows as through the norm
    n1 = n1 + _const(xp.maximum(n1._data, eps) - n1._data)
    n2 = n2 + _const(xp.maximum(n2._data, eps) - n2._data)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


@register(method=False)
def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dim."""
    from ..linalg import vector_norm
    return vector_norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


# ----------------------------------------------------------------------------- pad
class _Take(Op):
    """Rows ``idx`` of ``x`` along ``axis`` (repeats allowed): the gather behind non-constant pads."""

    @staticmethod
    def forward(x, axis, idx, n):
        return xp.take(x, idx, axis=axis)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.axis, ctx.idx, ctx.n = inputs

    @staticmethod
    def backward(ctx, g):
        return _PutAdd.apply(g, ctx.axis, ctx.idx, ctx.n), None, None, None


class _PutAdd(Op):
    """The adjoint of ``_Take``: slices of ``g`` summed into rows ``idx`` of a length-``n`` axis."""

    @staticmethod
    def forward(g, axis, idx, n):
        gm = xp.moveaxis(g, axis, 0)
        out = xp.zeros((n,) + gm.shape[1:], dtype=g.dtype)
        xp.add.at(out, idx, gm)
        return xp.moveaxis(out, 0, axis)

    setup_context = _Take.setup_context

    @staticmethod
    def backward(ctx, g):
        return _Take.apply(g, ctx.axis, ctx.idx, ctx.n), None, None, None


class _ConstantPad(Op):
    """Pad with ``value`` (negative amounts crop); its adjoint is the opposite pad with zeros."""

    @staticmethod
    def forward(x, pads, value):
        crop = tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(pads))
        x = x[crop]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
        return xp.pad(x, widths, constant_values=value) if any(lo or hi for lo, hi in widths) else x.copy()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.pads = inputs[1]

    @staticmethod
    def backward(ctx, g):
        return _ConstantPad.apply(g, tuple((-lo, -hi) for lo, hi in ctx.pads), 0), None, None


_NON_CONSTANT = "\n".join([
    "Supported combinations for non-constant padding:",
    "  - 2D or 3D input: padding size = 2 (pads last dimension)",
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)",
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"])


def _pad_index(n: int, lo: int, hi: int, mode: str, d: int, shape) -> xp.ndarray:
    """Which input position each output position along one dim reads (negative amounts crop first)."""
    if mode == "reflect" and (lo >= n or hi >= n):
        raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                           f"but got: padding ({lo}, {hi}) at dimension {d} of input {list(shape)}")
    if mode == "circular" and (lo > n or hi > n):
        raise RuntimeError("Padding value causes wrapping around more than once.")
    if mode == "replicate":  # as torch: each output position's source clamped into the input, crops included
        return xp.clip(xp.arange(n + lo + hi) - lo, 0, n - 1)
    kept = xp.arange(max(-lo, 0), n - max(-hi, 0))
    m = len(kept)
    if m == 0 and (lo > 0 or hi > 0):
        raise RuntimeError(f"pad: dimension {d} of input {list(shape)} is empty after cropping, nothing to {mode}")
    j = xp.arange(-max(lo, 0), m + max(hi, 0))
    if mode == "reflect":
        j = xp.abs(j)
        j = xp.where(j >= m, 2 * (m - 1) - j, j)
    elif mode == "replicate":
        j = xp.clip(j, 0, m - 1)
    else:
        j = j % m
    return kept[j]


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad (or crop, with negative amounts) the last dims; ``pad`` lists (left, right) pairs from the last dim."""
    pad = [int(p) for p in pad]
    nd = input._data.ndim
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k = len(pad) // 2
    if k > nd:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {nd}")
    pairs = [(0, 0)] * (nd - k) + [(pad[2 * i], pad[2 * i + 1]) for i in range(k)][::-1]
    shape = input._data.shape
    for d, (lo, hi) in enumerate(pairs):
        if shape[d] + lo + hi < 0:
            raise RuntimeError(f"The input size {shape[d]}, plus negative padding {lo} and {hi} resulted in a "
                               f"negative output size, which is invalid. Check dimension {d} of your input.")
    if mode == "constant":
        return _ConstantPad.apply(input, tuple(pairs), 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {nd}D input tensor.\n"
                                  + _NON_CONSTANT)
    out = input
    for d in range(nd - k, nd):
        lo, hi = pairs[d]
        if lo or hi:
            idx = _pad_index(shape[d], lo, hi, mode, d, shape)
            out = _Take.apply(out, d, idx, shape[d])
    return out
