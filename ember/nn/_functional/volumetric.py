"""Volumetric (3-D) convolution and pooling over (N, C, D, H, W).

The 2-D kernels in conv.py and pooling.py are tuned for images; these are plain and separate. A
convolution is an im2col copy (one strided view of the zero-padded input per kernel offset) and one
matmul per group; its input gradient is the adjoint (a matmul, then col2im: each offset's columns
added back where they came from) and its weight gradient a matmul of the same columns with the output
gradient. The three maps are bilinear and each op's backward is written with the other two, so double
backward needs nothing more. Pooling reuses pooling.py's argument handling, its gather/scatter pair
(max pooling's gradient) and its scan (torch's tie and NaN rules).
"""
from __future__ import annotations

import itertools
import math

from ..._backend import matmul, xp
from ..._dtype import is_float
from ..._tensor import Tensor
from ...amp import autocast_mode as _amp
from ...autograd.function import Op
from .conv import _add_bias, _bias_grad, _conv_args, _conv_transpose_args, _f32, _half
from .pooling import (SpatialGather, SpatialScatter, _adaptive_index, _adaptive_matrix, _batched, _check_avg_dtype,
                      _check_input, _divisors, _geometry, _lp_pool, _max_unpool, _offset_dtype, _output_size,
                      _scan_max, _window_mean)
from .vision import Resample

__all__ = ["conv3d", "conv_transpose3d", "max_pool3d", "max_pool3d_with_indices", "avg_pool3d",
           "adaptive_avg_pool3d", "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices", "max_unpool3d",
           "lp_pool3d"]


# ----------------------------------------------------------------------------- convolution kernels
# A geometry ``geo`` is (stride, pads, dilation, groups): stride and dilation are (d, h, w) triples and
# pads three (lo, hi) pairs, so asymmetric 'same' padding needs no separate pad op.

def _offsets(k):
    return list(itertools.product(range(k[0]), range(k[1]), range(k[2])))


def _window(a, start, step, count):
    """The strided view a[..., start[0]::step[0] (count[0] of them), ...] over the last three dims."""
    return a[(..., *(slice(b, b + s * (c - 1) + 1, s) for b, s, c in zip(start, step, count)))]


def _out_dhw(dhw, k, geo) -> tuple:
    stride, pads, dil, _ = geo
    return tuple((n + lo + hi - d * (kk - 1) - 1) // s + 1
                 for n, kk, s, (lo, hi), d in zip(dhw, k, stride, pads, dil))


def _columns3d(x, k, geo, out):
    """im2col: the (N, C, kd, kh, kw, Do, Ho, Wo) receptive fields of x (N, C, D, H, W)."""
    stride, pads, dil, _ = geo
    xpad = xp.pad(x, ((0, 0), (0, 0), *pads)) if any(p for pp in pads for p in pp) else x
    cols = xp.empty((*x.shape[:2], *k, *out), dtype=x.dtype)
    for off in _offsets(k):
        cols[(slice(None), slice(None), *off)] = _window(xpad, [o * d for o, d in zip(off, dil)], stride, out)
    return cols


def _conv3d(x, w, geo, out=None):
    """Cross-correlation of x (N, C, D, H, W) with w (O, C/g, kd, kh, kw); ``out`` fixes the output size
    (the adjoint of a transposed convolution with output_padding covers fewer positions than fit)."""
    g = geo[3]
    o, k = w.shape[0], w.shape[2:]
    out = out or _out_dhw(x.shape[2:], k, geo)
    n = x.shape[0]
    # explicit sizes, never -1: an empty batch leaves -1 undetermined
    kk = w[0].size
    cols = _columns3d(x, k, geo, out).reshape(n, g, kk, math.prod(out))
    y = matmul(w.reshape(g, o // g, kk), cols)  # (N, g, O/g, P)
    return y.reshape(n, o, *out)


def _conv3d_adjoint(gy, w, in_dhw, geo):
    """The transposed convolution: the adjoint of ``_conv3d`` in its input, whose spatial size is in_dhw."""
    stride, pads, dil, g = geo
    o, cg, *k = w.shape
    n, out = gy.shape[0], gy.shape[2:]
    wt = w.reshape(g, o // g, w[0].size).swapaxes(1, 2)
    cols = matmul(wt, gy.reshape(n, g, o // g, math.prod(out))).reshape(n, g * cg, *k, *out)
    # the padded canvas must hold every window, including positions a strided conv never reached
    size = [max(m + lo + hi, d * (kk - 1) + s * (c - 1) + 1)
            for m, (lo, hi), d, kk, s, c in zip(in_dhw, pads, dil, k, stride, out)]
    canvas = xp.zeros((n, g * cg, *size), dtype=gy.dtype)
    for off in _offsets(k):
        _window(canvas, [a * d for a, d in zip(off, dil)], stride, out)[...] += cols[(slice(None), slice(None), *off)]
    return xp.ascontiguousarray(canvas[(..., *(slice(lo, lo + m) for (lo, _), m in zip(pads, in_dhw)))])


def _conv3d_weight(x, gy, k, geo):
    """The gradient of ``_conv3d`` in its weight: the output gradient times the input's columns."""
    g = geo[3]
    n, o, *out = gy.shape
    p, cg = math.prod(out), x.shape[1] // g
    kk = cg * math.prod(k)
    cols = _columns3d(x, k, geo, tuple(out)).reshape(n, g, kk, p)
    # batch and positions as one contraction axis: (g, K, N*P) and (g, O/g, N*P)
    cm = cols.transpose(1, 2, 0, 3).reshape(g, kk, n * p)
    gm = gy.reshape(n, g, o // g, p).transpose(1, 2, 0, 3).reshape(g, o // g, n * p)
    return matmul(gm, cm.swapaxes(1, 2)).reshape(o, cg, *k)


# ----------------------------------------------------------------------------- convolution ops
class Convolution3d(Op):
    """conv3d(x, w) + b, with the output's spatial size ``out`` (None: as many positions as fit)."""

    @staticmethod
    def forward(x, w, b, geo, out=None):
        return _add_bias(_conv3d(x, w, geo, out), b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, _, ctx.geo = inputs[:4]
        ctx.save_for_backward(x, w)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = ConvAdjoint3d.apply(g, w, None, ctx.geo, tuple(x.shape[2:])) if need_x else None
        gw = ConvWeight3d.apply(x, g, ctx.geo, tuple(w.shape[2:])) if need_w else None
        return gx, gw, _bias_grad(g) if need_b else None, None, None


class ConvAdjoint3d(Op):
    """The transposed convolution conv3d^T(y, w) + b, whose output has spatial size ``in_dhw``."""

    @staticmethod
    def forward(y, w, b, geo, in_dhw):
        return _add_bias(_conv3d_adjoint(y, w, in_dhw, geo), b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        y, w, _, ctx.geo, _ = inputs
        ctx.save_for_backward(y, w)

    @staticmethod
    def backward(ctx, g):
        y, w = ctx.saved_tensors
        need_y, need_w, need_b = ctx.needs_input_grad[:3]
        gy = Convolution3d.apply(g, w, None, ctx.geo, tuple(y.shape[2:])) if need_y else None
        gw = ConvWeight3d.apply(g, y, ctx.geo, tuple(w.shape[2:])) if need_w else None
        return gy, gw, _bias_grad(g) if need_b else None, None, None


class ConvWeight3d(Op):
    """The weight gradient of a convolution of x whose output gradient is gy."""

    @staticmethod
    def forward(x, gy, geo, k):
        return _conv3d_weight(x, gy, k, geo)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, gy, ctx.geo, _ = inputs
        ctx.save_for_backward(x, gy)

    @staticmethod
    def backward(ctx, g):
        x, gy = ctx.saved_tensors
        need_x, need_gy = ctx.needs_input_grad[:2]
        gx = ConvAdjoint3d.apply(gy, g, None, ctx.geo, tuple(x.shape[2:])) if need_x else None
        ggy = Convolution3d.apply(x, g, None, ctx.geo, tuple(gy.shape[2:])) if need_gy else None
        return gx, ggy, None, None


# ----------------------------------------------------------------------------- convolution functions
def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """3-D cross-correlation of (N, C_in, D, H, W) with weight (C_out, C_in/groups, kD, kH, kW)."""
    if _amp.state.on:
        return _amp.call(conv3d, _amp.LOWER, input, weight, bias, stride, padding, dilation, groups)
    if _half(input, weight):
        return conv3d(*_f32(input, weight, bias), stride, padding, dilation, groups).to(input.dtype)
    x, unbatched, stride, pads, dilation = _conv_args("conv3d", 3, input, weight, bias, stride, padding,
                                                      dilation, groups)
    out = Convolution3d.apply(x, weight, bias, (stride, pads, dilation, int(groups)))
    return out.reshape(tuple(out.shape[1:])) if unbatched else out


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """3-D transposed convolution of (N, C_in, D, H, W) with weight (C_in, C_out/groups, kD, kH, kW)."""
    if _amp.state.on:
        return _amp.call(conv_transpose3d, _amp.LOWER, input, weight, bias, stride, padding, output_padding, groups,
                         dilation)
    if _half(input, weight):
        return conv_transpose3d(*_f32(input, weight, bias), stride, padding, output_padding, groups,
                                dilation).to(input.dtype)
    x, unbatched, stride, padding, dilation, out_size = _conv_transpose_args(
        "conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups, dilation)
    geo = (stride, tuple((p, p) for p in padding), dilation, int(groups))
    out = ConvAdjoint3d.apply(x, weight, bias, geo, out_size)
    return out.reshape(tuple(out.shape[1:])) if unbatched else out


# ----------------------------------------------------------------------------- pooling ops
class MaxPool3d(Op):
    """Window maxima and their flat positions in D*H*W (torch's indices); the gradient goes to the argmax."""

    differentiable_outputs = (0,)

    @staticmethod
    def forward(x, k, s, p, d, out, pads):
        ninf = -xp.inf if is_float(x.dtype) else xp.iinfo(x.dtype).min
        xpad = xp.pad(x, ((0, 0), (0, 0), *pads), constant_values=ninf)
        offsets = _offsets(k)
        views = [_window(xpad, [o * dd for o, dd in zip(off, d)], s, out) for off in offsets]
        # torch's scan: the first maximum wins ties, the last NaN wins (see pooling._scan_max, _window_mean)
        places = list(range(len(offsets)))
        dt = _offset_dtype((1, len(offsets)), 0)
        vals, place = _scan_max(views, places, dt, exact=False)
        if is_float(x.dtype) and xp.isnan(vals).any():
            vals, place = _scan_max(views, places, dt, exact=True)
        vals = xp.array(vals, copy=True)  # never a view of the input
        _, _, h, w = x.shape[1:]
        table = xp.array([(a * d[0] * h + b * d[1]) * w + c * d[2] for a, b, c in offsets], dtype=xp.int64)
        start = [xp.arange(o) * ss - pp for o, ss, pp in zip(out, s, p)]
        base = (start[0][:, None, None] * h + start[1][:, None]) * w + start[2]
        return vals, table[place] + base

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.in_shape = tuple(inputs[0].shape)
        ctx.save_for_backward(Tensor._make(output[1]))

    @staticmethod
    def backward(ctx, g, _):
        (idx,) = ctx.saved_tensors
        return (SpatialScatter.apply(g, idx, ctx.in_shape),) + (None,) * 6


class WindowSum3d(Op):
    """Sum of x over each pooling window times a per-output-position scale (average pooling)."""

    @staticmethod
    def forward(x, geo, scale):
        k, s, pads, out = geo
        xpad = xp.pad(x, ((0, 0), (0, 0), *pads))
        total = xp.zeros((*x.shape[:2], *out), dtype=x.dtype)
        for off in _offsets(k):
            total += _window(xpad, off, s, out)
        return total * scale

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.geo, ctx.scale = inputs
        ctx.in_shape = tuple(x.shape)

    @staticmethod
    def backward(ctx, g):
        return WindowSumAdjoint3d.apply(g, ctx.geo, ctx.scale, ctx.in_shape), None, None


class WindowSumAdjoint3d(Op):
    """The adjoint of WindowSum3d: each output's scaled gradient spread over its window."""

    @staticmethod
    def forward(g, geo, scale, in_shape):
        k, s, pads, out = geo
        gs = g * scale
        canvas = xp.zeros((*in_shape[:2], *(m + lo + hi for m, (lo, hi) in zip(in_shape[2:], pads))), dtype=g.dtype)
        for off in _offsets(k):
            _window(canvas, off, s, out)[...] += gs
        return xp.ascontiguousarray(canvas[(..., *(slice(lo, lo + m) for (lo, _), m in zip(pads, in_shape[2:])))])

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.geo, ctx.scale, _ = inputs

    @staticmethod
    def backward(ctx, g):
        return WindowSum3d.apply(g, ctx.geo, ctx.scale), None, None, None


# ----------------------------------------------------------------------------- pooling functions
def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """3-D max pooling over (N, C, D, H, W); with return_indices also the flat argmax positions in D*H*W."""
    if _amp.state.on:
        return _amp.call(max_pool3d, _amp.FP32, input, kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices)
    op = "max_pool3d"
    _check_input(op, input, 3)
    k, s, p, d, out, pads = _geometry(op, input, 3, kernel_size, stride, padding, dilation, ceil_mode)
    x, unbatch = _batched(input, 3)
    vals, idx = MaxPool3d.apply(x, k, s, p, d, out, pads)
    return (unbatch(vals), unbatch(idx)) if return_indices else unbatch(vals)


def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = True):
    """max_pool3d returning (values, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """3-D average pooling over (N, C, D, H, W)."""
    if _amp.state.on:
        return _amp.call(avg_pool3d, _amp.FP32, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                         divisor_override)
    op = "avg_pool3d"
    _check_input(op, input, 3)
    _check_avg_dtype(op, input)
    k, s, p, _, out, pads = _geometry(op, input, 3, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor must be not zero")
        divisor = xp.full(out, divisor_override)
    else:
        dd, dh, dw = (_divisors(n, *args, count_include_pad)
                      for n, args in zip(input.shape[-3:], zip(k, s, p, out)))
        divisor = dd[:, None, None] * dh[:, None] * dw
    x, unbatch = _batched(input, 3)
    return unbatch(_window_mean(WindowSum3d, x, (k, s, pads, out), divisor))


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, D, H, W) to a given (D_out, H_out, W_out); None keeps that size."""
    if _amp.state.on:
        return _amp.call(adaptive_avg_pool3d, _amp.FP32, input, output_size)
    op = "adaptive_avg_pool3d"
    out = _output_size(op, output_size, input, 3)
    mats = tuple(_adaptive_matrix(n, o, input._data.dtype) for n, o in zip(input.shape[-3:], out))
    x, unbatch = _batched(input, 3)
    return unbatch(Resample.apply(x, mats))


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, D, H, W) to a given size; with return_indices the flat argmax positions in D*H*W."""
    if _amp.state.on:
        return _amp.call(adaptive_max_pool3d, _amp.FP32, input, output_size, return_indices)
    op = "adaptive_max_pool3d"
    out = _output_size(op, output_size, input, 3)
    x, unbatch = _batched(input, 3)
    _, h, w = x.shape[2:]
    i_d, i_h, i_w = (_adaptive_index(n, o) for n, o in zip(x.shape[2:], out))
    # candidate flat positions (Do, Ho, Wo, kd*kh*kw); repeats in short windows cannot change a max
    cand = ((i_d[:, None, None, :, None, None] * h + i_h[None, :, None, None, :, None]) * w
            + i_w[None, None, :, None, None, :]).reshape(*out, i_d.shape[1] * i_h.shape[1] * i_w.shape[1])
    n, c = x.shape[:2]
    vals = x._data.reshape(n, c, h * w * x.shape[2])[:, :, cand]
    arg = vals.argmax(axis=-1)
    idx = xp.take_along_axis(xp.broadcast_to(cand, vals.shape), arg[..., None], axis=-1)[..., 0]
    idx = xp.ascontiguousarray(idx, dtype=xp.int64)
    values = SpatialGather.apply(x, Tensor._make(idx))
    return (unbatch(values), unbatch(Tensor._make(idx))) if return_indices else unbatch(values)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size, return_indices: bool = True):
    """adaptive_max_pool3d returning (values, indices)."""
    return adaptive_max_pool3d(input, output_size, True)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The partial inverse of max_pool3d: each value put back at its flat index in a zero (N, C, D, H, W)."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over (N, C, D, H, W): (sum of x**p over each window) ** (1/p)."""
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode, (max_pool3d, avg_pool3d))
