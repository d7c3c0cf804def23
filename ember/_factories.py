"""Tensor factories: tensor, zeros, ones, arange, ... (random ones live in ember/random.py)."""
from __future__ import annotations

import math
import warnings

from ._backend import xp

from . import _complex32, _dtype
from ._backend import ndarray
from ._tensor import Tensor
from ._ops.common import register
from ._ops.out import resize_out
from .autograd.function import NO_VERSION
from .autograd.grad_mode import state


def _np_dtype(dtype, default=None):
    if dtype is None:
        return default
    return _dtype.as_dtype(dtype).np


def _finish(arr, requires_grad: bool, device=None, out: Tensor | None = None) -> Tensor:
    if device is not None and str(device).split(":")[0] != "cpu":
        from .cuda import unavailable
        raise unavailable(device)
    t = Tensor._make(arr)
    if state.inference:
        t._vc = NO_VERSION
    if requires_grad:
        t.requires_grad_(True)
    if out is not None:  # torch resizes ``out`` to the result and writes it there
        resize_out(out, t._data.shape, warn=False)
        out.copy_(t)
        return out
    return t


def out_dtype(dtype, out: Tensor | None, op: str):
    """The dtype a factory given ``out=`` makes: ``dtype``, else ``out``'s; torch refuses a ``dtype`` that is not
    ``out``'s (RuntimeError), rather than casting into it."""
    if out is None:
        return dtype
    if dtype is None:
        return out.dtype
    if _dtype.as_dtype(dtype) is not out.dtype:
        from ._ops.common import _type_name
        raise RuntimeError(f"{op}: dtype {_type_name(_dtype.as_dtype(dtype))} does not match dtype of out parameter "
                           f"({_type_name(out.dtype)})")
    return dtype


def _ranged(arr, out: Tensor | None, op: str | None = None):
    """torch's range factories (arange, range, linspace, logspace) write into an ``out`` of as many elements in its
    own shape; otherwise it is resized (arange first warns, as its kernel does, when ``out`` held elements)."""
    if out is None:
        return arr
    if out._data.size == arr.size:
        return arr.reshape(out._data.shape)
    if op and out._data.size:
        warnings.warn(f"The number of elements in the out tensor of shape {list(out._data.shape)} is "
                      f"{out._data.size} which does not match the computed number of elements {arr.size}. Note that "
                      "this may occur as a result of rounding error. The out tensor will be resized to a tensor of "
                      f"shape ({arr.size},).", UserWarning, stacklevel=4)
    return arr


def _infer_array(data, dtype):
    """An array from Python data with torch's dtype inference (floats -> default dtype, ints -> int64)."""
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, ndarray):
        arr = data
    elif isinstance(data, xp.generic):
        arr = xp.asarray(data)
    else:
        data = _untensor(data)
        arr = xp.asarray(data)
        if dtype is None:
            if arr.dtype.kind == "f":
                arr = arr.astype(_dtype.get_default_dtype().np)
            elif arr.dtype.kind in "iu":
                arr = arr.astype(xp.int64)
            elif arr.dtype.kind == "c":
                arr = arr.astype(_dtype.get_default_dtype().to_complex().np)
            elif arr.dtype.kind == "O" or arr.dtype.kind in "US":
                raise TypeError(f"ember.tensor: could not infer dtype of {type(data).__name__} "
                                f"(a ragged or non-numeric sequence?)")
    if dtype is not None:
        dt = _np_dtype(dtype)
        # complex32's record: NumPy would copy a number into both of its fields
        arr = _complex32.narrow(arr) if dt is _dtype.CHALF else arr.astype(dt, copy=False)
    _dtype.from_np(arr.dtype)
    return arr


def _untensor(data):
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_untensor(d) for d in data]
    return data


@register(method=False)
def tensor(data, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays)."""
    try:
        arr = _infer_array(data, dtype)
    except ValueError as e:
        raise ValueError(f"ember.tensor: {e}") from None
    arr = xp.array(arr, copy=True, order="C")
    return _finish(arr, requires_grad, device)


@register(method=False)
def as_tensor(data, dtype=None, device=None) -> Tensor:
    """A tensor from ``data``, sharing memory with it when possible."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    return _finish(_infer_array(data, dtype), False, device)


asarray = register("asarray", method=False)(lambda obj, *, dtype=None, device=None, copy=None, requires_grad=False:
                                            tensor(obj, dtype=dtype, requires_grad=requires_grad) if copy else
                                            _finish(_infer_array(obj, dtype), requires_grad, device))


@register(method=False)
def from_numpy(ndarray_: ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (no copy)."""
    if not isinstance(ndarray_, ndarray):
        raise TypeError(f"expected xp.ndarray (got {type(ndarray_).__name__})")
    _dtype.from_np(ndarray_.dtype)
    return Tensor._make(ndarray_)


def _size(size, keyword=None) -> tuple:
    if keyword is not None:  # torch.zeros(size=(2, 3))
        if size or not isinstance(keyword, (tuple, list)):
            raise TypeError(f"size must be a tuple of ints, not {type(keyword).__name__}" if not size else
                            "got multiple values for argument 'size'")
        size = (keyword,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, xp.integer)):
            raise TypeError(f"size must be a tuple of ints, but got {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        if s >= 1 << 63:
            raise TypeError(f"size {s} does not fit in int64: {list(size)}")
    if len(size) > 64:  # NumPy's limit; torch holds more but refuses them in most ops with this error
        raise RuntimeError(f"only tensors with up to 64 dims are supported (ember's arrays are NumPy's), got "
                           f"{len(size)}")
    return tuple(int(s) for s in size)


def _alloc(fill, shape: tuple, dtype, *value) -> ndarray:
    """``fill(shape, *value, dtype=dtype)``; a failed allocation raises RuntimeError, as torch's allocator does
    (NumPy raises MemoryError, or ValueError when the byte count overflows)."""
    try:
        if dtype is _dtype.CHALF and fill is not xp.zeros and fill is not xp.empty:  # NumPy would fill both fields
            return _complex32.narrow(fill(shape, *value, dtype=xp.complex64))
        return fill(shape, *value, dtype=dtype)
    except (MemoryError, ValueError) as e:
        if isinstance(e, ValueError) and "too big" not in str(e):
            raise
        nbytes = math.prod(shape) * xp.dtype(dtype or _dtype.get_default_dtype().np).itemsize
        raise RuntimeError(f"{fill.__name__}: can't allocate memory: you tried to allocate {nbytes} bytes for a "
                           f"tensor of size {list(shape)}") from None


def _default_float(dtype):
    return _np_dtype(dtype, _dtype.get_default_dtype().np)


def _filled(fill):
    def factory(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False, out=None, layout=None,
                pin_memory=False, memory_format=None) -> Tensor:
        dt = _default_float(out_dtype(dtype, out, fill.__name__))
        if fill is xp.empty and out is not None:  # torch's empty(out=) only resizes out (a resize moves its version)
            shape = out._data.shape
            resize_out(out, _size(sizes, size), warn=False)
            out._version += out._data.shape != shape
            return out
        return _finish(_alloc(fill, _size(sizes, size), dt), requires_grad, device, out)
    return factory


zeros = register("zeros", method=False)(_filled(xp.zeros))
zeros.__doc__ = "A tensor of zeros."
ones = register("ones", method=False)(_filled(xp.ones))
ones.__doc__ = "A tensor of ones."
empty = register("empty", method=False)(_filled(xp.empty))
empty.__doc__ = "An uninitialised tensor."


@register(method=False)
def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, pin_memory: bool = False,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (its dtype inferred from the value as torch does)."""
    dtype = out_dtype(dtype, out, "full")
    if dtype is None:
        dtype = _dtype.scalar_dtype(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    return _finish(_alloc(xp.full, _size((size,) if isinstance(size, int) else tuple(size)), _np_dtype(dtype),
                          fill_value), requires_grad, device, out)


def _like(fill):
    def factory(input, *, dtype=None, device=None, requires_grad: bool = False, memory_format=None,
                layout=None) -> Tensor:
        return _finish(_alloc(fill, input._data.shape, _np_dtype(dtype, input._data.dtype)), requires_grad, device)
    return factory


zeros_like = register("zeros_like", method=False)(_like(xp.zeros))
ones_like = register("ones_like", method=False)(_like(xp.ones))
empty_like = register("empty_like", method=False)(_like(xp.empty))


@register(method=False)
def full_like(input, fill_value, *, dtype=None, layout=None, device=None, pin_memory: bool = False,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """A tensor shaped like ``input`` filled with ``fill_value``."""
    return _finish(_alloc(xp.full, input._data.shape, _np_dtype(dtype, input._data.dtype), fill_value),
                   requires_grad, device)


@register(method=False)
def arange(start=None, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, pin_memory: bool = False,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``."""
    if start is None and end is None:
        raise TypeError("arange() missing required argument 'end'")
    if end is None:  # arange(end)
        start, end = 0, start
    elif start is None:  # arange(end=...), as torch's keyword overload (which takes no step)
        if step != 1:
            raise TypeError("arange() received an invalid combination of arguments: a step needs a start")
        start = 0
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if not (math.isfinite(vals[0]) and math.isfinite(vals[1])):
        raise RuntimeError(f"arange: unsupported range: {vals[0]} -> {vals[1]}")
    if vals[2] == 0:
        raise RuntimeError("arange: step must be nonzero")
    dtype = out_dtype(dtype, out, "arange")
    if dtype is None:
        dtype = _dtype.get_default_dtype() if any(isinstance(v, float) for v in vals) else _dtype.int64
    if not _dtype.as_dtype(dtype).is_floating_point:  # torch truncates the bounds and step to integers first
        vals = [int(v) for v in vals]
        if vals[2] == 0:
            raise ValueError("arange: step must be nonzero (after truncation to an integer dtype)")
    if (vals[1] - vals[0]) * vals[2] < 0:
        raise RuntimeError("arange: upper bound and larger bound inconsistent with step sign")
    n = max(0, math.ceil((vals[1] - vals[0]) / vals[2]))
    arr = (vals[0] + xp.arange(n, dtype=xp.float64 if _dtype.as_dtype(dtype).is_floating_point else xp.int64)
           * vals[2]).astype(_np_dtype(dtype))
    return _finish(_ranged(arr, out, "arange"), requires_grad, device, out)


@register("range", method=False)
def _range(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, pin_memory: bool = False,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` inclusive by ``step`` (deprecated in torch for :func:`arange`)."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=3)
    if end is None:
        raise TypeError("range() missing required argument 'end' (pos 2)")
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("range: step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"range: unsupported range: {start} -> {end}")
    if (end - start) * step < 0:
        raise RuntimeError("range: upper bound and lower bound inconsistent with step sign")
    dt = _np_dtype(out_dtype(dtype, out, "range"), _dtype.get_default_dtype().np)
    n = math.floor((end - start) / step) + 1
    # (torch's kernel: start + i * step in double, then cast)
    arr = (start + xp.arange(n, dtype=xp.float64) * step).astype(dt)
    return _finish(_ranged(arr, out), requires_grad, device, out)


_range.__name__ = _range.__qualname__ = "range"  # (a def named range would hide the builtin in this module)


@register(method=False)
def linspace(start, end, steps: int, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise RuntimeError("linspace(): number of steps must be non-negative")
    dt = _default_float(out_dtype(dtype, out, "linspace"))
    return _finish(_ranged(_grid(start, end, steps, dt), out), requires_grad, device, out)


def _grid(start, end, steps: int, dt):
    """torch's linspace bit for bit: the first half counts up from ``start``, the second half down from
    ``end`` (so both ends are exact), each value one fused multiply-add ``step * i + start`` as its
    compiled kernel does; integer dtypes take the step in float64 and truncate."""
    dt = xp.dtype(dt)
    f = dt.type if _dtype.is_float(dt) else xp.float64
    start, end = (float(v.item()) if isinstance(v, Tensor) else v for v in (start, end))
    if not _dtype.is_float(dt):  # torch casts the ends to the integer dtype first
        start, end = int(start), int(end)
    s, e = f(start), f(end)
    if steps <= 1:
        return xp.full(steps, s).astype(dt)
    step = (e - s) / f(steps - 1)
    i = xp.arange(steps, dtype=xp.float64)
    half = steps // 2
    lo = _fma(xp.float64(step), i[:half], xp.float64(s))
    hi = _fma(-xp.float64(step), (steps - 1) - i[half:], xp.float64(e))
    out = xp.concatenate([lo, hi])
    return out.astype(f).astype(dt) if _dtype.is_float(dt) else xp.trunc(out).astype(dt)


def _fma(a, b, c):
    """``a * b + c`` in float64 with one rounding (error-free product and sum; NumPy has no fma)."""
    p = a * b
    split = 134217729.0  # 2**27 + 1: Veltkamp's split of a double into two 26-bit halves
    ta, tb = split * a, split * b
    ahi, bhi = ta - (ta - a), tb - (tb - b)
    alo, blo = a - ahi, b - bhi
    ep = ((ahi * bhi - p) + ahi * blo + alo * bhi) + alo * blo
    s = p + c
    bb = s - p
    es = (p - (s - bb)) + (c - bb)
    return s + (ep + es)


@register(method=False)
def logspace(start, end, steps: int, base: float = 10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` values spaced evenly on a log scale from ``base**start`` to ``base**end``."""
    if steps < 0:
        raise RuntimeError("logspace(): number of steps must be non-negative")
    dt = _default_float(out_dtype(dtype, out, "logspace"))
    return _finish(_ranged(xp.logspace(float(start), float(end), steps, base=base).astype(dt), out),
                   requires_grad, device, out)


@register(method=False)
def eye(n: int, m: int | None = None, *, out=None, dtype=None, layout=None, device=None, pin_memory: bool = False,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix (``n`` x ``m``)."""
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    dt = _default_float(out_dtype(dtype, out, "eye"))
    return _finish(xp.eye(n, m, dtype=dt), requires_grad, device, out)


@register(method=False)
def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory: bool = False,
                  requires_grad: bool = False) -> Tensor:
    """A 0-dim tensor holding the number ``s``, of the default float dtype unless ``dtype`` is given."""
    value = xp.asarray(s.item() if isinstance(s, Tensor) else s)
    return _finish(value.astype(_default_float(dtype)), requires_grad, device)  # wraps around, as torch's cast


@register(method=False)
def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
                  pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor of ``size`` whose elements lie ``stride`` elements apart in memory."""
    size, stride = _size(tuple(size)), tuple(int(st) for st in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"empty_strided: mismatch in length of strides and shape ({len(stride)} and "
                           f"{len(size)})")
    dt = xp.dtype(_default_float(dtype))
    span = 0 if 0 in size else 1 + sum((n - 1) * st for n, st in zip(size, stride))
    # a tensor whose elements share memory is read-only, so in-place writes raise as in torch
    extent, disjoint = 1, True
    for n, st in sorted((n, st) for n, st in zip(size, stride) if n > 1):
        disjoint &= st >= extent
        extent = st * n
    arr = xp.lib.stride_tricks.as_strided(_alloc(xp.empty, (span,), dt), size,
                                          tuple(st * dt.itemsize for st in stride), writeable=disjoint)
    return _finish(arr, requires_grad, device)


@register(method=False)
def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
                   pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor of ``size`` whose dims lie in memory in the order ``physical_layout``."""
    size, order = _size(tuple(size)), tuple(physical_layout)
    if len(order) != len(size):
        raise RuntimeError("Number of dimensions in size does not match the length of the physical_layout; "
                           f"i.e. len(size) = {len(size)} is not equal to len(physical_layout) = {len(order)}")
    n = len(size)
    if any(not -n <= d < n for d in order):  # a RuntimeError here in torch, not the usual IndexError
        raise RuntimeError(f"empty_permuted: Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                           f"but got {list(physical_layout)})")
    order = tuple(d % n for d in order)
    if len(set(order)) != len(order):
        raise RuntimeError(f"empty_permuted: Duplicate dim not allowed: {list(physical_layout)}")
    arr = _alloc(xp.empty, tuple(size[d] for d in order), _default_float(dtype))
    return _finish(arr.transpose(tuple(order.index(d) for d in range(len(size)))), requires_grad, device)


# ----------------------------------------------------------------------------- factories on a tensor
def _new(fill):
    def factory(self, *size, dtype=None, device=None, requires_grad: bool = False, layout=None,
                pin_memory: bool = False) -> Tensor:
        return _finish(_alloc(fill, _size(size), _np_dtype(dtype, self._data.dtype)), requires_grad, device)
    return factory


new_zeros = register("new_zeros", function=False)(_new(xp.zeros))
new_zeros.__doc__ = "A tensor of zeros with this tensor's dtype (unless ``dtype`` is given)."
new_ones = register("new_ones", function=False)(_new(xp.ones))
new_ones.__doc__ = "A tensor of ones with this tensor's dtype (unless ``dtype`` is given)."
new_empty = register("new_empty", function=False)(_new(xp.empty))
new_empty.__doc__ = "An uninitialised tensor with this tensor's dtype (unless ``dtype`` is given)."


@register(function=False)
def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad: bool = False, layout=None,
                      pin_memory: bool = False) -> Tensor:
    """:func:`empty_strided` with this tensor's dtype (unless ``dtype`` is given)."""
    return empty_strided(size, stride, dtype=self.dtype if dtype is None else dtype, device=device,
                         requires_grad=requires_grad)


@register(function=False)
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad: bool = False, layout=None,
             pin_memory: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``, with this tensor's dtype (unless ``dtype`` is given)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    size = (size,) if isinstance(size, (int, xp.integer)) else tuple(size)
    return _finish(_alloc(xp.full, _size(size), _np_dtype(dtype, self._data.dtype), fill_value), requires_grad,
                   device)


@register(function=False)
def new_tensor(self, data, *, dtype=None, device=None, requires_grad: bool = False, layout=None,
               pin_memory: bool = False) -> Tensor:
    """A copy of ``data`` as a new leaf tensor, with this tensor's dtype (unless ``dtype`` is given)."""
    arr = xp.array(_infer_array(data, None), dtype=_np_dtype(dtype, self._data.dtype), copy=True, order="C")
    return _finish(arr, requires_grad, device)
