"""Shape and view ops: reshape, expand, ..."""
from __future__ import annotations

import math

from .._backend import xp
from .._tensor import Tensor
from ..autograd.function import Op
from .common import register


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Reshape(Op):
    @staticmethod
    def forward(x, shape):
        return x.reshape(shape)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.in_shape = inputs[0]._data.shape

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


def _infer(shape, numel, op):
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


@register()
def reshape(input, *shape) -> Tensor:
    """The same elements in a new shape (a view when possible)."""
    shape = _infer(_shape_arg(shape), input._data.size, "reshape")
    if shape == input._data.shape:
        return input
    return Reshape.apply(input, shape)


@register(function=False)
def view(self, *shape) -> Tensor:
    """The same elements in a new shape, sharing memory."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int)):
        return self.to(shape[0])
    shape = _infer(_shape_arg(shape), self._data.size, "view")
    if not self._data.flags.c_contiguous and self._data.size > 1 and shape != self._data.shape:
        try:
            out = self._data.view()
            out.shape = shape
        except AttributeError:
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                               "dimension spans across two contiguous subspaces). Use .reshape(...) instead.") \
                from None
    return Reshape.apply(self, shape)


class Expand(Op):
    @staticmethod
    def forward(x, shape):
        return xp.broadcast_to(x, shape)

    setup_context = Reshape.setup_context

    @staticmethod
    def backward(ctx, g):
        from .common import sum_to
        return sum_to(g, ctx.in_shape), None


@register(function=False)
def expand(self, *sizes) -> Tensor:
    """A broadcast view with size-1 dims repeated (``-1`` keeps a size)."""
    sizes = _shape_arg(sizes)
    nd = self._data.ndim
    if len(sizes) < nd:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({nd})")
    lead = len(sizes) - nd
    shape = []
    for i, s in enumerate(sizes):
        if i >= lead:
            cur = self._data.shape[i - lead]
            if s == -1:
                s = cur
            elif cur != 1 and cur != s:
                raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                                   f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                                   f"{list(self._data.shape)}")
        elif s < 0:
            raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a leading, non-existing "
                               "dimension 0")
        shape.append(s)
    shape = tuple(shape)
    if shape == self._data.shape:
        return self
    return Expand.apply(self, shape)
