"""Elementwise ops: arithmetic with broadcasting, and the unary math functions.

Each op is one ``Op`` class (forward on arrays, backward in ember ops) and one
public function registered as ``ember.X``, ``Tensor.X`` and its operators.
"""
from __future__ import annotations

import cmath
import math
import numbers
import warnings

from .. import _complex32, _dtype
from .._backend import ndarray, parallel_map, xp, zeros_like
from .._dtype import _BF16
from .._tensor import Tensor
from ..autograd.function import _FREED, _RELEASED, Op
from ..autograd.forward_ad import total
from . import _erf
from .compare import pure
from .common import (FUNCTIONS, _type_name, binary_operands, inplace_method, int_scalar, is_scalar, need_tensor,
                     register, sum_to, write_out)
from .complex import cj, real, sgn


def arr(x):
    """The array behind a tensor operand; numbers pass through."""
    return x._data if isinstance(x, Tensor) else x


def shape(x) -> tuple:
    return x._data.shape if isinstance(x, Tensor) else ()


# ----------------------------------------------------------------------------- arithmetic
class Add(Op):
    batching = "elementwise"
    array_backward = True

    @staticmethod
    def forward(a, b, alpha):
        return a + b if alpha == 1 else a + alpha * b

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, ctx.alpha = inputs
        # shapes for undoing broadcasting (a number operand has shape ())
        ctx.shapes = (a._data.shape if isinstance(a, Tensor) else (), b._data.shape if isinstance(b, Tensor) else ())

    @staticmethod
    def backward(ctx, g):
        (fa, _), (fb, _) = ctx.next_functions[:2]
        sa, sb = ctx.shapes
        return (sum_to(g, sa) if fa is not None else None,
                sum_to(g if ctx.alpha == 1 else g * ctx.alpha, sb) if fb is not None else None)

    @staticmethod
    def jvp(inputs, out, ta, tb, _=None):
        return total(ta, tb if tb is None or inputs[2] == 1 else tb * inputs[2])


class Sub(Op):
    batching = "elementwise"
    array_backward = True

    @staticmethod
    def forward(a, b, alpha):
        return a - b if alpha == 1 else a - alpha * b

    setup_context = Add.setup_context

    @staticmethod
    def backward(ctx, g):
        (fa, _), (fb, _) = ctx.next_functions[:2]
        sa, sb = ctx.shapes
        return (sum_to(g, sa) if fa is not None else None,
                sum_to(-g if ctx.alpha == 1 else g * -ctx.alpha, sb) if fb is not None else None)

    @staticmethod
    def jvp(inputs, out, ta, tb, _=None):
        return total(ta, None if tb is None else tb * -inputs[2])


class Mul(Op):
    batching = "elementwise"
    array_backward = True
    forward = staticmethod(xp.multiply)  # the ufunc itself: no Python frame per call

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b = inputs
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            # each input's gradient needs only the other input; save_for_backward inlined (every recorded
            # product runs this: its call and loop cost about 7% of a small product)
            sa, sb = a._data.shape, b._data.shape
            ctx.shapes = None if sa == sb else (sa, sb)  # None: no broadcasting to undo
            a, b = (a if b._requires_grad else None), (b if a._requires_grad else None)
            ctx._saved = (a, b)
            ctx._versions = (None if a is None else a._vc[0], None if b is None else b._vc[0])
            return
        ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
        ctx.shapes = (a._data.shape if ta else (), b._data.shape if tb else ())
        ctx.save_for_backward(a if tb and b._requires_grad else None, b if ta and a._requires_grad else None)

    @staticmethod
    def backward(ctx, g):
        saved = ctx._saved
        if ctx._arrays and type(saved) is tuple and g.dtype.kind != "c":  # (not released, nor packed by hooks)
            # the engine's raw real arrays: ctx.saved_tensors inlined, version checks and all (its property call
            # and loop cost about a quarter of this backward); a version of None marks a number or nothing
            (a, b), (va, vb) = saved, ctx._versions
            if (va is None or a._vc[0] == va) and (vb is None or b._vc[0] == vb):
                a, b = (a if va is None else a._data), (b if vb is None else b._data)
            else:
                a, b = ctx.saved_tensors  # raises the in-place error
        else:
            a, b = ctx.saved_tensors
            if type(g) is not ndarray or g.dtype.kind == "c":  # (real arrays: the conjugates are the arrays)
                a, b = cj(a), cj(b)
        ga = None if b is None else g * b
        gb = None if a is None else g * a
        if ctx.shapes is None or ctx.shapes[0] == ctx.shapes[1]:  # nothing was broadcast
            return ga, gb
        sa, sb = ctx.shapes
        return (None if ga is None else sum_to(ga, sa)), (None if gb is None else sum_to(gb, sb))

    @staticmethod
    def jvp(inputs, out, ta, tb):
        a, b = inputs
        return total(None if ta is None else ta * b, None if tb is None else a * tb)


class Div(Op):
    batching = "elementwise"
    array_backward = True

    @staticmethod
    def forward(a, b):
        return a / b

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b = inputs
        ctx.shapes = (shape(a), shape(b))
        ctx.save_for_backward(a if _requires_grad(b) else None, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        nf = ctx.next_functions
        ga = sum_to(g / cj(b), ctx.shapes[0]) if nf[0][0] is not None else None
        gb = sum_to(-g * cj(a) / cj(b * b), ctx.shapes[1]) if nf[1][0] is not None else None
        return ga, gb

    @staticmethod
    def jvp(inputs, out, ta, tb):
        b = inputs[1]
        return total(None if ta is None else ta / b, None if tb is None else -tb * out / b)


class _ScalarOp(Op):
    """tensor (op) Python number: the commonest call of add and mul, as its own small op (torch has
    add.Scalar and mul.Scalar too) because it needs no broadcasting bookkeeping and saves no tensor."""

    batching = "elementwise"

    array_backward = True

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.s = inputs[1]


_WEAK: dict = {}


def _weak(s, like):
    """The number ``s`` as a 0-d array of ``like``'s floating dtype, converted as NumPy converts a Python number
    operand (round to nearest) but once: NumPy 2 takes about 1 us per call to do it, more than a small array's
    arithmetic. Other operands (tensors, integer arrays, zeros: -0.0 == 0.0 as a key, NaN) come back as they are."""
    if type(like) is not ndarray or not s or s != s:
        return s
    key = (s, like.dtype)  # (the dtype read once: each read of an array's attribute is a generic lookup)
    c = _WEAK.get(key)
    if c is None:
        if key[1].kind != "f":
            return s
        if len(_WEAK) > 256:
            _WEAK.clear()
        c = _WEAK[key] = xp.array(s, key[1])
    return c


class AddScalar(_ScalarOp):
    forward = staticmethod(lambda x, s: x + _weak(s, x))

    @staticmethod
    def backward(ctx, g):
        return g, None

    @staticmethod
    def jvp(inputs, out, t, _):
        return t


class MulScalar(_ScalarOp):
    forward = staticmethod(lambda x, s: x * _weak(s, x))

    @staticmethod
    def backward(ctx, g):
        if ctx._saved is _RELEASED:  # torch saves the number as a tensor, so its second backward raises
            raise RuntimeError(_FREED)
        return g * _weak(ctx.s, g), None

    @staticmethod
    def jvp(inputs, out, t, _):
        return t * inputs[1]


class _TensorsOp(Op):
    """tensor (op) tensor of one dtype, alpha 1: add's and sub's commonest call (activations, weights, biases), as
    its own small op as the Python-number forms are: its forward is the ufunc itself, and its backward sums
    the gradient down only to undo broadcasting."""

    batching = "elementwise"

    array_backward = True

    @staticmethod
    def setup_context(ctx, inputs, output):
        sa, sb = inputs[0]._data.shape, inputs[1]._data.shape
        ctx.shapes = None if sa == sb else (sa, sb)  # None: no broadcasting to undo


class AddTensors(_TensorsOp):
    forward = staticmethod(xp.add)

    @staticmethod
    def backward(ctx, g):
        if ctx.shapes is None:  # nothing was broadcast (the engine drops the gradient of an input that needs none)
            return g, g
        sa, sb = ctx.shapes
        (fa, _), (fb, _) = ctx.next_functions
        return (None if fa is None else sum_to(g, sa)), (None if fb is None else sum_to(g, sb))

    @staticmethod
    def jvp(inputs, out, ta, tb):
        return total(ta, tb)


class SubTensors(_TensorsOp):
    forward = staticmethod(xp.subtract)

    @staticmethod
    def backward(ctx, g):
        (fa, _), (fb, _) = ctx.next_functions
        if ctx.shapes is None:
            return g, (None if fb is None else -g)
        sa, sb = ctx.shapes
        return (None if fa is None else sum_to(g, sa)), (None if fb is None else sum_to(-g, sb))

    @staticmethod
    def jvp(inputs, out, ta, tb):
        return total(ta, None if tb is None else -tb)


# torch's names
AddScalar._Node.__name__ = AddTensors._Node.__name__ = "AddBackward0"
MulScalar._Node.__name__, SubTensors._Node.__name__ = "MulBackward0", "SubBackward0"
_NUMBERS = (float, int)  # not bool: True * tensor promotes differently
# the arithmetic operators' commonest ops, bound once: Python 3.11 fetches a classmethod from its class through
# its generic lookup (~300 instructions of a small op's ~20,000; ember.onnx's recorder swaps these globals too)
_add_tensors, _sub_tensors, _mul_tensors = AddTensors.apply, SubTensors.apply, Mul.apply
_add_scalar, _mul_scalar = AddScalar.apply, MulScalar.apply


def _requires_grad(x) -> bool:
    return isinstance(x, Tensor) and x._requires_grad


def _alpha_first(alpha, rest: tuple, op: str):
    """torch's deprecated ``add(Number alpha, Tensor other)`` overload (``p.data.add_(-lr, grad)``): it warns
    and swaps the two."""
    if len(rest) != 1 or not isinstance(alpha, numbers.Number) or not isinstance(rest[0], Tensor):
        raise TypeError(f"{op}() takes 2 positional arguments but {2 + len(rest)} were given")
    warnings.warn(f"This overload of {op} is deprecated:\n\t{op}(Number alpha, Tensor other)\nConsider using "
                  f"{op}(Tensor other, *, Number alpha = 1) instead.", UserWarning, stacklevel=3)
    return rest[0], alpha


@register(operators=("__add__",), reflected=("__radd__",), inplace="add_")
def add(input, other, *deprecated, alpha=1, out=None) -> Tensor:
    """``input + alpha * other``, broadcasting."""
    if isinstance(input, Tensor) and alpha == 1 and out is None and not deprecated:  # the commonest calls
        if isinstance(other, Tensor):
            if input._data.dtype is other._data.dtype:  # nothing to promote
                return _add_tensors(input, other)
        elif type(other) in _NUMBERS and input._data.dtype.kind in "fV":
            return _add_scalar(input, other)
    if deprecated:
        other, alpha = _alpha_first(other, deprecated, "add")
    input, other = binary_operands(input, other)
    if alpha != 1:
        other, alpha = _fold_alpha(input, other, alpha)
    if type(other) in _NUMBERS and alpha == 1 and isinstance(input, Tensor):
        result = AddScalar.apply(input, other)
    else:
        result = Add.apply(input, other, alpha)
    return write_out("add", result, out)


def _fold_alpha(input, other, alpha):
    """An integer tensor's int ``other`` and ``alpha`` as one operand, wrapped as torch's integer arithmetic
    wraps it (``alpha`` itself must fit the dtype)."""
    if type(other) is int and type(alpha) is int and isinstance(input, Tensor) and input._data.dtype.kind in "iu":
        dt = input.dtype
        return int_scalar(int_scalar(alpha, dt, "check") * other % 2 ** 64, dt), 1
    return other, alpha


def _is_bool(x) -> bool:
    return type(x) is bool or isinstance(x, Tensor) and x._data.dtype == xp.bool_


@register(operators=("__sub__",), reflected=("__rsub__",), inplace="sub_", aliases=("subtract",))
def sub(input, other, *deprecated, alpha=1, out=None) -> Tensor:
    """``input - alpha * other``, broadcasting."""
    if (isinstance(input, Tensor) and isinstance(other, Tensor) and input._data.dtype is other._data.dtype
            and alpha == 1 and out is None and not deprecated and input._data.dtype.kind != "b"):
        return _sub_tensors(input, other)
    if deprecated:
        other, alpha = _alpha_first(other, deprecated, "sub")
    if _is_bool(input) or _is_bool(other):
        if _is_bool(input) and _is_bool(other):
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                               "Use the `^` or `logical_xor()` operator instead.")
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")
    input, other = binary_operands(input, other)
    if alpha != 1:
        other, alpha = _fold_alpha(input, other, alpha)
    return write_out("sub", Sub.apply(input, other, alpha), out)


@register(method=False)
def rsub(input, other, *, alpha=1) -> Tensor:
    """``other - alpha * input``."""
    need_tensor(input, "rsub")
    return sub(other, input, alpha=alpha)


@register(operators=("__mul__",), reflected=("__rmul__",), inplace="mul_", aliases=("multiply",))
def mul(input, other, *, out=None) -> Tensor:
    """``input * other``, broadcasting."""
    if isinstance(input, Tensor) and out is None:  # the commonest calls
        if isinstance(other, Tensor):
            if input._data.dtype is other._data.dtype:  # nothing to promote
                return _mul_tensors(input, other)
        elif type(other) in _NUMBERS and input._data.dtype.kind in "fV":
            return _mul_scalar(input, other)
    input, other = binary_operands(input, other)
    if type(other) in _NUMBERS and isinstance(input, Tensor):
        result = MulScalar.apply(input, other)
    elif type(input) in _NUMBERS and isinstance(other, Tensor):
        result = MulScalar.apply(other, input)
    else:
        result = Mul.apply(input, other)
    return write_out("mul", result, out)


@register(operators=("__truediv__",), reflected=("__rtruediv__", "__rdiv__"), inplace="div_",
          aliases=("divide", "true_divide"))
def div(input, other, *, rounding_mode: str | None = None, out=None) -> Tensor:
    """``input / other``; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient as torch does."""
    input, other = binary_operands(input, other, "wrap" if rounding_mode else "exact")
    if rounding_mode is None:
        return write_out("div", Div.apply(*_float_operands(input, other)), out)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                         f"'{rounding_mode}'")
    _check_int_divisor(input, other)
    return write_out("div", RoundedDiv.apply(input, other, rounding_mode), out)


class RoundedDiv(Op):
    """A rounded quotient: piecewise constant, so its gradient is zero (as torch's)."""

    batching = "elementwise"

    @staticmethod
    def forward(a, b, mode):
        if mode == "floor":
            return xp.floor_divide(a, b)
        if xp.result_type(a, b).kind in "fV":
            return xp.trunc(a / b)
        return (a - xp.fmod(a, b)) // b  # exact: a - fmod(a, b) is a multiple of b

    setup_context = Add.setup_context

    @staticmethod
    def backward(ctx, g):
        return tuple(None if fn is None else _zeros(s, g) for (fn, _), s in zip(ctx.next_functions, ctx.shapes))


def _zeros(shape_, like: Tensor) -> Tensor:
    return Tensor._make(xp.zeros(shape_, like._data.dtype))


def _check_int_divisor(a, b) -> None:
    # NumPy returns 0 (with a warning) for an integer division by zero; torch raises
    if not (_is_float(a) or _is_float(b)) and not xp.all(arr(b)):
        raise RuntimeError("ZeroDivisionError")


def _is_float(x) -> bool:
    return x._data.dtype.kind in "fV" if isinstance(x, Tensor) else isinstance(x, float)


@register(operators=("__floordiv__",), reflected=("__rfloordiv__",), inplace="floor_divide_")
def floor_divide(input, other, *, out=None) -> Tensor:
    """``input // other``: the quotient rounded toward minus infinity."""
    return div(input, other, rounding_mode="floor", out=out)


def _float_operands(a, b):
    # true division of integers gives the default float dtype
    for x in (a, b):
        if isinstance(x, Tensor) and x._data.dtype.kind not in "fcV":
            dt = _dtype.get_default_dtype()
            return (a.to(dt) if isinstance(a, Tensor) else float(a)), (b.to(dt) if isinstance(b, Tensor) else float(b))
    return a, b


@register(operators=("__neg__",), inplace="neg_", aliases=("negative",))
def neg(input) -> Tensor:
    """``-input``."""
    if input._data.dtype == xp.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")
    return Neg.apply(input)


class Neg(Op):
    batching = "elementwise"
    array_backward = True

    @staticmethod
    def forward(x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g

    @staticmethod
    def jvp(inputs, out, t):
        return -t


Tensor.__pos__ = lambda self: self


# ----------------------------------------------------------------------------- unary math
def unary(name: str, fwd, bwd, *, saves: str = "input", keeps_int: bool = False, inplace: bool = True,
          doc: str = "", aliases=(), arrays: bool = False, holomorphic: bool = True, **reg):
    """Define and register a one-input elementwise op from its forward and its derivative.

    ``bwd(x, y, g)`` returns the input gradient written with ember ops, from the input ``x``
    and/or the output ``y`` (whichever ``saves`` names, the other is None) and the output
    gradient ``g``. Integer inputs are promoted to the default float unless ``keeps_int``.
    ``arrays=True`` declares that ``bwd`` uses only arithmetic (see ``Op.array_backward``).
    On complex inputs ``bwd`` gets conjugated ``x`` and ``y``, giving ``g * conj(f'(x))`` (torch's
    convention, see ``complex.cj``) for the ops that are ``holomorphic``.
    """
    save_out = saves == "output"
    c = cj if holomorphic else (lambda t: t)

    class Unary(Op):
        batching = "elementwise"
        saves_output = save_out
        array_backward = arrays

        forward = staticmethod(fwd)

        if saves == "input":
            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(inputs[0])

        if save_out:
            @staticmethod
            def backward(ctx, g):
                y = ctx._out_data
                # the engine's raw arrays (only its array path passes an ndarray), unchanged since forward and real:
                # ctx.output's checks inlined (its property call costs as much as the formula's Python)
                if (type(g) is ndarray and y is not None and ctx._out_vc[0] == ctx._out_saved_version
                        and y.dtype.kind != "c"):
                    return bwd(None, y, g)
                y = ctx.output
                return bwd(None, y if type(y) is ndarray and y.dtype.kind != "c" else c(y), g)
        else:
            @staticmethod
            def backward(ctx, g):
                return bwd(c(ctx.saved_tensors[0]) if saves == "input" else None, None, g)

        @staticmethod
        def jvp(inputs, out, t):  # elementwise: the derivative times the tangent, as in backward
            if holomorphic or not t.is_complex():
                return bwd(inputs[0], out, t)
            # a real function of z (abs): bwd gives g * grad, its tangent is Re(conj(grad) t) = Re(bwd(conj t))
            return real(bwd(inputs[0], out, cj(t)))

    Unary.__name__ = Unary.__qualname__ = name[0].upper() + name[1:]
    Unary._Node.__name__ = Unary.__name__ + "Backward0"

    def fn(input) -> Tensor:
        kind = input._data.dtype.kind
        if kind == "f":  # the commonest case first
            return Unary.apply(input)
        if kind == "V":  # bfloat16: computed in float32 and rounded back, as torch's kernels do
            if input._data.dtype.names:  # complex32: through complex64 where torch computes it (abs), else refused
                return _complex32.unary(name, fn, input)
            return Unary.apply(input.float()).to(input.dtype)
        if not keeps_int and kind not in "fc":
            input = input.to(_dtype.get_default_dtype())
        return Unary.apply(input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc or f"Elementwise {name}."
    fn.op = Unary
    register(name, inplace=f"{name}_" if inplace else None, aliases=aliases, **reg)(fn)
    return fn


exp = unary("exp", xp.exp, lambda x, y, g: g * y, saves="output", arrays=True)
tanh = unary("tanh", xp.tanh, lambda x, y, g: g * (_weak(1, y) - y * y), saves="output", arrays=True)
log = unary("log", xp.log, lambda x, y, g: g / x, arrays=True)


def const(a) -> Tensor:
    """A constant (no-grad) tensor wrapping an array or number."""
    return Tensor._make(xp.asarray(a))


class _Mask(Op):
    """``g`` where the boolean array ``keep`` holds, else exactly 0 (also where g is inf or nan).

    Done with an AND on the bit patterns: xp.where is slow on random masks (relu's backward
    spent 6 ms per million elements on it), and a multiply would turn 0 * inf into nan.
    """

    batching = "elementwise"

    @staticmethod
    def forward(g, keep):
        bits = _INT_OF_SIZE[g.dtype.itemsize]
        return xp.bitwise_and(g.view(bits), -xp.asarray(keep).view(xp.int8)).view(g.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(Tensor._make(xp.asarray(inputs[1])))

    @staticmethod
    def backward(ctx, gg):
        return _Mask.apply(gg, ctx.saved_tensors[0]._data), None


_INT_OF_SIZE = {2: xp.int16, 4: xp.int32, 8: xp.int64}


def masked(g: Tensor, keep) -> Tensor:
    """``g`` where the boolean array ``keep`` holds, else 0: the gradient of a piecewise op."""
    return _Mask.apply(g, keep)


def _zero_grad(x, y, g: Tensor) -> Tensor:
    return Tensor._make(xp.zeros_like(g._data))


def _ints_unchanged(f):
    """A rounding forward that returns integer and bool arrays as they are (copied), as torch does."""
    return lambda x: x.copy() if x.dtype.kind in "iub" else f(x)


_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)

exp2 = unary("exp2", xp.exp2, lambda x, y, g: g * y * _LN2, saves="output", arrays=True)
expm1 = unary("expm1", xp.expm1, lambda x, y, g: g * (y + 1), saves="output", arrays=True)
log2 = unary("log2", xp.log2, lambda x, y, g: g / (x * _LN2), arrays=True)
log10 = unary("log10", xp.log10, lambda x, y, g: g / (x * _LN10), arrays=True)
log1p = unary("log1p", xp.log1p, lambda x, y, g: g / (x + 1), arrays=True)
sqrt = unary("sqrt", xp.sqrt, lambda x, y, g: g / (y * 2), saves="output", arrays=True)
rsqrt = unary("rsqrt", lambda x: 1 / xp.sqrt(x), lambda x, y, g: g * (y * y * y) * -0.5, saves="output",
              arrays=True)
reciprocal = unary("reciprocal", lambda x: 1 / x, lambda x, y, g: g * (y * y) * -1, saves="output",
                   arrays=True)
sin = unary("sin", xp.sin, lambda x, y, g: g * cos(x))
cos = unary("cos", xp.cos, lambda x, y, g: g * -sin(x))
tan = unary("tan", xp.tan, lambda x, y, g: g * (y * y + 1), saves="output", arrays=True)
asin = unary("asin", xp.arcsin, lambda x, y, g: g / sqrt(1 - x * x), aliases=("arcsin",))
acos = unary("acos", xp.arccos, lambda x, y, g: g / sqrt(1 - x * x) * -1, aliases=("arccos",))
atan = unary("atan", xp.arctan, lambda x, y, g: g / (x * x + 1), aliases=("arctan",), arrays=True)
sinh = unary("sinh", xp.sinh, lambda x, y, g: g * cosh(x))
cosh = unary("cosh", xp.cosh, lambda x, y, g: g * sinh(x))
asinh = unary("asinh", xp.arcsinh, lambda x, y, g: g / sqrt(x * x + 1), aliases=("arcsinh",))
acosh = unary("acosh", xp.arccosh, lambda x, y, g: g / sqrt(x * x - 1), aliases=("arccosh",))
atanh = unary("atanh", xp.arctanh, lambda x, y, g: g / (1 - x * x), aliases=("arctanh",), arrays=True)
sigmoid = unary("sigmoid", lambda x: xp.exp(-xp.logaddexp(0, -x)), lambda x, y, g: g * (y * (_weak(1, y) - y)),
                saves="output", doc="1 / (1 + exp(-x)), computed without overflow.", arrays=True)
abs = unary("abs", xp.abs, lambda x, y, g: g * (sgn(x) if x.is_complex() else const(xp.sign(x._data))),
            keeps_int=True, aliases=("absolute",), holomorphic=False,
            doc="|x| elementwise (gradient 0 at 0, as torch's).")
def _relu(x):
    if not x.flags.c_contiguous:
        return xp.maximum(x, zeros_like(x))
    out = xp.empty_like(x)
    parallel_map(lambda o, a: xp.maximum(a, zeros_like(a), out=o), out, x)
    return out


class _ReluGrad(Op):
    """``g`` where the ReLU output ``y`` is positive, else exactly 0: relu's backward, and its own
    double backward. Split between threads, in cache-sized pieces, so the comparison's mask never
    goes out to memory."""

    batching = "elementwise"

    @staticmethod
    def forward(g, y):
        if g.shape != y.shape or not (g.flags.c_contiguous and y.flags.c_contiguous):
            return _Mask.forward(g, y > 0)
        out = xp.empty_like(g)
        bits = _INT_OF_SIZE[g.dtype.itemsize]

        def piece(o, gg, yy):
            keep = xp.greater(yy, 0).view(xp.int8)
            xp.negative(keep, out=keep)  # all ones where y > 0
            xp.bitwise_and(gg.view(bits), keep, out=o.view(bits))
        parallel_map(piece, out, g, y, piece=1 << 17)
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        y = inputs[1]
        ctx.save_for_backward(y if isinstance(y, Tensor) else Tensor._make(y))

    @staticmethod
    def backward(ctx, gg):
        return _ReluGrad.apply(gg, ctx.saved_tensors[0]._data), None


def _relu_grad(x, y, g):
    # a plain backward runs the kernel on its arrays, not through an op that would record nothing
    return _ReluGrad.forward(g, y) if type(g) is ndarray else _ReluGrad.apply(g, y)


relu = unary("relu", _relu, _relu_grad, saves="output",
             keeps_int=True, doc="max(x, 0) elementwise (gradient 0 at 0).", arrays=True)
def _sign(x):
    if x.dtype.kind == "c":  # NumPy's sign of a complex is z/|z|, which torch spells sgn
        raise NotImplementedError("Unlike NumPy, torch.sign is not intended to support complex numbers. "
                                  "Please use torch.sgn instead.")
    return x.copy() if x.dtype.kind == "b" else xp.sign(x)


sign = unary("sign", _sign, _zero_grad, saves="none", keeps_int=True)
floor = unary("floor", _ints_unchanged(xp.floor), _zero_grad, saves="none", keeps_int=True)
ceil = unary("ceil", _ints_unchanged(xp.ceil), _zero_grad, saves="none", keeps_int=True)
trunc = unary("trunc", _ints_unchanged(xp.trunc), _zero_grad, saves="none", keeps_int=True, aliases=("fix",))
frac = unary("frac", lambda x: x - xp.trunc(x), lambda x, y, g: g, saves="none", arrays=True)
Tensor.__abs__ = abs


# ----------------------------------------------------------------------------- erf family
def _erf_np(x):
    return _erf.erf(x if x.dtype.kind in "fV" else x.astype(xp.float64))


def _erfc_np(x):
    return _erf.erfc(x if x.dtype.kind in "fV" else x.astype(xp.float64))


# Newton's steps need erf to the last bit (the fitted one is good to ~1e-14); erfinv is rarely hot
_erf_exact = xp.vectorize(math.erf, otypes=[xp.float64])


def _erfinv_np(y):
    """Inverse of erf: Winitzki's closed-form estimate (~2e-3), then Newton steps on erf."""
    y64 = y.astype(xp.float64).reshape(-1)
    with xp.errstate(divide="ignore", invalid="ignore"):
        ln = xp.log1p(-y64 * y64)
        a = 0.147
        t = 2 / (math.pi * a) + ln / 2
        x = xp.copysign(xp.sqrt(xp.sqrt(t * t - ln / a) - t), y64)
        inner = xp.abs(y64) < 1
        xi, yi = x[inner], y64[inner]
        for _ in range(3):
            xi = xi - (_erf_exact(xi) - yi) / (_TWO_OVER_SQRT_PI * xp.exp(-xi * xi))
        x[inner] = xi
        x = xp.where(xp.abs(y64) == 1, xp.copysign(xp.inf, y64), x)
        x = xp.where(xp.abs(y64) > 1, xp.nan, x)
    return x.astype(y.dtype).reshape(y.shape)


erf = unary("erf", _erf_np, lambda x, y, g: g * exp(x * x * -1) * _TWO_OVER_SQRT_PI, aliases=("special_erf",))
erfc = unary("erfc", _erfc_np, lambda x, y, g: g * exp(x * x * -1) * -_TWO_OVER_SQRT_PI)
erfinv = unary("erfinv", _erfinv_np, lambda x, y, g: g * exp(y * y) * (math.sqrt(math.pi) / 2), saves="output")


# ----------------------------------------------------------------------------- binary math
def binary(name: str, fwd, da, db, *, saves_output: bool = False, tensors_only: bool = False,
           number_input: bool = False, float_only: bool = False, check=None, doc: str = "", **reg):
    """Define and register a two-input elementwise op from its forward and its two partial derivatives.

    ``da(a, b, y, g)`` / ``db(a, b, y, g)`` return the gradient of each input before broadcasting is
    undone, written with ember ops (``a``/``b`` are Tensors or numbers, ``y`` the output if saved).
    ``check(a, b)`` may refuse the promoted operands. ``input`` must be a Tensor, unless ``number_input``
    (torch's Scalar-Tensor overload: then ``other`` must be one).
    """

    save_out = saves_output

    class Binary(Op):
        batching = "elementwise"
        saves_output = save_out
        forward = staticmethod(fwd)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.shapes = (shape(inputs[0]), shape(inputs[1]))
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            y = ctx.output if saves_output else None
            (fa, _), (fb, _) = ctx.next_functions
            return (None if fa is None else sum_to(da(a, b, y, g), ctx.shapes[0]),
                    None if fb is None else sum_to(db(a, b, y, g), ctx.shapes[1]))

        @staticmethod
        def jvp(inputs, out, ta, tb):
            a, b = inputs
            return total(None if ta is None else da(a, b, out, ta), None if tb is None else db(a, b, out, tb))

    Binary.__name__ = Binary.__qualname__ = name[0].upper() + name[1:]
    Binary._Node.__name__ = Binary.__name__ + "Backward0"

    def fn(input, other) -> Tensor:
        if tensors_only and not (isinstance(input, Tensor) and isinstance(other, Tensor)):
            raise TypeError(f"{name}(): expected both arguments to be Tensors, got {type(input).__name__} and "
                            f"{type(other).__name__}")
        if not (number_input and isinstance(other, Tensor)):
            need_tensor(input, name)
        input, other = binary_operands(input, other, "exact" if float_only else "wrap")
        if float_only:
            input, other = _float_operands(input, other)
        if check is not None:
            check(input, other)
        return Binary.apply(input, other)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc or f"Elementwise {name}, broadcasting."
    fn.op = Binary
    reg.setdefault("inplace", f"{name}_")
    register(name, **reg)(fn)
    return fn


def _split(lose):
    """Derivative of max/min for one operand: 0 where it loses, half the gradient at ties (as torch)."""
    def d(a, b, y, g):
        av, bv = arr(a), arr(b)
        w = xp.where(av == bv, 0.5, 1.0) * ~lose(av, bv)
        return g * const(w.astype(g._data.dtype))
    return d


def _fkeep(a, b):
    # fmax/fmin give the gradient to the first operand on ties and where the second is NaN
    return xp.isnan(arr(b))


maximum = binary("maximum", xp.maximum, _split(xp.less), _split(xp.greater), tensors_only=True)
minimum = binary("minimum", xp.minimum, _split(xp.greater), _split(xp.less), tensors_only=True)
fmax = binary("fmax", xp.fmax, lambda a, b, y, g: masked(g, (arr(a) >= arr(b)) | _fkeep(a, b)),
              lambda a, b, y, g: masked(g, ~((arr(a) >= arr(b)) | _fkeep(a, b))), tensors_only=True)
fmin = binary("fmin", xp.fmin, lambda a, b, y, g: masked(g, (arr(a) <= arr(b)) | _fkeep(a, b)),
              lambda a, b, y, g: masked(g, ~((arr(a) <= arr(b)) | _fkeep(a, b))), tensors_only=True)
atan2 = binary("atan2", xp.arctan2, lambda a, b, y, g: g * b / (a * a + b * b),
               lambda a, b, y, g: g * a * -1 / (a * a + b * b), float_only=True, tensors_only=True,
               aliases=("arctan2",))
hypot = binary("hypot", xp.hypot, lambda a, b, y, g: g * a / y, lambda a, b, y, g: g * b / y,
               saves_output=True, tensors_only=True)
remainder = binary("remainder", xp.remainder, lambda a, b, y, g: g,
                   lambda a, b, y, g: g * floor_divide(a, b) * -1, check=_check_int_divisor, number_input=True,
                   operators=("__mod__",), reflected=("__rmod__",),
                   doc="Python's ``%``: the remainder with the sign of the divisor.")
fmod = binary("fmod", xp.fmod, lambda a, b, y, g: g, lambda a, b, y, g: g * div(a, b, rounding_mode="trunc") * -1,
              check=_check_int_divisor, doc="C's fmod: the remainder with the sign of the dividend.")


class Pow(Op):
    batching = "elementwise"
    saves_output = True

    @staticmethod
    def forward(a, b):
        if not is_scalar(b) and b.dtype.kind in "iu" and xp.asarray(a).dtype.kind in "iu" and (b < 0).any():
            return _int_pow(a, b)
        with xp.errstate(invalid="ignore", divide="ignore"):  # NaN/inf results, silently as torch
            return xp.power(a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.shapes = (shape(inputs[0]), shape(inputs[1]))
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        (fa, _), (fb, _) = ctx.next_functions
        ga = gb = None
        if fa is not None:
            if is_scalar(b):
                ga = _zeros(shape(a), g) if b == 0 else g * cj(b * pow(a, b - 1))
            else:  # d/da a^0 is 0 even where a^-1 is not finite
                ga = sum_to(where(const(arr(b) == 0), 0.0, g * cj(b * pow(a, b - 1))), ctx.shapes[0])
        if fb is not None:  # 0^b is 0 for b > 0 from the right: its derivative is taken as 0, as torch
            cut = const((arr(a) == 0) & (arr(b) >= 0))
            log_a = log(a) if isinstance(a, Tensor) else (
                cmath.log(a) if isinstance(a, complex) else math.log(a) if a > 0 else math.nan)
            gb = sum_to(where(cut, 0.0, g * cj(ctx.output * log_a)), ctx.shapes[1])
        return ga, gb


def _int_pow(a, b):
    """Integer powers with negative integer exponents elementwise, as torch: 1 and -1 keep their
    magnitude, every other base truncates to 0 (NumPy refuses them)."""
    a = xp.asarray(a, dtype=xp.result_type(a, b))
    neg = b < 0
    small = xp.where(a == 1, 1, xp.where(a == -1, 1 - 2 * (b & 1), 0)).astype(a.dtype)
    return xp.where(neg, small, xp.power(a, xp.where(neg, 0, b)))


@register(operators=("__pow__",), reflected=("__rpow__",), inplace="pow_")
def pow(input, exponent) -> Tensor:
    """``input ** exponent``, broadcasting; integer tensors stay integer."""
    if not isinstance(exponent, Tensor):
        need_tensor(input, "pow")
    # checked before promotion, which would wrap a negative exponent into an unsigned dtype
    if isinstance(exponent, numbers.Integral) and exponent < 0 and isinstance(input, Tensor) \
            and input._data.dtype.kind in "biu":
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    input, exponent = binary_operands(input, exponent, "check")
    return Pow.apply(input, exponent)


@register(inplace="square_")
def square(input) -> Tensor:
    """``input ** 2``."""
    return pow(input, 2)


# ----------------------------------------------------------------------------- selection and clamping
class Where(Op):
    batching = "elementwise"

    @staticmethod
    def forward(cond, x, y):
        return xp.where(cond, x, y)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.shapes = (shape(inputs[1]), shape(inputs[2]))
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        cond, = ctx.saved_tensors
        (_, _), (fx, _), (fy, _) = ctx.next_functions
        return (None, None if fx is None else sum_to(where(cond, g, 0.0), ctx.shapes[0]),
                None if fy is None else sum_to(where(cond, 0.0, g), ctx.shapes[1]))


@register(method=False)
def where(condition, input=None, other=None) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (promoted, broadcast); ``where(cond)`` is nonzero."""
    if input is None and other is None:
        return FUNCTIONS["nonzero"](condition, as_tuple=True)
    if not isinstance(condition, Tensor) or condition._data.dtype != xp.bool_:
        got = _type_name(condition.dtype) if isinstance(condition, Tensor) else type(condition).__name__
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {got}")
    input, other = binary_operands(input, other, "check")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor._make(xp.asarray(input, _dtype.result_type(input, other).np))
    elif type(input) is float and other._data.dtype is _BF16:  # NumPy's where would make it float32
        input = _BF16.type(input)
    return Where.apply(condition, input, other)


def _where_method(self, condition, other) -> Tensor:
    """``self`` where ``condition`` holds, else ``other``."""
    return where(condition, self, other)


Tensor.where = _where_method


class Clamp(Op):
    batching = "elementwise"

    @staticmethod
    def forward(x, lo, hi):
        if lo is not None:
            x = xp.maximum(x, lo)
        return x if hi is None else xp.minimum(x, hi)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.shapes = tuple(shape(i) for i in inputs)
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = (None if t is None else arr(t) for t in ctx.saved_tensors)
        (fx, _), (flo, _), (fhi, _) = ctx.next_functions
        sx, slo, shi = ctx.shapes
        grads = [None, None, None]
        if fx is not None:  # the boundary value itself passes the gradient, as torch's
            keep = xp.ones(g._data.shape, bool)
            if lo is not None:
                keep &= x >= lo
            if hi is not None:
                keep &= x <= hi
            grads[0] = sum_to(masked(g, keep), sx)
        if flo is not None:
            grads[1] = sum_to(masked(g, (x < lo) & (lo < hi) if hi is not None else x < lo), slo)
        if fhi is not None:
            grads[2] = sum_to(masked(g, (x > hi) | (hi < lo) if lo is not None else x > hi), shi)
        return tuple(grads)


@register(inplace="clamp_", aliases=("clip",))
def clamp(input, min=None, max=None) -> Tensor:
    """Limit ``input`` to ``[min, max]`` (numbers or tensors, either may be None)."""
    need_tensor(input, "clamp")
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    rt = _dtype.result_type(input, min, max)
    lo, hi = (None if b is None else _cast_bound(b, rt) for b in (min, max))
    return Clamp.apply(input if input._data.dtype is rt.np else input.to(rt), lo, hi)


def _cast_bound(b, rt):
    if isinstance(b, Tensor):
        return b if b._data.dtype is rt.np else b.to(rt)
    return float(b) if rt.is_floating_point else int(b)


Tensor.clip_ = Tensor.clamp_


@register(inplace="clamp_min_")
def clamp_min(input, min) -> Tensor:
    """``max(input, min)`` with clamp's gradient."""
    need_tensor(input, "clamp_min")
    return clamp(input, min=min)


@register(inplace="clamp_max_")
def clamp_max(input, max) -> Tensor:
    """``min(input, max)`` with clamp's gradient."""
    need_tensor(input, "clamp_max")
    return clamp(input, max=max)


@register(inplace="lerp_")
def lerp(input, end, weight) -> Tensor:
    """``input + weight * (end - input)``."""
    for what, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t._data.dtype != input._data.dtype:
            raise RuntimeError(f"lerp: expected dtype {input.dtype} for `{what}` but got dtype {t.dtype}")
    return input + weight * (end - input)


@register(inplace="logit_")
def logit(input, eps: float | None = None) -> Tensor:
    """``log(x / (1 - x))``, with ``x`` clamped to ``[eps, 1 - eps]`` when ``eps`` is given."""
    if input._data.dtype.kind not in "fV":
        input = input.to(_dtype.get_default_dtype())
    if eps is not None:
        input = clamp(input, eps, 1 - eps)
    return log(input / (1 - input))


class Round(Op):
    batching = "elementwise"

    @staticmethod
    def forward(x, decimals):
        if decimals == 0:
            return x.copy() if x.dtype.kind in "iub" else xp.rint(x)
        # scale by an exact power of ten, as torch does, rather than NumPy's multiply by 10**-n
        if decimals > 0:
            return xp.rint(x * 10.0 ** decimals) / 10.0 ** decimals
        return xp.rint(x / 10.0 ** -decimals) * 10.0 ** -decimals

    @staticmethod
    def backward(ctx, g):
        return _zero_grad(None, None, g), None


@register(inplace="round_")
def round(input, *, decimals: int = 0) -> Tensor:
    """Round half to even, to ``decimals`` decimal places."""
    if decimals and input._data.dtype.kind not in "fV":
        raise NotImplementedError(f'"round_cpu" not implemented for \'{_type_name(input.dtype)}\'')
    return Round.apply(input, decimals)


class NanToNum(Op):
    batching = "elementwise"

    @staticmethod
    def forward(x, nan, posinf, neginf):
        return xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        return masked(g, xp.isfinite(ctx.saved_tensors[0]._data)), None, None, None


@register(inplace="nan_to_num_")
def nan_to_num(input, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """Replace NaN by ``nan`` and infinities by ``posinf``/``neginf`` (default: the dtype's extremes)."""
    return NanToNum.apply(input, nan, posinf, neginf)


Tensor.__iadd__ = Tensor.add_
Tensor.__isub__ = Tensor.sub_
Tensor.__imul__ = Tensor.mul_
Tensor.__itruediv__ = Tensor.div_
Tensor.__ifloordiv__ = Tensor.floor_divide_
Tensor.__imod__ = Tensor.remainder_
Tensor.__ipow__ = Tensor.pow_


# ----------------------------------------------------------------------------- more arithmetic (torch's long tail)
@register(inplace="addcmul_")
def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2``, broadcasting."""
    return input + tensor1 * tensor2 * value if value != 1 else input + tensor1 * tensor2


@register(inplace="addcdiv_")
def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2``, broadcasting."""
    if not (_is_float(tensor1) or _is_float(tensor2)):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future release addcdiv "
                           "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
                           "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
                           "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
                           "addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), "
                           "for all dtypes.")
    return input + tensor1 / tensor2 * value if value != 1 else input + tensor1 / tensor2


def _copysign_da(a, b, y, g):
    # d/da copysign(a, b) = y / a (+-1), 0 at a == 0: written as torch's, so double backward agrees too
    zero = const(arr(a) == 0)
    return where(zero, 0.0, g * y / where(zero, 1.0, a))


copysign = binary("copysign", xp.copysign, _copysign_da, lambda a, b, y, g: g * 0.0, saves_output=True,
                  float_only=True, doc="``|input|`` with the sign of ``other``, elementwise.")


@register()
def float_power(input, exponent) -> Tensor:
    """``input ** exponent`` computed in float64, as torch's."""
    if not isinstance(exponent, Tensor):
        need_tensor(input, "float_power")
    a, b = (x.to(_dtype.float64) if isinstance(x, Tensor) else float(x) for x in (input, exponent))
    return pow(a, b)


def _float_power_(self: Tensor, exponent) -> Tensor:
    if self._data.dtype != xp.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {_type_name(self.dtype)} but the operation's "
                           f"result requires dtype Double")
    return float_power(self, exponent)


Tensor.float_power_ = inplace_method(_float_power_, "float_power_")


# torch's form of the gradient, g / (1 + exp(other - input)), so that double backward agrees with torch's too
# (NaN where one side is -inf: torch.masked.logaddexp's masked-out elements)
logaddexp = binary("logaddexp", xp.logaddexp, lambda a, b, y, g: g / (1 + exp(b - a)),
                   lambda a, b, y, g: g / (1 + exp(a - b)), tensors_only=True, float_only=True, inplace=None,
                   doc="``log(exp(input) + exp(other))`` without overflow.")
logaddexp2 = binary("logaddexp2", xp.logaddexp2, lambda a, b, y, g: g * exp2(a - y),
                    lambda a, b, y, g: g * exp2(b - y), saves_output=True, tensors_only=True, float_only=True,
                    inplace=None, doc="``log2(2**input + 2**other)`` without overflow.")


def _xlogy_np(x, y):
    dt = (x if isinstance(x, xp.ndarray) else y).dtype  # log of a Python number is float64: keep the tensor's
    with xp.errstate(divide="ignore", invalid="ignore"):
        out = xp.asarray(x * xp.log(y), dt)
    return xp.where((xp.asarray(x) == 0) & ~xp.isnan(y), xp.zeros_like(out), out)


xlogy = binary("xlogy", _xlogy_np, lambda a, b, y, g: g * xlogy(const(arr(a) != 0), b),
               lambda a, b, y, g: g * a / b, float_only=True, number_input=True,
               doc="``input * log(other)``, and 0 where ``input`` is 0 (unless ``other`` is NaN).")


def _sinc_np(x):
    px = math.pi * x
    with xp.errstate(divide="ignore", invalid="ignore"):
        out = xp.sin(px) / px
    return xp.where(x == 0, xp.ones_like(out), out)


def _sinc_grad(x, y, g):
    zero = const(x._data == 0)
    safe = where(zero, 1.0, x)  # keeps the unused branch finite, so double backward has no 0 * inf
    return where(zero, 0.0, g * (cos(safe * math.pi) - sinc(safe)) / safe)


sinc = unary("sinc", _sinc_np, _sinc_grad, doc="``sin(pi x) / (pi x)``, 1 at 0.")


def _scaler(name: str, factor: float, doc: str):
    def fn(input) -> Tensor:
        if input._data.dtype.kind not in "fV":
            input = input.to(_dtype.get_default_dtype())
        return input * factor
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return register(name, inplace=f"{name}_")(fn)


deg2rad = _scaler("deg2rad", math.pi / 180, "Degrees to radians.")
rad2deg = _scaler("rad2deg", 180 / math.pi, "Radians to degrees.")


@register()
def positive(input) -> Tensor:
    """``input`` itself (``+input``)."""
    if input._data.dtype == xp.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


@register(inplace="heaviside_")
def heaviside(input, values) -> Tensor:
    """The Heaviside step: 0 below 0, 1 above, ``values`` at 0 (not differentiable, as torch's)."""
    if not isinstance(values, Tensor):
        raise TypeError(f"heaviside(): argument 'values' must be Tensor, not {type(values).__name__}")
    if input._data.dtype != values._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    return pure(lambda x, y: xp.asarray(xp.heaviside(x, y), x.dtype), input, values)


@register(inplace="ldexp_")
def ldexp(input, other) -> Tensor:
    """``input * 2 ** other``."""
    need_tensor(input, "ldexp")
    need_tensor(other, "ldexp", "other", 2)
    return mul(input, pow(2.0, other))


class Frexp(Op):
    batching = "elementwise"
    differentiable_outputs = (0,)

    @staticmethod
    def forward(x):
        m, e = xp.frexp(x)
        return m, e.astype(xp.int32)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.scale = xp.ldexp(xp.ones((), output[0].dtype), -output[1])  # 2 ** -exponent, exact

    @staticmethod
    def backward(ctx, g, _):
        return g * const(ctx.scale)


@register()
def frexp(input):
    """Mantissa in [0.5, 1) and int32 exponent with ``input = mantissa * 2 ** exponent``."""
    if input._data.dtype.kind not in "fV":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    from .reduction import return_types
    return return_types.frexp(*Frexp.apply(input))


def _integer_binary(name: str, f, doc: str):
    def fn(input, other) -> Tensor:
        need_tensor(input, name)
        need_tensor(other, name, "other", 2)
        input, other = binary_operands(input, other)
        for t in (input, other):
            if isinstance(t, Tensor) and t._data.dtype.kind not in "iu":
                raise RuntimeError(f'"{name}_cpu" not implemented for \'{_type_name(t.dtype)}\'')
        dt = _dtype.result_type(input, other).np
        return pure(lambda x, y: xp.asarray(f(x, y), dt), input, other)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return register(name, inplace=f"{name}_")(fn)


gcd = _integer_binary("gcd", xp.gcd, "Greatest common divisor of integers, elementwise.")
lcm = _integer_binary("lcm", xp.lcm, "Least common multiple of integers, elementwise.")


# torch's gradient: to input where it moves (the step is below rounding), none to other
nextafter = binary("nextafter", xp.nextafter, lambda a, b, y, g: masked(g, arr(a) != arr(b)),
                   lambda a, b, y, g: g * 0.0, tensors_only=True,
                   doc="The next representable float after ``input`` toward ``other``.")
