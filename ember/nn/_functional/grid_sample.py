"""grid_sample: read an (N, C, *spatial) input at the normalized positions of a grid, in 2-D and 3-D.

Each output point reads a few input pixels (taps): one (nearest), two per dim (bilinear, trilinear) or
four per dim (bicubic, 2-D only), weighted by a product of 1-D kernel weights of the point's fractional
position t along each dim. The forward gathers the taps with fancy indexing. The backward is one formula
(``_grads``) written with arithmetic operators and four helpers (where, gather, scatter, stack) that exist for
NumPy arrays and for ember Tensors: a plain backward runs it on arrays; under ``create_graph`` it runs on
Tensors, with t a differentiable function of the grid, so it is recorded and can be differentiated again.
"""
from __future__ import annotations

import functools
import itertools
import math
import operator
import types

from ..._backend import xp
from ..._tensor import Tensor
from ...autograd.function import Op
from ...autograd.grad_mode import is_grad_enabled
from ..._ops.common import register
from ..._ops.elementwise import where
from ..._ops.indexing import scatter_add, take_along_dim
from ..._ops.linalg import _short
from ..._ops.shape import cat, stack

__all__ = ["grid_sample"]

_MODES = ("bilinear", "nearest", "bicubic")
_PADDINGS = ("zeros", "border", "reflection")
# where each mode's taps sit relative to floor(position) (rint(position) for nearest)
_OFFSETS = {"nearest": (0,), "bilinear": (0, 1), "bicubic": (-1, 0, 1, 2)}
_A = -0.75  # torch's cubic convolution coefficient


# ----------------------------------------------------------------------------- 1-D kernels
# Keys' cubic kernel for |x| <= 1 and 1 < |x| < 2, and their slopes; operators only, so that they run on
# arrays and on Tensors alike
def _near(x):
    return ((_A + 2) * x - (_A + 3)) * x * x + 1


def _far(x):
    return ((_A * x - 5 * _A) * x + 8 * _A) * x - 4 * _A


def _near_slope(x):
    return (3 * (_A + 2) * x - 2 * (_A + 3)) * x


def _far_slope(x):
    return (3 * _A * x - 10 * _A) * x + 8 * _A


def _weights(t, mode: str) -> list:
    """The kernel weight of each tap at fractional position t (the taps of ``_OFFSETS[mode]``)."""
    if mode == "nearest":
        # 1, written as a function of t (0 for nearest) so that under create_graph the gradients are recorded
        # as depending on the grid (with derivative 0), as torch's are
        return [t * 0 + 1]
    if mode == "bilinear":
        return [1 - t, t]
    return [_far(t + 1), _near(t), _near(1 - t), _far(2 - t)]


def _slopes(t, mode: str) -> list:
    """d(weight)/dt of each tap."""
    if mode == "nearest":
        return [t * 0]
    if mode == "bilinear":
        return [-1.0, 1.0]
    return [_far_slope(t + 1), _near_slope(t), -_near_slope(1 - t), -_far_slope(2 - t)]


# ----------------------------------------------------------------------------- coordinates
def _clip(c, size: int):
    """Clamp to [0, size - 1] (NaN to 0, as torch); the gradient is 0 on and past the borders (torch treats the
    border as outside)."""
    inside = (c > 0) & (c < size - 1)
    return xp.where(c > 0, xp.minimum(c, size - 1), 0).astype(c.dtype, copy=False), inside.astype(c.dtype)


def _reflect(c, twice_low: int, twice_high: int):
    """Fold ``c`` into [twice_low/2, twice_high/2] by mirroring at its ends; also d(result)/dc (+-1)."""
    if twice_low == twice_high:
        return xp.zeros_like(c), xp.zeros_like(c)
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    d = c - low
    a = xp.abs(d)
    with xp.errstate(invalid="ignore"):  # an infinite coordinate folds to NaN, which _clip sends to 0
        extra = xp.fmod(a, span)
        even = xp.floor(a / span) % 2 == 0
    sign = xp.where(d < 0, -1.0, 1.0).astype(c.dtype)
    return xp.where(even, extra + low, span - extra + low).astype(c.dtype), xp.where(even, sign, -sign)


def _pad(c, size: int, padding: str, align_corners: bool):
    """``c`` moved into [0, size - 1] as ``padding`` says (zeros: left alone), and d(result)/dc."""
    if padding == "zeros":
        return c, 1.0
    mult = 1.0
    if padding == "reflection":
        c, mult = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
    c, m = _clip(c, size)
    return c, mult * m


class _Plan:
    """Where each output point reads. Per spatial dim (in the input's order): the fractional position ``ts``
    (N, P) and ``ms``, d(position)/d(grid coordinate). ``taps``: [(flat index, inside, tap number per dim)],
    index and mask (N, P); a tap outside the input (zeros padding) reads index 0 and is masked out."""

    def __init__(self, grid, spatial, mode: str, padding: str, align_corners: bool):
        n, dims = grid.shape[0], len(spatial)
        g = grid.reshape(n, math.prod(grid.shape[1:-1]), dims)
        self.mode, self.ts, self.ms, axes = mode, [], [], []
        stride = 1
        for d in reversed(range(dims)):  # the grid's last dim is (x, y[, z]): x indexes the last spatial dim
            size = spatial[d]
            scale = (size - 1) / 2 if align_corners else size / 2
            u = (g[..., dims - 1 - d] + 1) * scale - (0 if align_corners else 0.5)
            m = xp.full_like(u, scale)
            if mode != "bicubic":  # bilinear and nearest pad the position; bicubic pads each tap (as torch)
                u, mult = _pad(u, size, padding, align_corners)
                m = m * mult
            base = xp.rint(u) if mode == "nearest" else xp.floor(u)  # rint: half to even, as torch's nearbyint
            taps = []
            for offset in _OFFSETS[mode]:
                k = base + offset
                if mode == "bicubic":
                    k = _pad(k, size, padding, align_corners)[0]
                inside = (k >= 0) & (k <= size - 1)
                taps.append((xp.clip(xp.nan_to_num(k), 0, size - 1).astype(xp.int64) * stride, inside))
            with xp.errstate(invalid="ignore"):  # an infinite position: t is NaN, and so is the output (as torch's)
                self.ts.insert(0, xp.zeros_like(u) if mode == "nearest" else u - base)
            self.ms.insert(0, m)
            axes.insert(0, list(enumerate(taps)))
            stride *= size
        self.taps = []
        for combo in itertools.product(*axes):  # a tap: one 1-D tap along each dim
            which, index, inside = zip(*[(j, i, ok) for j, (i, ok) in combo])
            self.taps.append((sum(index), functools.reduce(operator.and_, inside), which))


def _product(factors):
    return functools.reduce(operator.mul, factors)


# ----------------------------------------------------------------------------- the same formula, two kinds of value
def _array_scatter(parts, shape):
    """(N, C, S) zeros plus each (index (N, P), values (N, C, P)) of ``parts`` added at its index: one bincount."""
    n, c, s = shape
    base = (xp.arange(n * c, dtype=xp.int64) * s).reshape(n, c, 1)
    index = xp.concatenate([(base + idx[:, None, :]).ravel() for idx, _ in parts])
    weight = xp.concatenate([v.ravel() for _, v in parts])
    return xp.bincount(index, weight, minlength=n * c * s).reshape(shape)


def _tensor_scatter(parts, shape):
    vals = cat([v for _, v in parts], dim=2)
    index = xp.concatenate([idx for idx, _ in parts], axis=1)
    index = Tensor._make(xp.ascontiguousarray(xp.broadcast_to(index[:, None, :], vals.shape)))
    return scatter_add(Tensor._make(xp.zeros(shape, dtype=vals._data.dtype)), 2, index, vals)


_ARRAYS = types.SimpleNamespace(where=xp.where, gather=lambda flat, idx: xp.take_along_axis(flat, idx[:, None, :], 2),
                                scatter=_array_scatter, stack=xp.stack)
_TENSORS = types.SimpleNamespace(where=lambda mask, a, b: where(Tensor._make(mask), a, b),
                                 gather=lambda flat, idx: take_along_dim(flat, Tensor._make(idx[:, None, :]), 2),
                                 scatter=_tensor_scatter, stack=stack)


def _grads(g, x, grid_shape, plan: _Plan, ts, ms, need_x: bool, need_grid: bool, ops):
    """The gradients of out = sum over taps of weight * x[tap] wrt x and the grid, for the incoming g (N, C, P):
    a scatter of g * weight, and per grid coordinate m * sum over taps of d(weight)/dt * <x[tap], g>."""
    n, c = g.shape[:2]
    g, flat = g.reshape(n, c, math.prod(g.shape[2:])), x.reshape(n, c, math.prod(x.shape[2:]))
    ws = [_weights(t, plan.mode) for t in ts]
    slopes = [_slopes(t, plan.mode) for t in ts] if need_grid else None
    parts, gts = [], [0.0] * len(ts)
    for idx, inside, which in plan.taps:
        if need_x:
            w = _product(ws[d][j] for d, j in enumerate(which))
            parts.append((idx, g * ops.where(inside, w, 0)[:, None, :]))
        if need_grid:
            s = ops.where(inside, (ops.gather(flat, idx) * g).sum(1), 0)
            for e in range(len(ts)):
                gts[e] = gts[e] + s * _product(slopes[d][j] if d == e else ws[d][j] for d, j in enumerate(which))
    gx = ops.scatter(parts, flat.shape).reshape(x.shape) if need_x else None
    # the grid's last dim runs (x, y[, z]), the spatial dims the other way round
    ggrid = ops.stack([gt * m for gt, m in zip(gts, ms)][::-1], -1).reshape(grid_shape) if need_grid else None
    return gx, ggrid


class GridSample(Op):
    """Sample (N, C, *spatial) at the (N, *out, dims) normalized positions of ``grid``."""

    @staticmethod
    def forward(x, grid, mode, padding, align_corners):
        n, c = x.shape[:2]
        plan = _Plan(grid, x.shape[2:], mode, padding, align_corners)
        flat = x.reshape(n, c, math.prod(x.shape[2:]))
        ws = [_weights(t, mode) for t in plan.ts]
        out = xp.zeros((n, c, plan.ts[0].shape[1]), dtype=x.dtype)
        for idx, inside, which in plan.taps:
            # a product, not a where: a NaN weight (an infinite position) makes the output NaN, as torch's
            w = (_product(ws[d][j] for d, j in enumerate(which)) * inside).astype(x.dtype, copy=False)
            out += w[:, None, :] * xp.take_along_axis(flat, idx[:, None, :], axis=2)
        return out.reshape(n, c, *grid.shape[1:-1])

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, grid, ctx.mode, ctx.padding, ctx.align_corners = inputs
        ctx.save_for_backward(x, grid)

    @staticmethod
    def backward(ctx, g):
        x, grid = ctx.saved_tensors
        need_x, need_grid = ctx.needs_input_grad[:2]
        plan = _Plan(grid._data, x.shape[2:], ctx.mode, ctx.padding, ctx.align_corners)
        if is_grad_enabled():
            # create_graph: the formula runs on Tensors and is recorded, each t a function of the grid whose
            # value is exact and whose derivative is m
            n, dims = grid.shape[0], x.ndim - 2
            coords = grid.reshape(n, math.prod(grid.shape[1:-1]), dims)
            coords = [coords[..., dims - 1 - d] for d in range(dims)]
            ts = [Tensor._make(t) + (cd - cd.detach()) * Tensor._make(m) for t, m, cd in zip(plan.ts, plan.ms, coords)]
            ms = [Tensor._make(m) for m in plan.ms]
            gx, ggrid = _grads(g, x, grid.shape, plan, ts, ms, need_x, need_grid, _TENSORS)
        else:
            # nearest is a step function of the grid: its grid gradient is 0, no need to compute it
            gx, ggrid = _grads(g._data, x._data, grid.shape, plan, plan.ts, plan.ms, need_x,
                               need_grid and ctx.mode != "nearest", _ARRAYS)
            gx = None if gx is None else Tensor._make(gx.astype(x._data.dtype, copy=False))
            ggrid = None if ggrid is None else Tensor._make(ggrid.astype(grid._data.dtype, copy=False))
        if ctx.needs_input_grad[1] and ggrid is None:
            ggrid = Tensor._make(xp.zeros(grid.shape, dtype=grid._data.dtype))
        return gx, ggrid, None, None, None


# ----------------------------------------------------------------------------- the public functions
def _check(input: Tensor, grid: Tensor, mode: str, dims: int) -> None:
    """torch's checks of grid_sampler's arguments, in its order; ``dims``: 2 or 3 spatial dims expected."""
    if input.dtype != grid.dtype:
        raise RuntimeError(f"expected scalar type {_short(input)} but found {_short(grid)}")
    shapes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.ndim == 0 or grid.ndim == 0 or input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got {shapes}")
    if grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in last dimension, but got "
                           f"grid with sizes {list(grid.shape)}")
    for i in range(2, input.ndim):
        if input.shape[i] <= 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                               f"sizes {list(input.shape)} with dimension {i} being empty")
    if input.ndim != dims + 2 or grid.ndim != dims + 2:
        raise RuntimeError(f"grid_sampler(): expected {dims + 2}D input and grid with same number of dimensions, "
                           f"but got {shapes}")
    if dims == 3 and mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if not input.dtype.is_floating_point:
        kernel = "grid_sampler_2d_cpu_kernel_impl" if dims == 2 else "grid_sampler3d_cpu"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_short(input)}'")


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """Sample ``input`` (N, C, H, W) or (N, C, D, H, W) at the normalized (x, y[, z]) positions of ``grid``
    (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3)."""
    if mode not in _MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in _PADDINGS:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    return grid_sampler(input, grid, _MODES.index(mode), _PADDINGS.index(padding_mode), bool(align_corners))


def _sample(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int, align_corners: bool,
            dims: int) -> Tensor:
    mode, padding = _MODES[interpolation_mode], _PADDINGS[padding_mode]
    _check(input, grid, mode, dims)
    return GridSample.apply(input, grid, mode, padding, bool(align_corners))


@register(method=False)
def grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                 align_corners: bool) -> Tensor:
    """aten's grid_sample, the modes given by number (bilinear 0, nearest 1, bicubic 2; zeros 0, border 1,
    reflection 2)."""
    return _sample(input, grid, interpolation_mode, padding_mode, align_corners, 2 if input.ndim == 4 else 3)


@register(method=False)
def grid_sampler_2d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                    align_corners: bool) -> Tensor:
    """aten's grid_sample of (N, C, H, W), the modes given by number."""
    return _sample(input, grid, interpolation_mode, padding_mode, align_corners, 2)


@register(method=False)
def grid_sampler_3d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                    align_corners: bool) -> Tensor:
    """aten's grid_sample of (N, C, D, H, W), the modes given by number (bilinear 0, nearest 1)."""
    return _sample(input, grid, interpolation_mode, padding_mode, align_corners, 3)
