"""Comparison, logical, bitwise and floating-point classification ops.

All of them return bool (or, for bitwise ops, integer) tensors that carry no gradient,
so each is a NumPy ufunc applied to the promoted operands, with no Op class.
"""
from __future__ import annotations

import numbers

from .. import _complex32
from .._backend import ndarray, xp
from .._tensor import Tensor
from ..autograd import function as _function
from ..autograd.function import Op
from .common import _type_name, binary_operands, broadcast_error, need_tensor, norm_dims, register, write_out

_OPERAND = (Tensor, numbers.Number, ndarray)


def _data(x):
    return x._data if isinstance(x, Tensor) else x


class Compare(Op):
    """A comparison as an op, only while vmap (or forward AD) is active, so that vmap sees it and batches it
    (a comparison of a batched tensor feeding Python control flow must raise as in torch)."""

    batching = "elementwise"

    differentiable_outputs = ()

    @staticmethod
    def forward(ufunc, *arrays):
        return (xp.asarray(ufunc(*arrays)),)

    @staticmethod
    def jvp(inputs, out, *tangents):
        return (None,)


def pure(ufunc, *operands) -> Tensor:
    """A non-differentiable elementwise result of ``ufunc`` (as an op while a transform is active)."""
    if _function.transform is not None:
        return Compare.apply(ufunc, *operands)[0]
    try:
        return Tensor._make(xp.asarray(ufunc(*(_data(t) for t in operands))))
    except TypeError as e:  # complex32's records: through complex64 where torch computes it, else refused
        return Tensor._make(xp.asarray(_complex32.fallback(ufunc.__name__, ufunc, operands, e)))


def _apply(name: str, ufunc, a, b) -> Tensor:
    if _function.transform is not None:
        return Compare.apply(ufunc, a, b)[0]
    try:
        return Tensor._make(xp.asarray(ufunc(_data(a), _data(b))))
    except TypeError as e:  # complex32, as in pure
        return Tensor._make(xp.asarray(_complex32.fallback(name, ufunc, (a, b), e)))
    except ValueError:
        raise broadcast_error(name, tuple(xp.shape(_data(a))), tuple(xp.shape(_data(b)))) from None


def _operator(fn):
    """The operator form of a comparison: unknown operands (None, str, list) give NotImplemented, as torch."""
    def op(self, other):
        if not isinstance(other, _OPERAND):
            return NotImplemented
        return fn(self, other)
    op.__name__ = fn.__name__
    return op


def _comparison(name: str, ufunc, dunder: str, aliases=()):
    def fn(input, other, *, out=None) -> Tensor:
        need_tensor(input, name)
        a, b = binary_operands(input, other)
        return write_out(name, _apply(name, ufunc, a, b), out)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` comparison after type promotion; a bool tensor."
    register(name, inplace=f"{name}_", aliases=aliases)(fn)
    setattr(Tensor, dunder, _operator(fn))
    return fn


# setattr of __eq__ on the existing class keeps Tensor.__hash__ (identity), which dicts and optimizers need
eq = _comparison("eq", xp.equal, "__eq__")
ne = _comparison("ne", xp.not_equal, "__ne__", ("not_equal",))
lt = _comparison("lt", xp.less, "__lt__", ("less",))
le = _comparison("le", xp.less_equal, "__le__", ("less_equal",))
gt = _comparison("gt", xp.greater, "__gt__", ("greater",))
ge = _comparison("ge", xp.greater_equal, "__ge__", ("greater_equal",))


# ----------------------------------------------------------------------------- logical
def _logical(name: str, ufunc):
    def fn(input, other) -> Tensor:
        need_tensor(input, name)
        need_tensor(other, name, "other", 2)
        return _apply(name, ufunc, input, other)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name.replace('_', ' ')} of the operands' truth values; a bool tensor."
    return register(name, inplace=f"{name}_")(fn)


logical_and = _logical("logical_and", xp.logical_and)
logical_or = _logical("logical_or", xp.logical_or)
logical_xor = _logical("logical_xor", xp.logical_xor)


@register(inplace="logical_not_")
def logical_not(input) -> Tensor:
    """Elementwise not of the truth values; a bool tensor."""
    return pure(xp.logical_not, input)


# ----------------------------------------------------------------------------- bitwise
def _bitwise(name: str, ufunc, operators=(), reflected=()):
    def fn(input, other) -> Tensor:
        if not isinstance(other, Tensor):
            need_tensor(input, name)
        a, b = binary_operands(input, other)
        floats = [x for x in (a, b) if isinstance(x, Tensor) and x._data.dtype.kind in "fV"]
        if floats or isinstance(a, float) or isinstance(b, float):
            dt = _type_name(floats[0].dtype) if floats else "Float"
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{dt}\'')
        return _apply(name, ufunc, a, b)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name.replace('_', ' ')} of integer or bool tensors."
    return register(name, inplace=f"{name}_", operators=operators, reflected=reflected)(fn)


bitwise_and = _bitwise("bitwise_and", xp.bitwise_and, ("__and__",), ("__rand__",))
bitwise_or = _bitwise("bitwise_or", xp.bitwise_or, ("__or__",), ("__ror__",))
bitwise_xor = _bitwise("bitwise_xor", xp.bitwise_xor, ("__xor__",), ("__rxor__",))
bitwise_left_shift = _bitwise("bitwise_left_shift", xp.left_shift, ("__lshift__",), ("__rlshift__",))
bitwise_right_shift = _bitwise("bitwise_right_shift", xp.right_shift, ("__rshift__",), ("__rrshift__",))
Tensor.__iand__ = Tensor.bitwise_and_
Tensor.__ior__ = Tensor.bitwise_or_
Tensor.__ixor__ = Tensor.bitwise_xor_
Tensor.__ilshift__ = Tensor.bitwise_left_shift_
Tensor.__irshift__ = Tensor.bitwise_right_shift_


@register(inplace="bitwise_not_")
def bitwise_not(input) -> Tensor:
    """Elementwise bitwise not (logical not for bool tensors)."""
    if input._data.dtype.kind in "fV":
        raise NotImplementedError(f'"bitwise_not_cpu" not implemented for \'{_type_name(input.dtype)}\'')
    return pure(xp.invert, input)


def _invert(self) -> Tensor:
    if self._data.dtype.kind in "fV":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return bitwise_not(self)


Tensor.__invert__ = _invert


@register()
def hash_tensor(input, dim=None, *, keepdim: bool = False, mode: int = 0, out=None) -> Tensor:
    """The xor of the elements' 64-bit patterns (floats as float64, integers as int64) over ``dim``; uint64."""
    if mode != 0:
        raise RuntimeError(f"Unknown hash_tensor mode: {mode}")
    a = input._data
    if a.dtype.kind == "c" or a.dtype == xp.uint64:
        raise NotImplementedError(f'"xor_sum_cpu" not implemented for \'{_type_name(input.dtype)}\'')
    if dim is None or dim == ():
        if a.size == 0:
            raise RuntimeError("hash_tensor: Expected reduction dim to be specified for input.numel() == 0. Specify "
                               "the reduction dim with the 'dim' arg")
        dim = None
    dims = norm_dims(dim, max(a.ndim, 1), "hash_tensor")[:a.ndim]  # a 0-dim input takes dim 0 or -1
    for d in dims:
        if a.shape[d] == 0:
            raise IndexError(f"hash_tensor: Expected reduction dim {d} to have non-zero size.")
    bits = a.astype(xp.float64 if a.dtype.kind in "fV" else xp.int64).view(xp.uint64)
    return write_out("hash_tensor", Tensor._make(xp.asarray(xp.bitwise_xor.reduce(bits, dims, keepdims=keepdim))),
                     out)


# ----------------------------------------------------------------------------- closeness
@register()
def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise (infinities equal only to themselves)."""
    need_tensor(input, "isclose")
    need_tensor(other, "isclose", "other", 2)
    for what, tol in (("rtol", rtol), ("atol", atol)):
        if tol < 0:
            raise RuntimeError(f"isclose: {what} must be greater than or equal to zero, but got {tol}")
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"isclose: {_type_name(input.dtype)} did not match {_type_name(other.dtype)}")
    return _apply("isclose", lambda a, b: xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan),
                  input, other)


@register()
def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True when every element of ``input`` is close to ``other`` (see isclose)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


@register()
def equal(input, other) -> bool:
    """True when both tensors have the same shape and the same values."""
    return input._data.shape == other._data.shape and bool(xp.array_equal(input._data, other._data))


# ----------------------------------------------------------------------------- classification
def _classify(name: str, ufunc, doc: str):
    def fn(input) -> Tensor:
        return pure(ufunc, input)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return register(name)(fn)


isnan = _classify("isnan", xp.isnan, "True where the element is NaN.")
isinf = _classify("isinf", xp.isinf, "True where the element is +inf or -inf.")
isposinf = _classify("isposinf", xp.isposinf, "True where the element is +inf.")
isneginf = _classify("isneginf", xp.isneginf, "True where the element is -inf.")
isfinite = _classify("isfinite", xp.isfinite, "True where the element is neither infinite nor NaN.")
signbit = _classify("signbit", lambda a: xp.signbit(a) if a.dtype.kind != "b" else xp.zeros(a.shape, bool),
                    "True where the sign bit is set (including -0.0).")
isreal = _classify("isreal", lambda a: xp.ones(a.shape, bool), "True everywhere: ember has no complex dtypes.")
