"""Pooling: max, average and adaptive, over 1-D and 2-D windows.

All kernels run on (N, C, H, W) arrays (1-D pooling is 2-D pooling over a height of 1) through
strided or shifted views, never a Python loop over pixels. The differentiable pieces are pairs of
linear maps that are each other's adjoints, so backward and double backward close on them:
gather/scatter at argmax indices (max pooling), the same at each tile's maximum (max pooling whose
windows tile the input), window sum/its adjoint (average pooling), and separable matrix products
(adaptive average pooling, interpolation).
"""
from __future__ import annotations

import math

from ..._backend import parallel_for, xp
from ..._dtype import is_float, is_half
from ..._tensor import Tensor
from ..._ops.common import _type_name
from ...autograd import function as _function
from ...autograd.function import Op
from ...autograd.grad_mode import state

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "max_unpool1d", "max_unpool2d",
           "lp_pool1d", "lp_pool2d"]


def _as4d(a):
    return a if a.ndim == 4 else a[:, :, None, :]


# ----------------------------------------------------------------------------- linear pairs
class SpatialGather(Op):
    """out[n, c, j] = x[n, c, idx[n, c, j]] over the flattened spatial dims (max pooling's forward)."""

    @staticmethod
    def forward(x, idx):
        n, c = x.shape[:2]
        # explicit sizes, never -1: an empty batch leaves -1 undetermined
        flat = x.reshape(n, c, math.prod(x.shape[2:]))
        return xp.take_along_axis(flat, idx.reshape(n, c, math.prod(idx.shape[2:])), axis=2).reshape(idx.shape)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, idx = inputs
        ctx.in_shape = tuple(x.shape)
        ctx.save_for_backward(idx)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        return SpatialScatter.apply(g, idx, ctx.in_shape), None


class SpatialScatter(Op):
    """The adjoint of SpatialGather: add g[n, c, j] into out[n, c, idx[n, c, j]]."""

    @staticmethod
    def forward(g, idx, in_shape):
        n, c = in_shape[:2]
        size = math.prod(in_shape[2:])
        # one bincount over (n, c, position) keys sums repeated indices without a Python loop
        keys = idx.reshape(n * c, math.prod(idx.shape[2:])) + (xp.arange(n * c) * size)[:, None]
        out = xp.bincount(keys.ravel(), weights=g.ravel(), minlength=n * c * size)
        return out.astype(g.dtype, copy=False).reshape(in_shape)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[1])

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        return SpatialGather.apply(g, idx), None, None


def _window_view(x, k, s, d, out_hw):
    """A (N, C, Ho, Wo, kh, kw) strided view of the (already padded) x."""
    sn, sc, sh, sw = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, (*x.shape[:2], *out_hw, *k), (sn, sc, s[0] * sh, s[1] * sw, d[0] * sh, d[1] * sw), writeable=False)


def _pad(x, pads, value):
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, h + pt + pb, w + pl + pr), value, dtype=x.dtype)
    out[:, :, pt:pt + h, pl:pl + w] = x
    return out


class WindowSum(Op):
    """Sum of x over each pooling window, times a per-output-position scale (average pooling)."""

    @staticmethod
    def forward(x, geo, scale):
        k, s, pads, out_hw = geo
        win = _window_view(_pad(_as4d(x), pads, 0), k, s, (1, 1), out_hw)
        out = win.sum(axis=(4, 5)) * scale
        return out if x.ndim == 4 else out[:, :, 0, :]

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.geo, ctx.scale = inputs
        ctx.in_shape = tuple(x.shape)

    @staticmethod
    def backward(ctx, g):
        return WindowSumAdjoint.apply(g, ctx.geo, ctx.scale, ctx.in_shape), None, None


class WindowSumAdjoint(Op):
    """The adjoint of WindowSum: each output's scaled gradient spread over its window."""

    @staticmethod
    def forward(g, geo, scale, in_shape):
        k, s, ((pt, pb), (pl, pr)), (ho, wo) = geo
        g4 = _as4d(g) * scale
        n, c = g4.shape[:2]
        h, w = (1, *in_shape[2:]) if len(in_shape) == 3 else in_shape[2:]
        canvas = xp.zeros((n, c, h + pt + pb, w + pl + pr), dtype=g4.dtype)
        for i in range(k[0]):
            for j in range(k[1]):
                canvas[:, :, i:i + s[0] * (ho - 1) + 1:s[0], j:j + s[1] * (wo - 1) + 1:s[1]] += g4
        return canvas[:, :, pt:pt + h, pl:pl + w].reshape(in_shape)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.geo, ctx.scale, _ = inputs

    @staticmethod
    def backward(ctx, g):
        return WindowSum.apply(g, ctx.geo, ctx.scale), None, None, None


class Separable(Op):
    """y = A @ x @ B^T on the last two dims (adaptive average pooling and interpolation are such maps)."""

    @staticmethod
    def forward(x, a, b):
        y = x if a is None else xp.matmul(a, x)
        return xp.matmul(y, b.T)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.a, ctx.b = inputs

    @staticmethod
    def backward(ctx, g):
        a = None if ctx.a is None else xp.ascontiguousarray(ctx.a.T)
        return Separable.apply(g, a, xp.ascontiguousarray(ctx.b.T)), None, None


# ----------------------------------------------------------------------------- argument handling
def _tuple(v, n: int, name: str, op: str) -> tuple:
    if isinstance(v, (int, xp.integer)):
        return (int(v),) * n
    v = tuple(int(e) for e in v)
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise RuntimeError(f"{op}: {name} must either be a single int, or a tuple of {n} ints")
    return v


def _check_input(op: str, input: Tensor, dims: int, channels: bool = True) -> None:
    """An unbatched or batched input whose non-batch dims are non-empty (adaptive pooling: spatial dims)."""
    if input.ndim not in (dims + 1, dims + 2) or any(s == 0 for s in input.shape[-dims - channels:]):
        raise RuntimeError(f"{op}: Expected {dims + 1}D or {dims + 2}D (batch mode) tensor with optional 0 dim "
                           f"batch size for input, but got: {list(input.shape)}")


def _out_len(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or its left padding
    return out


def _geometry(op, input, dims, kernel_size, stride, padding, dilation, ceil_mode):
    """Kernel, stride, padding, dilation as tuples, the output size and the (lo, hi) pads it needs."""
    k = _tuple(kernel_size, dims, "kernel_size", op)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _tuple(stride, dims, "stride", op)
    p = _tuple(padding, dims, "padding", op)
    d = _tuple(dilation, dims, "dilation", op)
    if any(v <= 0 for v in k + s + d):
        raise RuntimeError(f"{op}: kernel_size, stride and dilation should be greater than zero, but got "
                           f"kernel_size={list(k)}, stride={list(s)}, dilation={list(d)}")
    for pp, kk, dd in zip(p, k, d):
        if pp < 0 or pp > (dd * (kk - 1) + 1) // 2:
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got pad={pp}, "
                               f"kernel_size={kk} and dilation={dd}")
    sizes = input.shape[-dims:]
    out = tuple(_out_len(n, kk, ss, pp, dd, ceil_mode) for n, kk, ss, pp, dd in zip(sizes, k, s, p, d))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{op}: Given input size: ({'x'.join(map(str, input.shape[-dims - 1:]))}). Calculated "
                           f"output size: ({'x'.join(map(str, (input.shape[-dims - 1], *out)))}). Output size is "
                           f"too small")
    pads = tuple((pp, max((o - 1) * ss + dd * (kk - 1) + 1 - n - pp, 0))
                 for n, kk, ss, pp, dd, o in zip(sizes, k, s, p, d, out))
    if dims == 1:
        k, s, p, d, out, pads = (1, *k), (1, *s), (0, *p), (1, *d), (1, *out), ((0, 0), *pads)
    return k, s, p, d, out, pads


def _batched(input: Tensor, dims: int):
    """(input with a batch dim, a function that removes it again from results)."""
    if input.ndim == dims + 2:
        return input, lambda t: t
    return input.reshape((1, *input.shape)), lambda t: t.reshape(tuple(t.shape[1:]))


# ----------------------------------------------------------------------------- max pooling
class MaxPool(Op):
    """Window maxima and their flat input positions (as torch's indices); the gradient goes to the argmax."""

    differentiable_outputs = (0,)

    @staticmethod
    def forward(x, k, s, p, d, out_hw, pads):
        x4 = _as4d(x)
        w = x4.shape[3]
        ninf = -xp.inf if is_float(x4.dtype) else xp.iinfo(x4.dtype).min
        xpad = _pad(x4, pads, ninf)
        (ho, wo), (sh, sw) = out_hw, s
        # one pass per kernel offset over output-sized strided views: cheaper than copying every
        # window out to take an argmax over it
        offsets = [(i * d[0], j * d[1]) for i in range(k[0]) for j in range(k[1])]
        views = [xpad[:, :, a:a + sh * (ho - 1) + 1:sh, b:b + sw * (wo - 1) + 1:sw] for a, b in offsets]
        # torch's scan: the first maximum wins ties, the last NaN wins if there are NaNs (see _scan_max).
        # It tracks the winner's place in the window, which grows along the scan as _scan_max needs;
        # a table turns that into the offset in the input
        places = list(range(len(offsets)))
        dt = _offset_dtype((1, len(offsets)), 0)
        out, place = _scan_max(views, places, dt, exact=False)
        if is_float(x4.dtype) and xp.isnan(out).any():
            out, place = _scan_max(views, places, dt, exact=True)
        out = xp.array(out, copy=True)  # never a view of the input
        table = xp.array([a * w + b for a, b in offsets], dtype=xp.int64)
        base = (xp.arange(ho) * sh - p[0])[:, None] * w + (xp.arange(wo) * sw - p[1])
        idx = table[place] + base
        if x.ndim == 3:
            return out[:, :, 0, :], idx[:, :, 0, :]
        return out, idx

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.in_shape = tuple(inputs[0].shape)
        ctx.save_for_backward(Tensor._make(output[1]))

    @staticmethod
    def backward(ctx, g, _):
        (idx,) = ctx.saved_tensors
        return (SpatialScatter.apply(g, idx, ctx.in_shape),) + (None,) * 6


# Pooling whose windows tile the input (kernel == stride, no padding or dilation: the 2x2 pooling of most
# CNNs) needs no general index arithmetic. The forward records, for each tile, where its maximum lies as
# an offset from the tile's corner in the flat input (i * W + j for row i, column j of the window): a
# small integer array from which one addition gives torch's indices, the positions the backward writes
# the gradient to and those the double backward reads. Tiles do not overlap, so the backward is a plain
# assignment, not a scatter-add.
#
# torch's CPU kernel scans a window in row-major order and moves to an element that is greater than the
# maximum so far or is NaN: the first maximum wins ties, and if there are NaNs the last NaN wins. Taking
# the maximum within each row of the window first and then across rows, by the same rule, picks the same
# element: the first maximum in the first row that holds the window's maximum, or the last NaN in the
# last row that holds a NaN.

def _offset_dtype(k, w: int):
    """The smallest integer dtype ember supports that holds every in-window offset i * w + j."""
    top = (k[0] - 1) * w + k[1] - 1
    for dt in (xp.uint8, xp.int16, xp.int32):
        if top <= xp.iinfo(dt).max:
            return xp.dtype(dt)
    return xp.dtype(xp.int64)


_KEEPS_SECOND = {}


def _maximum_keeps_second(dtype):
    """Whether NumPy's maximum returns its second argument of two that compare equal: True, False
    (its first), or None (either, by the arrays' layout).

    That matters between 0.0 and -0.0, of which torch keeps the earlier, and it depends on the dtype's
    loop: here float32 and float64 return the second, float16 the first. So it is found once per dtype,
    on a few array layouts.
    """
    if dtype not in _KEEPS_SECOND:
        seen = {True} if not is_float(dtype) else set()  # equal integers are the same value
        for n in (1, 7, 16, 67) if is_float(dtype) else ():
            z = xp.zeros(2 * n, dtype)
            for a in (z[:n], -z[:n], z[::2], -z[::2]):
                b = -a
                seen.update((xp.signbit(xp.maximum(a, b)) == xp.signbit(b)).tolist())
        _KEEPS_SECOND[dtype] = seen.pop() if len(seen) == 1 else None
    return _KEEPS_SECOND[dtype]


def _scan_max(cands, offs, dt, exact: bool):
    """Running maximum over same-shaped candidates in window order, and the winner's offset.

    offs[i] is candidate i's offset: an int, or an array of dtype dt that may be overwritten. A later
    candidate wins when it is greater than the maximum so far or, with ``exact``, when it is NaN.
    Offsets grow along the scan, so the last winner's offset is the largest among the winners': a
    maximum, far faster than a copy through a random mask.
    """
    m, off = cands[0], offs[0]
    keep_second = None if exact else _maximum_keeps_second(m.dtype)
    for v, o in zip(cands[1:], offs[1:]):
        win = xp.greater(v, m)
        if keep_second is None:
            if exact:
                win |= xp.isnan(v)
            m = xp.where(win, v, m)  # the winner itself, so a NaN keeps its own bits as in torch
        else:
            # of 0.0 and -0.0 the earlier stays, as in torch; a NaN makes the maximum NaN, and the
            # caller then scans again with exact
            m = xp.maximum(v, m) if keep_second else xp.maximum(m, v)
        if isinstance(o, int):
            o = win.view(xp.uint8) if o == 1 and dt == xp.uint8 else xp.multiply(win, o, dtype=dt)
        else:
            xp.multiply(o, win.view(xp.uint8), out=o)
        off = o if isinstance(off, int) else xp.maximum(off, o, out=o)
    return m, off


def _tile_max_shifted(x, k, exact: bool, out, off) -> None:
    """Tile maxima of contiguous x (N, C, H, W) into out, their offsets into off; stages on shifted flat views.

    Each stage runs over the whole flat array, also at positions no tile needs: one long loop is several
    times faster in NumPy than the many short ones, a row each, that views of just the tiles take.
    """
    c, h, w = x.shape[1:]
    kh, kw = k
    flat = x.reshape(-1)
    # within rows: m[p] = max(flat[p:p + kw])
    size = flat.size - (kw - 1)
    m, o = _scan_max([flat[j:j + size] for j in range(kw)], list(range(kw)), off.dtype, exact)
    if kh > 1:  # across rows: m[p] = the maximum of the row maxima at p, p + w, ..., p + (kh - 1) * w
        size -= (kh - 1) * w
        offs = [i * w for i in range(kh)] if isinstance(o, int) else \
            [o[:size]] + [xp.add(o[i * w:i * w + size], i * w, dtype=off.dtype) for i in range(1, kh)]
        m, o = _scan_max([m[i * w:i * w + size] for i in range(kh)], offs, off.dtype, exact)
    # each tile's result sits at its top-left corner
    steps = (c * h * w, h * w, kh * w, kw)
    xp.copyto(out, xp.lib.stride_tricks.as_strided(m, out.shape, tuple(s * m.itemsize for s in steps)))
    if isinstance(o, int):
        off.fill(o)
    else:
        xp.copyto(off, xp.lib.stride_tricks.as_strided(o, off.shape, tuple(s * o.itemsize for s in steps)))


def _tile_max_planes(x, k, exact: bool, out, off) -> None:
    """As _tile_max_shifted, scanning one strided view of x per window offset: fewer passes for large kernels."""
    sn, sc, sh, sw = x.strides
    tiles = xp.lib.stride_tricks.as_strided(x, (*out.shape[:3], k[0], out.shape[3], k[1]),
                                            (sn, sc, k[0] * sh, sh, k[1] * sw, sw), writeable=False)
    planes = [tiles[:, :, :, i, :, j] for i in range(k[0]) for j in range(k[1])]
    m, o = _scan_max(planes, [i * x.shape[3] + j for i in range(k[0]) for j in range(k[1])], off.dtype, exact)
    xp.copyto(out, m)
    xp.copyto(off, o)


# Input bytes per pass: the scans' temporaries, a few times as large, then stay in the caches instead of
# streaming through memory (about 30% faster on the (64, 32, 28, 28) pooling of a small CNN).
_CHUNK_BYTES = 1 << 21


def _chunks(start: int, stop: int, item_bytes: int):
    """Even sub-ranges of range(start, stop) whose items take about _CHUNK_BYTES together."""
    n = stop - start
    parts = max(1, min(n, -(-n * item_bytes // _CHUNK_BYTES)))
    return [(start + n * i // parts, start + n * (i + 1) // parts) for i in range(parts)]


def _tile_corners(k, out_hw, w: int):
    """Flat positions of the tiles' top-left corners within one (H, W) plane, as (Ho, Wo)."""
    return (xp.arange(out_hw[0]) * (k[0] * w))[:, None] + xp.arange(out_hw[1]) * k[1]


def _tile_positions(off, k, hw):
    """Flat positions of the tile maxima in the contiguous (N, C, H, W) array that off was found in."""
    n, c = off.shape[:2]
    h, w = hw
    pos = off.astype(xp.intp)  # then adding in place: faster than an add that casts
    pos += _tile_corners(k, off.shape[2:], w) + (xp.arange(c) * (h * w))[:, None, None]
    pos += (xp.arange(n) * (c * h * w))[:, None, None, None]
    return pos.reshape(-1)


class TileMaxPool(Op):
    """Max pooling over non-overlapping tiles; also returns the (N, C, Ho, Wo) in-window offsets of the maxima.

    The images are split between threads; each finds its tile maxima with comparisons that ignore NaN
    (the common case, and the fast one) and scans again by torch's NaN rule only if a maximum is NaN.
    """

    differentiable_outputs = (0,)

    @staticmethod
    def forward(x, k, out_hw):
        x4 = xp.ascontiguousarray(_as4d(x))
        n, c = x4.shape[:2]
        out = xp.empty((n, c, *out_hw), x4.dtype)
        off = xp.empty(out.shape, _offset_dtype(k, x4.shape[3]))
        # the shifted scan makes kh + kw - 2 passes over the whole input, the plane scan kh * kw - 1 passes
        # over output-sized views, each slower per element: measured, the shifted one wins up to 3x3
        find = _tile_max_shifted if max(k) <= 3 else _tile_max_planes
        may_be_nan = is_float(x4.dtype)

        def run(start: int, stop: int) -> None:
            for a, b in _chunks(start, stop, x4[0].nbytes):
                find(x4[a:b], k, False, out[a:b], off[a:b])
                if may_be_nan and xp.isnan(out[a:b]).any():
                    find(x4[a:b], k, True, out[a:b], off[a:b])

        if out.size:
            parallel_for(run, n, x4.size)
        return (out, off) if x.ndim == 4 else (out[:, :, 0, :], off)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.in_shape, ctx.k = tuple(inputs[0].shape), inputs[1]
        ctx.save_for_backward(Tensor._make(output[1]))

    @staticmethod
    def backward(ctx, g, _):
        (off,) = ctx.saved_tensors
        return TileScatter.apply(g, off, ctx.in_shape, ctx.k), None, None


class TileScatter(Op):
    """Each output gradient written at its tile's maximum, zeros elsewhere (TileMaxPool's backward)."""

    @staticmethod
    def forward(g, off, in_shape, k):
        n, c, h, w = in_shape if len(in_shape) == 4 else (in_shape[0], in_shape[1], 1, in_shape[2])
        g4 = _as4d(g)
        out = xp.empty((n, c, h, w), dtype=g.dtype)

        def run(a: int, b: int) -> None:
            dst = out[a:b].reshape(-1)
            # an assignment, not a multiply by a 0/1 mask: that would turn an inf or NaN gradient into
            # NaNs across the tile and a negative one into -0.0, where torch leaves exact zeros
            dst.fill(0)
            dst[_tile_positions(off[a:b], k, (h, w))] = g4[a:b].reshape(-1)

        if out.size:
            parallel_for(run, n, out.size)
        return out.reshape(in_shape)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.k = inputs[3]
        ctx.save_for_backward(inputs[1])

    @staticmethod
    def backward(ctx, g):
        (off,) = ctx.saved_tensors
        return TileGather.apply(g, off, ctx.k), None, None, None


class TileGather(Op):
    """The adjoint of TileScatter: each tile's entry at its maximum."""

    @staticmethod
    def forward(x, off, k):
        x4 = xp.ascontiguousarray(_as4d(x))
        out = xp.empty(off.shape, dtype=x.dtype)

        def run(a: int, b: int) -> None:
            pos = _tile_positions(off[a:b], k, x4.shape[2:])
            out[a:b] = xp.take(x4[a:b].reshape(-1), pos).reshape(out[a:b].shape)

        if out.size:
            parallel_for(run, out.shape[0], out.size)
        return out if x.ndim == 4 else out[:, :, 0, :]

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.in_shape, ctx.k = tuple(inputs[0].shape), inputs[2]
        ctx.save_for_backward(inputs[1])

    @staticmethod
    def backward(ctx, g):
        (off,) = ctx.saved_tensors
        return TileScatter.apply(g, off, ctx.in_shape, ctx.k), None, None


def _tile_max_values(x, k, out_hw):
    """Tile maxima of x (N, C, H, W) without their offsets (nothing recorded: evaluation), by the shifted
    flat views of _tile_max_shifted: kh + kw - 2 passes of NumPy's maximum, which propagates NaN, and
    and returns its first argument of two NaNs: the later candidate goes first, so that the earlier of 0.0
    and -0.0 stays and the last NaN wins, as in torch (for dtypes whose maximum keeps its second of equals)."""
    x4 = xp.ascontiguousarray(x)
    n, c, h, w = x4.shape
    kh, kw = k
    out = xp.empty((n, c, *out_hw), x4.dtype)

    def scan(views):
        m = views[0]
        for v in views[1:]:
            m = xp.maximum(v, m)
        return m

    def run(start: int, stop: int) -> None:
        for a, b in _chunks(start, stop, x4[0].nbytes):
            flat = x4[a:b].reshape(-1)
            size = flat.size - (kw - 1)
            m = scan([flat[j:j + size] for j in range(kw)])
            size -= (kh - 1) * w
            m = scan([m[i * w:i * w + size] for i in range(kh)])
            steps = (c * h * w, h * w, kh * w, kw)
            xp.copyto(out[a:b], xp.lib.stride_tricks.as_strided(m, out[a:b].shape, tuple(s * m.itemsize for s in steps)))

    if out.size:
        parallel_for(run, n, x4.size)
    return out


def _tile_indices(off, k, w: int):
    """torch's flat input indices of the tile maxima (within each (H, W) plane), from their offsets."""
    return xp.add(off, _tile_corners(k, off.shape[2:], w), dtype=xp.int64)


def _max_pool(op, dims, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    _check_input(op, input, dims)
    k, s, p, d, out_hw, pads = _geometry(op, input, dims, kernel_size, stride, padding, dilation, ceil_mode)
    x, unbatch = _batched(input, dims)
    if k == s and d == (1, 1) and not any(v for pp in pads for v in pp):
        if not return_indices and _function.transform is None and not (state.enabled and x._requires_grad) \
                and _maximum_keeps_second(x._data.dtype):
            out = _tile_max_values(_as4d(x._data), k, out_hw)  # nothing recorded: no offsets to find
            return unbatch(Tensor._make(out if dims == 2 else out[:, :, 0, :]))
        out, off = TileMaxPool.apply(x, k, out_hw)
        if not return_indices:
            return unbatch(out)
        idx = _tile_indices(off._data, k, x.shape[-1])
        return unbatch(out), unbatch(Tensor._make(idx if dims == 2 else idx[:, :, 0, :]))
    out, idx = MaxPool.apply(x, k, s, p, d, out_hw, pads)
    return (unbatch(out), unbatch(idx)) if return_indices else unbatch(out)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """1-D max pooling over (N, C, L); with return_indices also the argmax positions."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """2-D max pooling over (N, C, H, W); with return_indices also the flat argmax positions in H*W."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = True):
    """max_pool1d returning (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = True):
    """max_pool2d returning (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


class MaxPoolBackward(Op):
    """Max pooling's input gradient as a function of grad_output (aten's ``max_pool2d_with_indices_backward``):
    grad_output added into ``self``'s shape at ``indices``. ``self`` only gives the shape, so its derivative is
    zero, as torch's; grad_output's is the gather at the same indices."""

    @staticmethod
    def forward(g, x, idx):
        lead = (1,) * (4 - x.ndim)  # an unbatched (C, H, W) input as a batch of one
        return SpatialScatter.forward(g.reshape(lead + g.shape), idx.reshape(lead + idx.shape),
                                      lead + x.shape).reshape(x.shape)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, gg):
        (idx,) = ctx.saved_tensors
        lead = (1,) * (4 - gg.ndim)
        return SpatialGather.apply(gg.reshape(lead + tuple(gg.shape)), idx.reshape(lead + tuple(idx.shape))
                                   ).reshape(tuple(idx.shape)), None, None


def max_pool2d_with_indices_backward(grad_output: Tensor, self: Tensor, kernel_size, stride, padding, dilation,
                                     ceil_mode: bool, indices: Tensor) -> Tensor:
    """The gradient of max_pool2d with respect to ``self`` given its ``indices`` (aten's operator)."""
    if tuple(grad_output.shape) != tuple(indices.shape) or self.ndim not in (3, 4) or indices.ndim != self.ndim:
        raise RuntimeError(f"max_pool2d_with_indices_backward: grad_output of shape {list(grad_output.shape)} and "
                           f"indices of shape {list(indices.shape)} do not fit an input of shape {list(self.shape)}")
    return MaxPoolBackward.apply(grad_output, self, indices)


# ----------------------------------------------------------------------------- average pooling
def _divisors(size: int, k: int, s: int, p: int, out: int, count_include_pad: bool):
    start = xp.arange(out) * s - p
    end = xp.minimum(start + k, size + p)
    if not count_include_pad:
        start, end = xp.maximum(start, 0), xp.minimum(end, size)
    return end - start


def _avg_pool(op, dims, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    _check_input(op, input, dims)
    _check_avg_dtype(op, input)
    k, s, p, _, out_hw, pads = _geometry(op, input, dims, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor must be not zero")
        divisor = xp.full(out_hw, divisor_override)
    else:
        h, w = (1, input.shape[-1]) if dims == 1 else input.shape[-2:]
        dh = _divisors(h, k[0], s[0], p[0], out_hw[0], count_include_pad)
        dw = _divisors(w, k[1], s[1], p[1], out_hw[1], count_include_pad)
        divisor = dh[:, None] * dw[None, :]
    x, unbatch = _batched(input, dims)
    return unbatch(_window_mean(WindowSum, x, (k, s, pads, out_hw), divisor))


def _check_avg_dtype(op: str, input: Tensor) -> None:
    """torch averages floats and int64 (with integer division) only."""
    if not input.is_floating_point() and input.dtype.name != "int64":
        raise NotImplementedError(f'"{op}" not implemented for \'{_type_name(input.dtype)}\'')


def _window_mean(window_sum, x: Tensor, geo, divisor) -> Tensor:
    """Window sums over divisor: scaled in the op for floats, truncated toward zero for int64 as in torch."""
    if is_half(x._data.dtype):  # summed and scaled in float32, rounded once, as torch's kernel
        return _window_mean(window_sum, x.float(), geo, divisor).to(x.dtype)
    if x.is_floating_point():
        return window_sum.apply(x, geo, (1.0 / divisor).astype(x._data.dtype))
    total = window_sum.forward(x._data, geo, 1)
    return Tensor._make(xp.sign(total) * (xp.abs(total) // divisor))


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling over (N, C, L)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling over (N, C, H, W)."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ----------------------------------------------------------------------------- adaptive pooling
def _adaptive_bounds(size: int, out: int):
    """torch's adaptive windows: [floor(i*size/out), ceil((i+1)*size/out))."""
    i = xp.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _adaptive_matrix(size: int, out: int, dtype):
    """The (out, size) averaging matrix of adaptive average pooling along one dim."""
    start, end = _adaptive_bounds(size, out)
    pos = xp.arange(size)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _output_size(op: str, output_size, input: Tensor, dims: int) -> tuple:
    """Adaptive pooling's checked output size (None keeps the input's size), then its checked input."""
    scalar = isinstance(output_size, (int, xp.integer)) or output_size is None
    if not scalar and input.ndim < dims + 1:
        raise ValueError(f"{op}: Input dimension should be at least {dims + 1}, got {input.ndim}")
    out = (output_size,) * dims if scalar else tuple(output_size)
    if len(out) != dims:
        raise RuntimeError(f"{op}: output_size must be {dims}, got {list(out)}")
    _check_input(op, input, dims, channels=False)
    out = tuple(input.shape[-dims + i] if o is None else int(o) for i, o in enumerate(out))
    if any(o < 0 for o in out):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 but received "
                           f"{list(out)}")
    return out


def _adaptive_avg(op, dims, input, output_size) -> Tensor:
    if is_half(input._data.dtype):  # averaged in float32 and rounded once, as torch's kernel
        return _adaptive_avg(op, dims, input.float(), output_size).to(input.dtype)
    out = _output_size(op, output_size, input, dims)
    dt = input._data.dtype
    b = _adaptive_matrix(input.shape[-1], out[-1], dt)
    a = _adaptive_matrix(input.shape[-2], out[0], dt) if dims == 2 else None
    return Separable.apply(input, a, b)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, L) to a given length, with torch's window bounds."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, H, W) to a given (H_out, W_out); None keeps that size."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def _adaptive_index(size: int, out: int):
    """(out, kmax) input positions of each adaptive window, the last one repeated to pad short windows."""
    start, end = _adaptive_bounds(size, out)
    kmax = int((end - start).max(initial=1))  # an empty output still takes one candidate per window
    return xp.minimum(start[:, None] + xp.arange(kmax), end[:, None] - 1)


def _adaptive_max(op, dims, input, output_size, return_indices):
    out = _output_size(op, output_size, input, dims)
    x, unbatch = _batched(input, dims)
    h, w = (1, x.shape[-1]) if dims == 1 else x.shape[-2:]
    ih = _adaptive_index(h, out[0]) if dims == 2 else xp.zeros((1, 1), xp.int64)
    iw = _adaptive_index(w, out[-1])
    # candidate flat positions (Ho, Wo, kh*kw); repeats in short windows cannot change a max
    cand = (ih[:, None, :, None] * w + iw[None, :, None, :]).reshape(
        ih.shape[0], iw.shape[0], ih.shape[1] * iw.shape[1])
    n, c = x.shape[:2]
    vals = x._data.reshape(n, c, h * w)[:, :, cand]
    arg = vals.argmax(axis=-1)
    idx = xp.take_along_axis(xp.broadcast_to(cand, vals.shape), arg[..., None], axis=-1)[..., 0]
    if dims == 1:
        idx = idx[:, :, 0, :]
    idx = xp.ascontiguousarray(idx, dtype=xp.int64)
    values = SpatialGather.apply(x, Tensor._make(idx))
    return (unbatch(values), unbatch(Tensor._make(idx))) if return_indices else unbatch(values)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, L) to a given length."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, H, W) to a given (H_out, W_out); with return_indices the flat argmax positions."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size, return_indices: bool = True):
    """adaptive_max_pool1d returning (values, indices)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size, return_indices: bool = True):
    """adaptive_max_pool2d returning (values, indices)."""
    return adaptive_max_pool2d(input, output_size, True)


# ----------------------------------------------------------------------------- max unpooling
class MaxUnpool(SpatialScatter):
    """out[n, c, idx[n, c, j]] = x[n, c, j] in a zero (N, C, *spatial) array; the gradient is a gather at
    idx, as SpatialScatter's, whose context and backward it shares."""

    @staticmethod
    def forward(x, idx, out_shape):
        n, c = x.shape[:2]
        out = xp.zeros((n, c, math.prod(out_shape[2:])), dtype=x.dtype)
        # an assignment, as in torch, not a scatter-add: where overlapping pooling windows share a maximum,
        # several entries point at one position with the same value, which must not be summed
        xp.put_along_axis(out, idx.reshape(n, c, -1), x.reshape(n, c, -1), axis=2)
        return out.reshape(out_shape)

    @staticmethod
    def jvp(inputs, out, t, *_):
        # the tangent put where the values went, with the same winner among shared indices (not their sum,
        # which the transpose of the gather backward would give), as torch's max_unpool of the tangent
        return MaxUnpool.apply(t, *inputs[1:])


def _unpool_size(op: str, input: Tensor, k: tuple, s: tuple, p: tuple, output_size) -> tuple:
    """torch's unpooled spatial size: the pooling's input size inverted, or a given size within a stride of it."""
    dims = len(k)
    default = tuple((input.shape[-dims + i] - 1) * s[i] + k[i] - 2 * p[i] for i in range(dims))
    if output_size is None:
        out = default
    else:
        out = (int(output_size),) if isinstance(output_size, (int, xp.integer)) else tuple(int(v) for v in output_size)
        if len(out) == dims + 2:
            out = out[2:]
        if len(out) != dims:
            raise ValueError(f"{op}: output_size should be a sequence containing {dims} or {dims + 2} elements, "
                             f"but it has a length of '{len(out)}'")
        for i in range(dims):
            lo, hi = default[i] - s[i], default[i] + s[i]
            if not lo < out[i] < hi:
                raise ValueError(f"{op}: invalid output_size {list(out)} (dim {i} must be between {lo} and {hi})")
    for i, o in enumerate(out):
        if o < 0:
            raise ValueError(f"{op}: output_size must contain non-negative spatial dimensions, but got "
                             f"output_size[{i}]={o}")
    return out


def _max_unpool(op, dims, input, indices, kernel_size, stride, padding, output_size) -> Tensor:
    k = _tuple(kernel_size, dims, "kernel_size", op)
    s = k if stride is None else _tuple(stride, dims, "stride", op)
    p = _tuple(padding, dims, "padding", op)
    out = _unpool_size(op, input, k, s, p, output_size)
    if input.ndim not in (dims + 1, dims + 2):
        raise RuntimeError(f"{op}: Input should be a {dims + 1}d or {dims + 2}d Tensor, but got a tensor with "
                           f"{input.ndim} dimensions ({list(input.shape)})")
    if indices._data.dtype != xp.int64:
        raise RuntimeError(f"{op}: elements in indices should be type int64 but got: {indices.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{op}: Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: {list(indices.shape)}")
    if not is_float(input._data.dtype):
        raise NotImplementedError(f'"{op}" not implemented for \'{input.dtype}\'')
    bad = (indices._data < 0) | (indices._data >= math.prod(out))
    if bad.any():
        raise RuntimeError(f"{op}: Found an invalid max index: {indices._data[bad].flat[0]} (output volumes are of "
                           f"size {'x'.join(map(str, out))})")
    x, unbatch = _batched(input, dims)
    idx = indices._data.reshape(x.shape)
    return unbatch(MaxUnpool.apply(x, Tensor._make(idx), (*x.shape[:2], *out)))


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The partial inverse of max_pool1d: each value put back at its index in a zero (N, C, L_out) tensor."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The partial inverse of max_pool2d: each value put back at its flat index in a zero (N, C, H_out, W_out)."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


# ----------------------------------------------------------------------------- power-average pooling
def _lp_pool(op, dims, input, norm_type, kernel_size, stride, ceil_mode, pools=None) -> Tensor:
    max_pool, avg_pool = pools or ((max_pool1d, avg_pool1d) if dims == 1 else (max_pool2d, avg_pool2d))
    if norm_type == math.inf:
        return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    out = avg_pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    area = math.prod(_tuple(kernel_size, dims, "kernel_size", op))
    # torch's exact chain, so that gradients agree where a window's power sum is zero or negative: relu's
    # backward then masks the inf/NaN that pow(1/p) sends back
    return (out.sign() * out.abs().relu()).mul(area).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over (N, C, L): (sum of x**p over each window) ** (1/p)."""
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over (N, C, H, W): (sum of x**p over each window) ** (1/p)."""
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)
