"""Reductions over dims: sum, mean, ..."""
from __future__ import annotations

import numpy as np

from .. import _dtype
from .._backend import xp
from .._tensor import Tensor
from ..autograd.function import Op
from .common import register, norm_dims


def _expand_back(g: Tensor, in_shape, dims, keepdim: bool) -> Tensor:
    """Broadcast a reduced gradient back over the reduced dims."""
    if not keepdim and dims:
        shp = list(in_shape)
        for d in dims:
            shp[d] = 1
        g = g.reshape(tuple(shp))
    return g.expand(in_shape)


class Sum(Op):
    @staticmethod
    def forward(x, dims, keepdim, dt):
        return xp.sum(x, axis=dims, keepdims=keepdim, dtype=dt)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.dims, ctx.keepdim, _ = inputs
        ctx.in_shape = x._data.shape

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.in_shape, ctx.dims, ctx.keepdim), None, None, None


@register()
def sum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum of elements, over all dims or the given ones."""
    dims = norm_dims(dim, input._data.ndim, "sum")
    if dtype is not None:
        dt = _dtype.as_dtype(dtype).np
    elif input._data.dtype.kind in "bui":
        dt = np.int64  # torch sums integers and bools as int64
    else:
        dt = None
    return Sum.apply(input, dims, keepdim, dt)


@register()
def mean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean, over all dims or the given ones."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {_long_name(input.dtype)}")
    dims = norm_dims(dim, input._data.ndim, "mean")
    n = 1
    for d in dims:
        n *= input._data.shape[d]
    return sum(input, dims, keepdim) / n if n else sum(input, dims, keepdim) * float("nan")


def _long_name(d) -> str:
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(d.name, d.name)
