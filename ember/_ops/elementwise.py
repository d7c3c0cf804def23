"""Elementwise ops: arithmetic with broadcasting, and the unary math functions.

Each op is one ``Op`` class (forward on arrays, backward in ember ops) and one
public function registered as ``ember.X``, ``Tensor.X`` and its operators.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _dtype
from .._backend import xp
from .._tensor import Tensor
from ..autograd.function import Op
from .common import binary_operands, register, sum_to, float_dtype_for, is_scalar, as_tensor_arg


def arr(x):
    """The array behind a tensor operand; numbers pass through."""
    return x._data if isinstance(x, Tensor) else x


def shape(x) -> tuple:
    return x._data.shape if isinstance(x, Tensor) else ()


# ----------------------------------------------------------------------------- arithmetic
class Add(Op):
    @staticmethod
    def forward(a, b, alpha):
        return a + b if alpha == 1 else a + alpha * b

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, ctx.alpha = inputs
        ctx.shapes = (shape(a), shape(b))

    @staticmethod
    def backward(ctx, g):
        (fa, _), (fb, _) = ctx.next_functions[:2]
        sa, sb = ctx.shapes
        return (sum_to(g, sa) if fa is not None else None,
                sum_to(g if ctx.alpha == 1 else g * ctx.alpha, sb) if fb is not None else None)


class Sub(Op):
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


class Mul(Op):
    @staticmethod
    def forward(a, b):
        return a * b

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b = inputs
        ctx.shapes = (shape(a), shape(b))
        # each input's gradient needs only the other input
        ctx.save_for_backward(a if _requires_grad(b) else None, b if _requires_grad(a) else None)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (None if b is None else sum_to(g * b, ctx.shapes[0]),
                None if a is None else sum_to(g * a, ctx.shapes[1]))


class Div(Op):
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
        ga = sum_to(g / b, ctx.shapes[0]) if nf[0][0] is not None else None
        gb = sum_to(-g * a / (b * b), ctx.shapes[1]) if nf[1][0] is not None else None
        return ga, gb


def _requires_grad(x) -> bool:
    return isinstance(x, Tensor) and x._requires_grad


@register(operators=("__add__",), reflected=("__radd__",), inplace="add_")
def add(input, other, *, alpha=1, out=None) -> Tensor:
    """``input + alpha * other``, broadcasting."""
    input, other = binary_operands(input, other)
    return _out(Add.apply(input, other, alpha), out)


@register(operators=("__sub__",), reflected=("__rsub__",), inplace="sub_", aliases=("subtract",))
def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """``input - alpha * other``, broadcasting."""
    input, other = binary_operands(input, other)
    if isinstance(input, Tensor) and input._data.dtype == np.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    return _out(Sub.apply(input, other, alpha), out)


@register(operators=("__mul__",), reflected=("__rmul__",), inplace="mul_", aliases=("multiply",))
def mul(input, other, *, out=None) -> Tensor:
    """``input * other``, broadcasting."""
    input, other = binary_operands(input, other)
    return _out(Mul.apply(input, other), out)


@register(operators=("__truediv__",), reflected=("__rtruediv__",), inplace="div_", aliases=("divide",))
def div(input, other, *, rounding_mode: str | None = None, out=None) -> Tensor:
    """``input / other``; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient as torch does."""
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        input, other = binary_operands(input, other)
        q = Div.apply(*_float_operands(input, other))
        res_dt = _dtype.result_type(input, other)
        return trunc(q).to(res_dt) if not res_dt.is_floating_point else trunc(q)
    if rounding_mode is not None:
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                         f"'{rounding_mode}'")
    input, other = binary_operands(input, other)
    return _out(Div.apply(*_float_operands(input, other)), out)


def _float_operands(a, b):
    # true division of integers gives the default float dtype
    for x in (a, b):
        if isinstance(x, Tensor) and x._data.dtype.kind != "f":
            dt = _dtype.get_default_dtype()
            return (a.to(dt) if isinstance(a, Tensor) else float(a)), (b.to(dt) if isinstance(b, Tensor) else float(b))
    return a, b


register("true_divide", method=True)(lambda input, other: div(input, other))


def _out(result: Tensor, out):
    if out is None:
        return result
    out._data = result._data.astype(out._data.dtype, copy=False) if out._data.shape == result._data.shape \
        else result._data.astype(out._data.dtype)
    out._version += 1
    return out


@register(operators=("__neg__",), inplace="neg_", aliases=("negative",))
def neg(input) -> Tensor:
    """``-input``."""
    if input._data.dtype == np.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")
    return Neg.apply(input)


class Neg(Op):
    @staticmethod
    def forward(x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


Tensor.__pos__ = lambda self: self


# ----------------------------------------------------------------------------- unary math
def unary(name: str, fwd, bwd, *, saves: str = "input", keeps_int: bool = False, inplace: bool = True,
          doc: str = "", aliases=()):
    """Define and register a one-input elementwise op from its forward and its derivative.

    ``bwd(x, y, g)`` returns the input gradient written with ember ops, from the input ``x``
    and/or the output ``y`` (whichever ``saves`` names, the other is None) and the output
    gradient ``g``. Integer inputs are promoted to the default float unless ``keeps_int``.
    """
    save_out = saves == "output"

    class Unary(Op):
        saves_output = save_out

        forward = staticmethod(fwd)

        @staticmethod
        def setup_context(ctx, inputs, output):
            if saves == "input":
                ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            if save_out:
                return bwd(None, ctx.output, g)
            if saves == "input":
                return bwd(ctx.saved_tensors[0], None, g)
            return bwd(None, None, g)

    Unary.__name__ = Unary.__qualname__ = name[0].upper() + name[1:]
    Unary._Node.__name__ = Unary.__name__ + "Backward0"

    def fn(input) -> Tensor:
        if not keeps_int and input._data.dtype.kind != "f":
            input = input.to(_dtype.get_default_dtype())
        return Unary.apply(input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc or f"Elementwise {name}."
    fn.op = Unary
    register(name, inplace=f"{name}_" if inplace else None, aliases=aliases)(fn)
    return fn


exp = unary("exp", xp.exp, lambda x, y, g: g * y, saves="output")
tanh = unary("tanh", xp.tanh, lambda x, y, g: g * (1 - y * y), saves="output")
log = unary("log", xp.log, lambda x, y, g: g / x)
