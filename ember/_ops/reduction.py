"""Reductions over dims: sums and products, extremes, statistics, cumulative ops, sorting, logic.

Few primitives carry gradients here: Sum, Prod, the tie-splitting Extreme (amax, amin, the
full max/min/median), Var/Std, Logsumexp, Cumsum/Cumprod, and the Gather/Scatter pair.
Every op that returns (values, indices) picks its indices with NumPy and gathers the values,
so its gradient is Gather's: the output gradient scattered back to the chosen elements.
"""
from __future__ import annotations

import math
import warnings
from collections import namedtuple
from types import SimpleNamespace

from .. import _complex32, _dtype
from .._backend import xp
from .._dtype import _BF16, is_float, is_half
from .._tensor import Tensor
from ..amp import autocast_mode as _amp
from ..autograd.function import Op
from .common import register, norm_dims, wrap_dim, FUNCTIONS
from .complex import cj


# ----------------------------------------------------------------------------- helpers
def _axes(input: Tensor, dim, op: str, empty_is_all: bool = True) -> tuple:
    """``dim`` as sorted non-negative axes; ``()`` (or None) means every axis, as torch's sum does."""
    nd = input._data.ndim
    if dim is not None and not isinstance(dim, (int, xp.integer)) and len(dim) == 0 and empty_is_all:
        dim = None
    dims = norm_dims(dim, nd, op)
    return dims if nd else ()  # a 0-dim tensor accepts dim 0 or -1 but has no axis to reduce


def _expand_back(g: Tensor, in_shape, dims, keepdim: bool) -> Tensor:
    """Broadcast a reduced gradient back over the reduced dims (an array, in an array_backward formula)."""
    if not keepdim and dims:
        g = g.reshape(_kept_shape(in_shape, dims))
    if not isinstance(g, Tensor):  # a plain backward: a copy, for NumPy's broadcast_to costs microseconds
        out = xp.empty(in_shape, g.dtype)
        out[...] = g
        return out
    return g.expand(in_shape)


def _kept_shape(shape, dims) -> tuple:
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _count(shape, dims) -> int:
    return math.prod(shape[d] for d in dims)


def _int_acc(input: Tensor, dtype):
    """The accumulation dtype of sum/prod/cumsum: ``dtype``, else int64 for integers and bools."""
    if dtype is not None:
        return _dtype.as_dtype(dtype).np
    return xp.int64 if input._data.dtype.kind in "bui" else None


# what torch's CPU scans (cumsum, cumprod, logcumsumexp) accumulate in, rounding each running value once: its
# acc_type, float32 for the half types and double for float32
_SCAN_ACC = {xp.dtype(xp.float16): xp.float32, xp.dtype(xp.float32): xp.float64, xp.dtype(xp.complex64): xp.complex128}
if _BF16 is not None:
    _SCAN_ACC[_BF16] = xp.float32


def _scan_acc(x, dt):
    """The dtype a running sum or product of ``x`` accumulates in; ``dt``, the asked one, when it differs."""
    return _SCAN_ACC.get(x.dtype, dt) if dt is None or dt == x.dtype else dt


def _cast_first(input: Tensor, dtype) -> Tensor:
    # casting a float input up front lets Cast's backward bring the gradient back to the input's dtype
    if dtype is not None and _dtype.as_dtype(dtype).is_floating_point and input.dtype != _dtype.as_dtype(dtype):
        return input.to(dtype)
    return input


def _const(a) -> Tensor:
    return Tensor._make(xp.asarray(a))


def _name(d) -> str:
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool", "float16": "Half", "float32": "Float", "float64": "Double"}.get(d.name, d.name)


# ----------------------------------------------------------------------------- named tuples
def _return_type(name: str, fields=("values", "indices")):
    """A named tuple printed as torch prints ``torch.return_types.<name>``."""
    cls = namedtuple(name, fields)
    cls.__module__ = "ember.return_types"
    cls.__repr__ = lambda self: (f"ember.return_types.{name}(\n"
                                 + ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self)) + ")")
    return cls


return_types = SimpleNamespace(**{n: _return_type(n) for n in ("max", "min", "median", "sort", "topk", "kthvalue",
                                                                "cummax", "cummin")},
                               aminmax=_return_type("aminmax", ("min", "max")))


# ----------------------------------------------------------------------------- gather / scatter
class Gather(Op):
    """Elements of ``x`` at ``idx`` along ``axis`` (dropped unless ``keepdim``); the gradient goes back to them."""

    @staticmethod
    def forward(x, idx, axis, keepdim):
        out = xp.take_along_axis(x, idx, axis)
        return out if keepdim else out.squeeze(axis)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, idx, ctx.axis, _ = inputs
        ctx.in_shape = x._data.shape
        ctx.save_for_backward(idx)

    @staticmethod
    def backward(ctx, g):
        idx, = ctx.saved_tensors
        return Scatter.apply(g, idx, ctx.axis, ctx.in_shape), None, None, None


class Scatter(Op):
    """Zeros of ``shape`` plus ``g`` added at ``idx`` along ``axis`` (repeated indices accumulate)."""

    @staticmethod
    def forward(g, idx, axis, shape):
        out = xp.zeros(shape, dtype=g.dtype)
        where = list(xp.ix_(*[xp.arange(n) for n in idx.shape]))
        where[axis] = idx
        xp.add.at(out, tuple(where), g.reshape(idx.shape))
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        g, idx, ctx.axis, _ = inputs
        ctx.keepdim = g.ndim == idx.ndim
        ctx.save_for_backward(idx)

    @staticmethod
    def backward(ctx, g):
        idx, = ctx.saved_tensors
        return Gather.apply(g, idx, ctx.axis, ctx.keepdim), None, None, None


def _variant(base, name: str, node: str):
    """A copy of an Op whose graph node reads as torch's (``grad_fn`` shown as ``MaxBackward0``)."""
    cls = type(name, (base,), {})
    cls._Node.__name__ = cls._Node.__qualname__ = node
    return cls


_GATHERS = {op: _variant(Gather, op.capitalize(), node) for op, node in
            [("max", "MaxBackward0"), ("min", "MinBackward0"), ("median", "MedianBackward1"),
             ("sort", "SortBackward0"), ("topk", "TopkBackward0"), ("kthvalue", "KthvalueBackward0"),
             ("cummax", "CummaxBackward0"), ("cummin", "CumminBackward0")]}


def _pick(input: Tensor, idx, axis: int, keepdim: bool, kind):
    """(values, indices) from indices chosen along ``axis`` (kept as a size-1 or size-k axis)."""
    idx = idx.astype(xp.int64, copy=False)
    values = _GATHERS[kind.__name__].apply(input, Tensor._make(idx), axis, keepdim)
    return kind(values, Tensor._make(idx if keepdim else idx.squeeze(axis)))


def _along(input: Tensor, dim, op: str, allow_empty: bool = False):
    """The axis of a values-and-indices op (None for a 0-dim input), checking it is not empty."""
    axis = wrap_dim(int(dim), input._data.ndim, op)
    if input._data.ndim == 0:
        return None
    if not allow_empty and input._data.shape[axis] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {axis} to have non-zero size.")
    return axis


def _scalar_pick(input: Tensor, kind):
    # a 0-dim input is its own max/median/sort, at index 0
    return kind(_GATHERS[kind.__name__].apply(input.reshape(1), Tensor._make(xp.zeros(1, xp.int64)), 0, False),
                Tensor._make(xp.zeros((), xp.int64)))


# ----------------------------------------------------------------------------- sum, mean, prod
class Sum(Op):
    batching = "dims"
    array_backward = True

    @staticmethod
    def forward(x, dims, keepdim, dt):
        if is_half(x.dtype):  # NumPy would add in float16 (ones stop at 2048): in float32, rounded once, as torch
            return xp.sum(x, axis=dims, keepdims=keepdim, dtype=xp.float32).astype(x.dtype)
        return x.sum(axis=dims, keepdims=keepdim, dtype=dt)  # (the method: xp.sum's wrappers cost microseconds)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.dims, ctx.keepdim, _ = inputs
        ctx.in_shape = x._data.shape

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.in_shape, ctx.dims, ctx.keepdim), None, None, None

    @staticmethod
    def jvp(inputs, out, t, *_):  # linear
        return Sum.apply(t, *inputs[1:])


class Mean(Op):
    batching = "dims"
    array_backward = True

    @staticmethod
    def forward(x, dims, keepdim):
        return xp.mean(x, axis=dims, keepdims=keepdim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.dims, ctx.keepdim = inputs
        ctx.in_shape = x._data.shape

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.in_shape, ctx.dims, ctx.keepdim) / _count(ctx.in_shape, ctx.dims), None, None

    @staticmethod
    def jvp(inputs, out, t, *_):  # linear
        return Mean.apply(t, *inputs[1:])


@register()
def sum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum of elements, over all dims or the given ones."""
    dims = _axes(input, dim, "sum")
    input = _cast_first(input, dtype)
    return Sum.apply(input, dims, keepdim, _int_acc(input, dtype))


@register()
def mean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean, over all dims or the given ones."""
    if dtype is not None:
        input = input.to(dtype)
    if is_half(input._data.dtype) or input._data.dtype.kind == "V":  # in float32, rounded back, as torch's kernel
        _complex32.refuse(input, "sum_cpu")
        return mean(input.float(), dim, keepdim).to(input.dtype)
    if input._data.dtype.kind not in "fc":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {_name(input.dtype)}")
    dims = _axes(input, dim, "mean")
    if not _count(input._data.shape, dims):
        return sum(input, dims, keepdim) * float("nan")  # the mean of nothing is NaN, without NumPy's warning
    return Mean.apply(input, dims, keepdim)


def _nan_to_zero(input: Tensor) -> Tensor:
    if not is_float(input._data.dtype):
        return input
    return FUNCTIONS["where"](FUNCTIONS["isnan"](input), 0.0, input)


@register()
def nansum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum of the elements that are not NaN."""
    return sum(_nan_to_zero(input), dim, keepdim, dtype=dtype)


@register()
def nanmean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean of the elements that are not NaN."""
    if dtype is not None:
        input = input.to(dtype)
    if not is_float(input._data.dtype):
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{_name(input.dtype)}")
    # counted in int64 for the half types, whose sums stop growing at 256 (bfloat16) or 2048 (float16)
    count = Tensor._make(xp.sum(~xp.isnan(input._data), axis=_axes(input, dim, "nanmean"), keepdims=keepdim,
                                dtype=xp.int64 if is_half(input._data.dtype) else input._data.dtype))
    return nansum(input, dim, keepdim) / count


class Prod(Op):
    batching = "dims"
    saves_output = True

    @staticmethod
    def forward(x, axis, keepdim, dt):
        return xp.prod(x, axis=axis, keepdims=keepdim, dtype=dt)  # bfloat16 multiplied in bfloat16, as torch

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.axis, ctx.keepdim, _ = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        dims = tuple(range(x.ndim)) if ctx.axis is None else (ctx.axis,)
        g = _expand_back(g, x.shape, dims, ctx.keepdim)
        if _count(x.shape, dims) == 1:  # a product of one element is that element
            return g, None, None, None
        # complex: the conjugate of each partial derivative, torch's convention
        if not (x._data == 0).any():
            return g * cj(_expand_back(ctx.output, x.shape, dims, ctx.keepdim) / x), None, None, None
        # with zeros, out / x is undefined: multiply the other elements explicitly
        flat = x.reshape(-1) if ctx.axis is None else x
        others = _prod(_others(flat, 0 if ctx.axis is None else ctx.axis), 2)
        return g * cj(others.reshape(x.shape)), None, None, None


def _others(x: Tensor, axis: int) -> Tensor:
    """Shape (A, n, n, B) from x of shape (A, n, B) around ``axis``: row i is x with element i set to 1."""
    s = x._data.shape
    a, n, b = math.prod(s[:axis]), s[axis], math.prod(s[axis + 1:])
    eye = xp.eye(n, dtype=x._data.dtype).reshape(1, n, n, 1)
    return x.reshape(a, 1, n, b) * _const(1 - eye) + _const(eye)


def _prod(x: Tensor, axis: int) -> Tensor:
    return Prod.apply(x, axis, False, None)


@register()
@_amp.fp32
def prod(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of elements, over all dims or one dim."""
    if dim is not None and not isinstance(dim, (int, xp.integer)):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    axis = None if dim is None else wrap_dim(int(dim), input._data.ndim, "prod")
    if input._data.ndim == 0:
        axis = None
    input = _cast_first(input, dtype)
    return Prod.apply(input, axis, keepdim and axis is not None, _int_acc(input, dtype))


# ----------------------------------------------------------------------------- extremes
class Extreme(Op):
    """A value chosen among the reduced elements (amax, amin, median); ties share the gradient evenly."""

    batching = "dims"

    @staticmethod
    def forward(x, dims, keepdim, reducer):
        return reducer(x, axis=dims, keepdims=keepdim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.dims, ctx.keepdim, _ = inputs
        x = x._data
        y = output.reshape(_kept_shape(x.shape, ctx.dims)) if not ctx.keepdim else output
        hit = (x == y) | (xp.isnan(x) & xp.isnan(y))
        # the choice is piecewise constant in x, so these weights are constants of the graph
        ctx.save_for_backward(_const(hit / xp.sum(hit, axis=ctx.dims, keepdims=True, dtype=x.dtype)))

    @staticmethod
    def backward(ctx, g):
        w, = ctx.saved_tensors
        return _expand_back(g, w.shape, ctx.dims, ctx.keepdim) * w, None, None, None


_EXTREMES = {op: _variant(Extreme, op.capitalize(), node) for op, node in
             [("max", "MaxBackward1"), ("min", "MinBackward1"), ("amax", "AmaxBackward0"), ("amin", "AminBackward0"),
              ("median", "MedianBackward0")]}


def _extreme(input: Tensor, dim, keepdim: bool, op: str, reducer) -> Tensor:
    dims = _axes(input, dim, op)
    shape = input._data.shape
    if input._data.size == 0:
        if dim is None:
            raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        for d in dims:
            if shape[d] == 0:
                raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")
    return _EXTREMES[op].apply(input, dims, keepdim, reducer)


@register()
def amax(input, dim=(), keepdim: bool = False, *, out=None) -> Tensor:
    """Largest element over the given dims (all by default); ties share the gradient."""
    return _out("amax", _extreme(input, None if dim == () else dim, keepdim, "amax", xp.max), out, input)


@register()
def amin(input, dim=(), keepdim: bool = False, *, out=None) -> Tensor:
    """Smallest element over the given dims (all by default); ties share the gradient."""
    return _out("amin", _extreme(input, None if dim == () else dim, keepdim, "amin", xp.min), out, input)


def _out(op: str, result, out, *inputs):
    """torch's ``out=`` (see indexing.write_out, imported late: indexing loads after this file)."""
    if out is None:
        return result
    from .indexing import write_out
    return write_out(op, result, out, *inputs)


def _max_min(op: str, reducer, picker, binary: str):
    def fn(input, dim=None, keepdim: bool = False):
        if isinstance(dim, Tensor):
            return FUNCTIONS[binary](input, dim)  # max(a, b) is the elementwise maximum
        if dim is None:
            return _extreme(input, None, False, op, reducer)
        axis = _along(input, dim, op)
        kind = getattr(return_types, op)
        if axis is None:
            return _scalar_pick(input, kind)
        return _pick(input, picker(input._data, axis=axis, keepdims=True), axis, keepdim, kind)
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = (f"The {op}imum of all elements; with ``dim``, (values, indices) along it; "
                  f"with a tensor, the elementwise {binary}.")
    return register(op)(fn)


max = _max_min("max", xp.max, xp.argmax, "maximum")
min = _max_min("min", xp.min, xp.argmin, "minimum")


def _arg(op: str, picker):
    def fn(input, dim=None, keepdim: bool = False) -> Tensor:
        a = input._data
        if a.dtype == xp.bool_:
            raise RuntimeError(f"{op}(): does not support bool input")
        if dim is None:
            if a.size == 0:
                raise IndexError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0.")
            idx = xp.asarray(picker(a.reshape(-1)), dtype=xp.int64)
            return Tensor._make(idx.reshape((1,) * a.ndim) if keepdim else idx)
        axis = _along(input, dim, op)
        if axis is None:
            return Tensor._make(xp.zeros((), xp.int64))
        return Tensor._make(xp.asarray(picker(a, axis=axis, keepdims=keepdim), dtype=xp.int64))
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = f"Index of the {op[3:]}imum, over the flattened input or along ``dim``."
    return register(op)(fn)


argmax = _arg("argmax", xp.argmax)
argmin = _arg("argmin", xp.argmin)


# ----------------------------------------------------------------------------- median, sort, topk
def _lower_median(a, axis=None, keepdims=False):
    flat = xp.sort(a.reshape(-1))
    if is_float(flat.dtype) and (flat.size == 0 or xp.isnan(flat[-1])):
        return xp.asarray(xp.nan, dtype=a.dtype)  # NaN propagates; the median of nothing is NaN
    return flat[(flat.size - 1) // 2]


def _median_index(a, axis: int):
    order = xp.argsort(a, axis=axis, kind="stable")
    mid = xp.take(order, [(a.shape[axis] - 1) // 2], axis=axis)
    if is_float(a.dtype):
        nan = xp.isnan(a)
        has = nan.any(axis=axis, keepdims=True)
        mid = xp.where(has, xp.argmax(nan, axis=axis, keepdims=True), mid)  # a row with NaN gives its first NaN
    return mid


def _median(op: str, input, dim, keepdim: bool, whole, index):
    """median/nanmedian: ``whole(array)`` over all elements, else (values, indices) at ``index(array, axis)``."""
    if input._data.dtype == xp.bool_:
        raise NotImplementedError(f"\"{op}\" not implemented for 'Bool'")
    if dim is None:
        return _EXTREMES[op].apply(input, tuple(range(input._data.ndim)), False, whole)
    axis = _along(input, dim, op)
    if axis is None:
        return _scalar_pick(input, getattr(return_types, op))
    return _pick(input, index(input._data, axis), axis, keepdim, getattr(return_types, op))


@register()
def median(input, dim=None, keepdim: bool = False):
    """The lower median of all elements; with ``dim``, (values, indices) along it."""
    return _median("median", input, dim, keepdim, _lower_median, _median_index)


def _argsort(a, axis: int, descending: bool):
    """Stable order along ``axis``; NaN counts as the largest value, as in torch."""
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable")
    # stable descending: sort the reversed array, then reverse the order, so equal values keep theirs
    n = a.shape[axis]
    rev = xp.flip(xp.argsort(xp.flip(a, axis), axis=axis, kind="stable"), axis)
    return n - 1 - rev


@register()
def sort(input, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """(values, indices) sorted along ``dim`` (always stable)."""
    axis = _along(input, dim, "sort", allow_empty=True)
    if axis is None:
        return _scalar_pick(input, return_types.sort)
    return _pick(input, _argsort(input._data, axis, descending), axis, True, return_types.sort)


@register()
def argsort(input, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """Indices that sort ``input`` along ``dim`` (always stable)."""
    return sort(input, dim, descending).indices


@register()
def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (or smallest) elements along ``dim``, as (values, indices)."""
    axis = _along(input, dim, "topk", allow_empty=True)
    if input._data.dtype == xp.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    size = 1 if axis is None else input._data.shape[axis]
    if not 0 <= k <= size:
        raise RuntimeError(f"selected index k out of range (k={k}, size {size} of dim {dim} of topk's input "
                           f"of shape {list(input.shape)})")
    if axis is None:
        return _scalar_pick(input, return_types.topk)
    order = _argsort(input._data, axis, largest)
    return _pick(input, xp.take(order, range(k), axis=axis), axis, True, return_types.topk)


@register()
def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False, *, out=None):
    """The ``k``-th smallest element along ``dim``, as (values, indices)."""
    if input._data.dtype == xp.bool_:
        raise NotImplementedError("\"kthvalue_cpu\" not implemented for 'Bool'")
    axis = _along(input, dim, "kthvalue", allow_empty=True)
    size = 1 if axis is None else input._data.shape[axis]
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim} "
                           f"(k={k}, input of shape {list(input.shape)})")
    if axis is None:
        return _scalar_pick(input, return_types.kthvalue)
    order = _argsort(input._data, axis, False)
    result = _pick(input, xp.take(order, [k - 1], axis=axis), axis, keepdim, return_types.kthvalue)
    return _out("kthvalue", result, out, input)


@register()
def aminmax(input, *, dim=None, keepdim: bool = False, out=None):
    """(min, max) over all dims or one dim."""
    result = return_types.aminmax(amin(input, () if dim is None else dim, keepdim),
                                  amax(input, () if dim is None else dim, keepdim))
    return _out("aminmax", result, out, input)


def _running(op: str, accumulate):
    def fn(input, dim: int):
        axis = _along(input, dim, op, allow_empty=True)
        kind = getattr(return_types, op)
        if axis is None:
            return _scalar_pick(input, kind)
        a = input._data
        best = accumulate(a, axis=axis)
        pos = xp.arange(a.shape[axis]).reshape((-1,) + (1,) * (a.ndim - axis - 1))
        # torch moves to the latest of equal values, and to each NaN (which then stays the value)
        hit = (a == best) | (xp.isnan(a) if is_float(a.dtype) else False)
        idx = xp.maximum.accumulate(xp.where(hit, pos, 0), axis=axis)
        return _pick(input, idx, axis, True, kind)
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = f"Running {op[3:]}imum along ``dim`` and where it was found, as (values, indices)."
    return register(op)(fn)


cummax = _running("cummax", xp.maximum.accumulate)
cummin = _running("cummin", xp.minimum.accumulate)


# ----------------------------------------------------------------------------- var, std
class Var(Op):
    batching = "dims"

    @staticmethod
    def forward(x, dims, correction, keepdim):
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.var(x, axis=dims, ddof=correction, keepdims=keepdim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.dims, ctx.correction, ctx.keepdim = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        g = _expand_back(g, x.shape, ctx.dims, ctx.keepdim)
        dof = _count(x.shape, ctx.dims) - ctx.correction
        return g * (x - x.mean(ctx.dims, keepdim=True)) * (2 / dof if dof > 0 else math.inf), None, None, None


class Std(Op):
    batching = "dims"
    saves_output = True

    @staticmethod
    def forward(x, dims, correction, keepdim):
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.std(x, axis=dims, ddof=correction, keepdims=keepdim)

    setup_context = Var.setup_context

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        g = _expand_back(g, x.shape, ctx.dims, ctx.keepdim)
        out = _expand_back(ctx.output, x.shape, ctx.dims, ctx.keepdim)
        dof = _count(x.shape, ctx.dims) - ctx.correction
        return g * (x - x.mean(ctx.dims, keepdim=True)) / (out * dof if dof > 0 else out * 0), None, None, None


def _moments(op: str, cls, input, dim, unbiased, keepdim, correction):
    if is_half(input._data.dtype) or input._data.dtype.kind == "V":  # in float32, rounded back, as torch's kernel
        _complex32.refuse(input, op)  # torch computes complex32's, but ember has no complex var/std yet
        return _moments(op, cls, input.float(), dim, unbiased, keepdim, correction).to(input.dtype)
    if isinstance(dim, bool):  # var(x, False): the legacy unbiased-only form
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}(): pass either unbiased or correction, not both")
    if input._data.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dims = _axes(input, dim, op)
    c = correction if correction is not None else (1 if unbiased is None or unbiased else 0)
    if _count(input._data.shape, dims) - c > 0:
        return cls.apply(input, dims, c, keepdim)
    warnings.warn(f"{op}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                  "reduction factor (input numel divided by output numel).", UserWarning, stacklevel=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's own warning says the same
        return cls.apply(input, dims, c, keepdim)


@register()
def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance over all dims or the given ones, dividing by N - correction (default 1)."""
    return _moments("var", Var, input, dim, unbiased, keepdim, correction)


@register()
def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation over all dims or the given ones, dividing by N - correction (default 1)."""
    return _moments("std", Std, input, dim, unbiased, keepdim, correction)


@register(method=False)
def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> tuple:
    """(var, mean) over the same dims."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, _axes(input, dim, "var_mean"), keepdim))


@register(method=False)
def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> tuple:
    """(std, mean) over the same dims."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, _axes(input, dim, "std_mean"), keepdim))


# ----------------------------------------------------------------------------- logsumexp
class Logsumexp(Op):
    batching = "dims"
    # fused: shifting by the max keeps exp from overflowing, and the gradient exp(x - out) is the softmax
    saves_output = True

    @staticmethod
    def forward(x, dims, keepdim):
        m = xp.max(x, axis=dims, keepdims=True) if x.size else xp.zeros((1,) * x.ndim, x.dtype)
        m = xp.where(xp.isfinite(m), m, 0)
        # the half types: only the sum is in float32 (rounded once), each other step rounds, as torch's kernel
        acc = xp.float32 if is_half(x.dtype) else None
        with xp.errstate(divide="ignore"):
            out = xp.log(xp.sum(xp.exp(x - m), axis=dims, keepdims=True, dtype=acc).astype(x.dtype)) + m
        return out if keepdim else out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in dims))

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.dims, ctx.keepdim = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        out = _expand_back(ctx.output, x.shape, ctx.dims, ctx.keepdim)
        return _expand_back(g, x.shape, ctx.dims, ctx.keepdim) * (x - out).exp(), None, None


@register()
def logsumexp(input, dim, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input)))`` over ``dim``, computed without overflow."""
    if not is_float(input._data.dtype):
        input = input.to(_dtype.get_default_dtype())
    return Logsumexp.apply(input, _axes(input, dim, "logsumexp"), keepdim)


# ----------------------------------------------------------------------------- cumulative
class Cumsum(Op):
    batching = "dims"

    @staticmethod
    def forward(x, axis, dt, reverse):
        out = xp.cumsum(xp.flip(x, axis) if reverse else x, axis=axis, dtype=_scan_acc(x, dt))
        out = out.astype(dt or x.dtype, copy=False)
        return xp.flip(out, axis) if reverse else out

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.axis, ctx.reverse = inputs[1], inputs[3]

    @staticmethod
    def backward(ctx, g):
        # each input element feeds every later (earlier, when reversed) output
        return Cumsum.apply(g, ctx.axis, None, not ctx.reverse), None, None, None


class Cumprod(Op):
    batching = "dims"
    saves_output = True

    @staticmethod
    def forward(x, axis, dt):
        return xp.cumprod(x, axis=axis, dtype=_scan_acc(x, dt)).astype(dt or x.dtype, copy=False)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.axis = inputs[1]
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        axis = ctx.axis
        if not (x._data == 0).any():
            return Cumsum.apply(g * cj(ctx.output), axis, None, True) / cj(x), None, None
        # with zeros: d out_j / d x_i = product of x_0..x_j without x_i, for j >= i
        s = x.shape
        a, n, b = math.prod(s[:axis]), s[axis], math.prod(s[axis + 1:])
        partial = cj(Cumprod.apply(_others(x, axis), 2, None))
        later = xp.triu(xp.ones((n, n), dtype=x._data.dtype)).reshape(1, n, n, 1)
        grad = (partial * _const(later) * g.reshape(a, 1, n, b)).sum(2)
        return grad.reshape(s), None, None


def _cumulative(op: str, cls, input, dim, dtype, *extra) -> Tensor:
    axis = wrap_dim(int(dim), input._data.ndim, op)
    input = _cast_first(input, dtype)
    dt = _int_acc(input, dtype)
    if input._data.ndim == 0:
        return cls.apply(input.reshape(1), 0, dt, *extra).reshape(())
    return cls.apply(input, axis, dt, *extra)


@register()
def cumsum(input, dim: int, *, dtype=None) -> Tensor:
    """Running sums along ``dim``."""
    return _cumulative("cumsum", Cumsum, input, dim, dtype, False)


@register()
def cumprod(input, dim: int, *, dtype=None) -> Tensor:
    """Running products along ``dim`` (gradient exact with zeros in the input)."""
    return _cumulative("cumprod", Cumprod, input, dim, dtype)


# ----------------------------------------------------------------------------- counting and logic
@register()
def count_nonzero(input, dim=None) -> Tensor:
    """Number of non-zero elements, over all dims or the given ones."""
    dims = _axes(input, dim, "count_nonzero")
    return Tensor._make(xp.asarray(xp.count_nonzero(input._data, axis=dims), dtype=xp.int64))


@register()
def bincount(input, weights=None, minlength: int = 0) -> Tensor:
    """How often each value occurs in a 1-D non-negative integer tensor (the summed ``weights``, if given)."""
    from .common import _type_name
    a = input._data
    if a.dtype.kind not in "iu":
        raise NotImplementedError(f'"bincount_cpu" not implemented for \'{_type_name(input.dtype)}\'')
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        return Tensor._make(xp.bincount(a, minlength=minlength).astype(xp.int64))
    w = weights._data
    if w.shape != a.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    # torch keeps float32 weights' dtype and sums every other dtype in float64
    out_dtype = xp.float32 if w.dtype == xp.float32 else xp.float64
    return Tensor._make(xp.bincount(a, weights=w.astype(xp.float64), minlength=minlength).astype(out_dtype))


@register()
def unique(input, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The distinct values (sorted), with the inverse indices and counts when asked for."""
    a = input._data
    axis = None if dim is None else wrap_dim(int(dim), a.ndim, "unique")
    values, inverse, counts = xp.unique(a, return_inverse=True, return_counts=True, axis=axis)
    inverse = inverse.reshape(a.shape if axis is None else (-1,))
    out = (Tensor._make(values),)
    if return_inverse:
        out += (Tensor._make(inverse.astype(xp.int64)),)
    if return_counts:
        out += (Tensor._make(counts.astype(xp.int64)),)
    return out[0] if len(out) == 1 else out


def _logical(op: str, reducer):
    def fn(input, dim=None, keepdim: bool = False) -> Tensor:
        dims = _axes(input, dim, op, empty_is_all=False)
        try:
            out = reducer(input._data, axis=dims, keepdims=keepdim)
        except TypeError as e:  # complex32's records: through complex64, as torch computes them
            out = _complex32.fallback(op, reducer, (input,), e, axis=dims, keepdims=keepdim)
        # torch keeps uint8 for uint8 inputs, every other dtype gives bool
        return Tensor._make(xp.asarray(out, dtype=xp.uint8 if input._data.dtype == xp.uint8 else xp.bool_))
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = f"Whether {'every' if op == 'all' else 'any'} element is non-zero, over all dims or the given ones."
    return register(op)(fn)


all = _logical("all", xp.all)
any = _logical("any", xp.any)


# ----------------------------------------------------------------------------- more reductions (torch's long tail)
return_types.frexp = _return_type("frexp", ("mantissa", "exponent"))
return_types.mode = _return_type("mode")
return_types.nanmedian = _return_type("nanmedian")
return_types.histogram = _return_type("histogram", ("hist", "bin_edges"))
_GATHERS["mode"] = _variant(Gather, "Mode", "ModeBackward0")
_GATHERS["nanmedian"] = _variant(Gather, "Nanmedian", "NanmedianBackward1")
_EXTREMES["nanmedian"] = _variant(Extreme, "Nanmedian", "NanmedianBackward0")


def _rows(a, axis: int):
    """``a`` with ``axis`` moved last and the rest flattened: (rows, n), and the kept shape."""
    moved = xp.moveaxis(a, axis, -1)
    return moved.reshape(-1, a.shape[axis]), moved.shape[:-1]


def _unrow(idx, lead, axis: int):
    """Per-row indices (rows,) back to a size-1 axis at ``axis``."""
    return xp.moveaxis(idx.reshape(lead + (1,)), -1, axis)


@register()
def mode(input, dim: int = -1, keepdim: bool = False):
    """The smallest most frequent value along ``dim`` and its last index, as (values, indices)."""
    axis = _along(input, dim, "mode")
    if axis is None:
        return _scalar_pick(input, return_types.mode)
    rows, lead = _rows(input._data, axis)
    idx = xp.empty(rows.shape[0], xp.int64)
    for r, row in enumerate(rows):
        vals, counts = xp.unique(row, return_counts=True)
        best = vals[xp.argmax(counts)]  # the first maximum: the smallest of the most frequent values
        idx[r] = xp.flatnonzero(row == best)[-1]
    return _pick(input, _unrow(idx, lead, axis), axis, keepdim, return_types.mode)


def _nan_lower_median(a, axis=None, keepdims=False):
    flat = a.reshape(-1)
    if is_float(flat.dtype):
        flat = flat[~xp.isnan(flat)]
    if flat.size == 0:
        return xp.asarray(xp.nan, dtype=a.dtype)
    return xp.sort(flat)[(flat.size - 1) // 2]


def _nanmedian_index(a, axis: int):
    order = xp.argsort(a, axis=axis, kind="stable")  # NaN sorts last
    valid = (~xp.isnan(a)).sum(axis=axis, keepdims=True) if is_float(a.dtype) else a.shape[axis]
    k = xp.maximum(valid - 1, 0) // 2
    return xp.take_along_axis(order, xp.broadcast_to(k, order.shape[:axis] + (1,) + order.shape[axis + 1:]), axis)


@register()
def nanmedian(input, dim=None, keepdim: bool = False):
    """The lower median of the non-NaN elements; with ``dim``, (values, indices) along it."""
    return _median("nanmedian", input, dim, keepdim, _nan_lower_median, _nanmedian_index)


@register()
def msort(input) -> Tensor:
    """``input`` sorted along its first dim."""
    return sort(input, 0).values


class Logcumsumexp(Op):
    # fused: xp.logaddexp.accumulate never forms exp(x), so large inputs do not overflow
    saves_output = True

    @staticmethod
    def forward(x, axis):
        if not x.shape[axis]:
            return x.copy()
        return xp.logaddexp.accumulate(x, axis=axis, dtype=_scan_acc(x, None)).astype(x.dtype, copy=False)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.axis = inputs[1]
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        # d out_j / d x_i = exp(x_i - out_j) for j >= i: at most 1, so the masked (n, n) form is exact
        x, = ctx.saved_tensors
        axis, n = ctx.axis, x._data.shape[ctx.axis]
        xm, om, gm = (t.movedim(axis, -1) for t in (x, ctx.output, g))
        later = _const(xp.triu(xp.ones((n, n), dtype=bool)))
        diff = FUNCTIONS["where"](later, xm.unsqueeze(-1) - om.unsqueeze(-2), -math.inf)
        return (diff.exp() * gm.unsqueeze(-2)).sum(-1).movedim(-1, axis), None


@register()
def logcumsumexp(input, dim: int) -> Tensor:
    """``log(cumsum(exp(input)))`` along ``dim``, computed without overflow."""
    axis = wrap_dim(int(dim), input._data.ndim, "logcumsumexp")
    if not is_float(input._data.dtype):
        input = input.to(_dtype.get_default_dtype())
    if input._data.ndim == 0:
        return Logcumsumexp.apply(input.reshape(1), 0).reshape(())
    return Logcumsumexp.apply(input, axis)


# ----------------------------------------------------------------------------- quantiles
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(op: str, input, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool) -> Tensor:
    if input._data.dtype not in (xp.float32, xp.float64):
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype")
    if input._data.size == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    if isinstance(q, Tensor):
        if q._data.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor")
        if q._data.dtype != input._data.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor")
        qs = q._data
        if ((qs < 0) | (qs > 1)).any():
            raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
        scalar_q = q._data.ndim == 0
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {q}")
        qs, scalar_q = xp.asarray(float(q)), True
    qs = qs.reshape(-1).astype(input._data.dtype)  # ranks in the input's precision, as torch computes them
    nd = input._data.ndim
    if dim is None:
        x, kept = input.reshape(-1), (1,) * nd
    else:
        axis = wrap_dim(int(dim), nd, op)
        x = input.movedim(axis, -1) if nd else input.reshape(1)
        kept = tuple(1 if i == axis else s for i, s in enumerate(input._data.shape))
    s = sort(x, -1).values  # NaN sorts last
    n = s._data.shape[-1]
    nan = xp.isnan(s._data)
    count = (n - nan.sum(-1)) if ignore_nan else xp.full(s._data.shape[:-1], n)
    rank = qs * (count[..., None] - 1).astype(qs.dtype)       # rows + (nq,)
    if not ignore_nan:
        rank = xp.where(nan.any(-1)[..., None], n - 1, rank)  # a NaN in the row makes the quantile NaN
    rank = xp.clip(rank, 0, n - 1)                           # all-NaN rows read a NaN
    lo, hi = xp.floor(rank), xp.ceil(rank)
    if interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    elif interpolation == "nearest":
        lo = hi = xp.round(rank)  # half to even, as torch rounds
    w = rank - lo if interpolation == "linear" else xp.where(lo == hi, 0.0, 0.5)
    gather = FUNCTIONS["gather"]
    vlo = gather(s, -1, Tensor._make(lo.astype(xp.int64)))
    out = vlo
    if (lo != hi).any():
        vhi = gather(s, -1, Tensor._make(hi.astype(xp.int64)))
        diff = vhi - vlo
        out = vlo + diff * _const(w.astype(s._data.dtype))
        if interpolation == "linear" and isinstance(q, Tensor):  # differentiable in q too, as torch's:
            # d out / d q = (hi - lo) * (count - 1), added as a term whose value is zero
            scale = (count[..., None] - 1).astype(s._data.dtype) * (count[..., None] > 0)
            if not ignore_nan:
                scale = scale * ~nan.any(-1)[..., None]
            finite = _const(xp.isfinite(diff._data) & (scale != 0))
            dq = q.reshape(-1)
            out = out + FUNCTIONS["where"](finite, diff, 0.0) * (dq - dq.detach()) * _const(scale)
    out = out.movedim(-1, 0)                                  # (nq,) + rows
    rows = kept if keepdim else (() if dim is None else tuple(d for i, d in enumerate(input._data.shape)
                                                               if i != axis))
    return out.reshape((() if scalar_q else (qs.size,)) + rows)


@register()
@_amp.fp32
def quantile(input, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """The ``q``-th quantiles over all elements or along ``dim`` (NaN if a row holds NaN)."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


@register()
@_amp.fp32
def nanquantile(input, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """The ``q``-th quantiles ignoring NaN, over all elements or along ``dim``."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


# ----------------------------------------------------------------------------- differences and integrals
@register()
def diff(input, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """The ``n``-th forward difference along ``dim``, after concatenating ``prepend`` and ``append``."""
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    axis = wrap_dim(int(dim), input._data.ndim, "diff")
    parts = [p for p in (prepend, input, append) if p is not None]
    for p in parts:
        if p._data.ndim != input._data.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    x = FUNCTIONS["cat"](parts, axis) if len(parts) > 1 else input
    for _ in range(n):
        size = x._data.shape[axis]
        if size == 0:
            break
        later, earlier = x.narrow(axis, 1, size - 1), x.narrow(axis, 0, size - 1)
        x = FUNCTIONS["logical_xor"](later, earlier) if x._data.dtype == xp.bool_ else later - earlier
    return x


def _trapezoid_terms(op: str, y: Tensor, x, dim: int):
    """Each trapezoid's two heights added (times its width when ``x`` is given): twice its area, which torch
    computes in ``y``'s dtype (integers wrap) before halving. None for no points; and the axis."""
    axis = wrap_dim(int(dim), y._data.ndim, op)
    n = y._data.shape[axis]
    if n == 0:
        return None, axis
    pairs = y.narrow(axis, 1, n - 1) + y.narrow(axis, 0, n - 1)
    if x is None:
        return pairs, axis
    if x._data.ndim == 1:
        if x._data.shape[0] != n:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point")
        widths = diff(x).reshape((-1,) + (1,) * (y._data.ndim - axis - 1))
    else:
        widths = diff(x, dim=axis)
    return widths * pairs, axis


def _spacing(x, dx):
    """``(x, dx)``: a spacing given positionally (``trapezoid(y, 0.5)``) moves to ``dx``, which defaults to 1."""
    if x is not None and not isinstance(x, Tensor):
        return None, x
    return x, 1 if dx is None else dx


@register(method=False)
def trapezoid(y, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The trapezoidal rule along ``dim``, with sample points ``x`` or spacing ``dx`` (default 1)."""
    if x is not None and dx is not None:
        raise TypeError("trapezoid() received an invalid combination of arguments: pass x or dx, not both")
    x, dx = _spacing(x, dx)
    terms, axis = _trapezoid_terms("trapezoid", y, x, dim)
    if terms is None:
        return sum(y, axis) * 0
    if x is None:  # torch's formula for an even spacing: all points, less half of the two ends
        return (sum(y, axis) - (y.select(axis, 0) + y.select(axis, -1)) * 0.5) * dx
    return sum(terms, axis) / 2


@register(method=False)
def trapz(y, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Alias of :func:`trapezoid`."""
    return trapezoid(y, x, dx=dx, dim=dim)


@register(method=False)
def cumulative_trapezoid(y, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Running trapezoidal integrals along ``dim`` (one fewer element than ``y`` there)."""
    x, dx = _spacing(x, dx)
    terms, axis = _trapezoid_terms("cumulative_trapezoid", y, x, dim)
    if terms is None:
        return y * 0
    return cumsum(terms * (dx / 2), axis) if x is None else cumsum(terms, axis) / 2


# ----------------------------------------------------------------------------- searching and counting
def _side(op: str, right: bool, side) -> str:
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"{op}(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError(f"{op}(): side and right can't be set to opposites, got side of left while right "
                               "was True")
        return side
    return "right" if right else "left"


@register(method=False)
def searchsorted(sorted_sequence, input, *, out_int32: bool = False, right: bool = False, side=None,
                 sorter=None) -> Tensor:
    """Where ``input``'s values would be inserted into the innermost dim of ``sorted_sequence`` to keep it sorted."""
    side = _side("torch.searchsorted", right, side)
    seq = sorted_sequence._data
    if sorter is not None:
        if sorter._data.shape != seq.shape:
            raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same size, but got boundary "
                               f"tensor {list(seq.shape)} and got sorter tensor {list(sorter._data.shape)}")
        seq = xp.take_along_axis(seq, sorter._data, -1)
    scalar = not isinstance(input, Tensor)
    vals = xp.asarray(input) if scalar else input._data
    dt = xp.int32 if out_int32 else xp.int64
    if seq.ndim == 1:
        return Tensor._make(xp.asarray(xp.searchsorted(seq, vals, side=side), dtype=dt))
    if scalar or vals.shape[:-1] != seq.shape[:-1]:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(seq.shape)} and input value tensor {list(vals.shape)}")
    s2, v2 = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
    out = xp.stack([xp.searchsorted(s, v, side=side) for s, v in zip(s2, v2)]) if s2.shape[0] else xp.zeros(v2.shape)
    return Tensor._make(out.reshape(vals.shape).astype(dt))


@register(method=False)
def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The index of the bucket of ``boundaries`` (1-D, sorted) each value of ``input`` falls in."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


@register(method=False)
def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each element of ``elements`` is in ``test_elements`` (either may be a number)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments: expected at least one Tensor")
    a = elements._data if isinstance(elements, Tensor) else xp.asarray(elements)
    b = test_elements._data if isinstance(test_elements, Tensor) else xp.asarray(test_elements)
    return Tensor._make(xp.asarray(xp.isin(a, b, invert=invert), dtype=xp.bool_))


@register()
def unique_consecutive(input, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The first element of each run of equal consecutive values (slices along ``dim``), with inverse and counts."""
    a = input._data
    if dim is None:
        flat = a.reshape(-1)
        starts = xp.ones(flat.shape, bool)
        starts[1:] = flat[1:] != flat[:-1]
        values = flat[starts]
        inverse_shape = a.shape
    else:
        axis = wrap_dim(int(dim), a.ndim, "unique_consecutive")
        moved = xp.moveaxis(a, axis, 0).reshape(a.shape[axis], -1)
        starts = xp.ones(moved.shape[0], bool)
        starts[1:] = (moved[1:] != moved[:-1]).any(1)
        values = xp.take(a, xp.flatnonzero(starts), axis=axis)
        inverse_shape = (a.shape[axis],)
    inverse = (xp.cumsum(starts) - 1).astype(xp.int64).reshape(inverse_shape)
    counts = xp.diff(xp.append(xp.flatnonzero(starts), starts.size)).astype(xp.int64)
    out = (Tensor._make(values),)
    if return_inverse:
        out += (Tensor._make(inverse),)
    if return_counts:
        out += (Tensor._make(counts),)
    return out[0] if len(out) == 1 else out


def _histogram_range(op: str, a, lo: float, hi: float):
    if lo > hi:
        raise RuntimeError(f"{op}: min should not exceed max, but got min {lo} max {hi}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"{op}: range of [{lo}, {hi}] is not finite")
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:  # torch widens an empty range: histc by one on each side, histogram by a half
        lo, hi = (lo - 1, hi + 1) if op == "torch.histc" else (lo - 0.5, hi + 0.5)
    return lo, hi


@register()
def histc(input, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """A histogram of ``bins`` equal bins between ``min`` and ``max`` (the data's range when they are equal)."""
    a = input._data
    if not is_float(a.dtype):
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{_name(input.dtype)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = _histogram_range("torch.histc", a, float(min), float(max))
    hist, _ = xp.histogram(a, bins=bins, range=(lo, hi))
    return Tensor._make(hist.astype(a.dtype))


@register()
def histogram(input, bins=100, *, range=None, weight=None, density: bool = False):
    """(hist, bin_edges): counts (or weighted sums, or a density) in ``bins`` bins or between given edges."""
    a = input._data
    w = None if weight is None else weight._data
    if isinstance(bins, Tensor):
        edges = bins._data
    else:
        lo, hi = (0.0, 0.0) if range is None else (float(range[0]), float(range[1]))
        lo, hi = _histogram_range("torch.histogram", a, lo, hi)
        edges = xp.linspace(lo, hi, int(bins) + 1).astype(a.dtype)
    hist, _ = xp.histogram(a, bins=edges, weights=w, density=density)
    return return_types.histogram(Tensor._make(hist.astype(a.dtype)), Tensor._make(edges.astype(a.dtype)))


return_types.histogramdd = _return_type("histogramdd", ("hist", "bin_edges"))


@register(method=False)
def histogramdd(input, bins=10, *, range=None, weight=None, density: bool = False):
    """(hist, bin_edges): a histogram of the points in ``input``'s rows (its last dim holds the coordinates)."""
    a = input._data
    ndim = a.shape[-1]
    points = a.reshape(-1, ndim)
    if isinstance(bins, int):
        bins = [bins] * ndim
    if len(bins) != ndim:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost dimension of the input.")
    edges = []
    for k, b in enumerate(bins):
        if isinstance(b, Tensor):
            edges.append(b._data)
            continue
        lo, hi = (0.0, 0.0) if range is None else (float(range[2 * k]), float(range[2 * k + 1]))
        lo, hi = _histogram_range("torch.histogramdd", points[:, k], lo, hi)
        edges.append(xp.linspace(lo, hi, int(b) + 1).astype(a.dtype))
    # each point's bin by binary search in each dim's edges (the last edge inclusive), as torch's kernel
    inside = xp.ones(points.shape[0], bool)
    flat = xp.zeros(points.shape[0], xp.int64)
    for k, e in enumerate(edges):
        x = points[:, k]
        inside &= (x >= e[0]) & (x <= e[-1])
        pos = xp.searchsorted(e, x, side="right") - 1
        flat = flat * (e.size - 1) + xp.clip(pos, 0, e.size - 2)
    shape = tuple(e.size - 1 for e in edges)
    w = xp.ones(points.shape[0]) if weight is None else weight._data.reshape(-1).astype(xp.float64)
    hist = xp.bincount(flat[inside], w[inside], math.prod(shape)).reshape(shape)
    if density:
        volume = xp.ones(shape)
        for k, e in enumerate(edges):
            volume = volume * xp.diff(e).astype(xp.float64).reshape((-1,) + (1,) * (len(edges) - k - 1))
        hist = hist / hist.sum() / volume
    return return_types.histogramdd(Tensor._make(hist.astype(a.dtype)),
                                    tuple(Tensor._make(e.astype(a.dtype)) for e in edges))


# ----------------------------------------------------------------------------- segments
# (empty segment's value, how ``initial`` joins a segment's values) for each reduction
_SEGMENT = {"sum": (0.0, lambda r, i: r + i), "mean": (xp.nan, None), "prod": (1.0, lambda r, i: r * i),
            "max": (-xp.inf, lambda r, i: r.clamp(min=i)), "min": (xp.inf, lambda r, i: r.clamp(max=i))}


@register(method=False)
def segment_reduce(data, reduce: str, *, lengths=None, indices=None, offsets=None, axis: int = 0,
                   unsafe: bool = False, initial=None) -> Tensor:
    """Reduce consecutive segments of ``data`` along ``axis``, given by their ``lengths`` or ``offsets``."""
    if reduce not in _SEGMENT:
        raise RuntimeError(f"segment_reduce(): unsupported reduction {reduce}")
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if (lengths is None) == (offsets is None):
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined")
    axis = wrap_dim(axis, data._data.ndim, "segment_reduce")
    if offsets is not None:
        bounds = offsets._data.reshape(-1).tolist()
    else:
        bounds = [0] + xp.cumsum(lengths._data.reshape(-1)).tolist()
        if (lengths._data < 0).any():
            raise RuntimeError("segment_reduce(): lengths contains negative value!")
    if not unsafe and bounds[-1] != data._data.shape[axis]:
        raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to sum to data.size(axis) "
                           "when !unsafe.")
    empty_value, join = _SEGMENT[reduce]
    rest = data._data.shape[:axis] + data._data.shape[axis + 1:]
    outs = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b == a:
            value = empty_value if initial is None else initial
            outs.append(Tensor._make(xp.full(rest, value, dtype=data._data.dtype)))
            continue
        part = data.narrow(axis, a, b - a)
        if reduce == "mean":
            total = sum(part, axis)
            outs.append((total if initial is None else total + initial) / (b - a))
            continue
        r = {"sum": sum, "prod": prod, "max": amax, "min": amin}[reduce](part, axis)
        outs.append(r if initial is None else join(r, initial))
    return FUNCTIONS["stack"](outs, axis)


# ----------------------------------------------------------------------------- finite differences
def _gradient_along(f: Tensor, axis: int, h, edge_order: int) -> Tensor:
    """numpy/torch's second-order central differences along ``axis``, one-sided at the ends (order 1 or 2);
    ``h`` is the spacing (a number) or the coordinates (a 1-D tensor)."""
    n = f._data.shape[axis]

    def at(start, length=1):
        return f.narrow(axis, start % n, length)

    if not isinstance(h, Tensor):
        mid = (at(2, n - 2) - at(0, n - 2)) / (2 * h)
        if edge_order == 1:
            first, last = (at(1) - at(0)) / h, (at(-1) - at(-2)) / h
        else:
            first = (at(0) * -3 + at(1) * 4 - at(2)) / (2 * h)
            last = (at(-3) - at(-2) * 4 + at(-1) * 3) / (2 * h)
        return FUNCTIONS["cat"]([first, mid, last], axis)
    dx = diff(h).reshape((-1,) + (1,) * (f._data.ndim - axis - 1))
    d1, d2 = dx.narrow(0, 0, n - 2), dx.narrow(0, 1, n - 2)
    mid = (at(0, n - 2) * (-d2 / (d1 * (d1 + d2))) + at(1, n - 2) * ((d2 - d1) / (d1 * d2))
           + at(2, n - 2) * (d1 / (d2 * (d1 + d2))))
    if edge_order == 1:
        first, last = (at(1) - at(0)) / dx[:1], (at(-1) - at(-2)) / dx[-1:]
    else:
        a, b = dx[:1], dx[1:2]
        first = (at(0) * (-(2 * a + b) / (a * (a + b))) + at(1) * ((a + b) / (a * b)) + at(2) * (-a / (b * (a + b))))
        a, b = dx[-2:-1], dx[-1:]
        last = (at(-3) * (b / (a * (a + b))) + at(-2) * (-(a + b) / (a * b)) + at(-1) * ((2 * b + a) / (b * (a + b))))
    return FUNCTIONS["cat"]([first, mid, last], axis)


@register(method=False)
def gradient(input, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """Estimates of ``input``'s partial derivatives along ``dim`` (every dim by default), one tensor each."""
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    dims = norm_dims(dim, input._data.ndim, "gradient") if dim is None or isinstance(dim, int) else \
        tuple(wrap_dim(d, input._data.ndim, "gradient") for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
    spacing = 1 if spacing is None else spacing
    steps = list(spacing) if isinstance(spacing, (list, tuple)) else [spacing] * len(dims)
    if len(steps) != len(dims):
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's size to match the "
                           f"number of dims in dim (got {len(steps)} spacings for {len(dims)} dims)")
    for d in dims:
        if input._data.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    f = input if input.is_floating_point() else input.to(_dtype.get_default_dtype())
    steps = [s.item() if isinstance(s, Tensor) and s._data.ndim == 0 else s for s in steps]
    return tuple(_gradient_along(f, d, h, edge_order) for d, h in zip(dims, steps))
