"""Convolutions: conv1d/2d and their transposes, as three array kernels that are each other's gradients.

Everything runs on 2-D kernels (a 1-D convolution is a 2-D one over a height of 1). A convolution
is an im2col copy of the input followed by BLAS matmuls; its input gradient is the
adjoint (the transposed convolution, a matmul then a col2im scatter over the kernel offsets) and its
weight gradient a matmul of the same columns with the output gradient. These three maps are bilinear,
so the backward of each is written with the other two and double backward needs nothing more.

For speed: every kernel splits the batch between threads (``parallel_for``), each thread running its
own copies and single-threaded BLAS on its images; the bias rides in the matmul as a row of ones in
the columns; and when no graph is recorded, one pass computes all three gradients from a single
layout change of the output gradient.
"""
from __future__ import annotations

from ..._backend import matmul, parallel_for, xp
from ..._dtype import is_half
from ..._tensor import Tensor
from ...amp import autocast_mode as _amp
from ...autograd import function as _function
from ...autograd.forward_ad import total
from ...autograd.function import Op
from ...autograd.grad_mode import state

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


# ----------------------------------------------------------------------------- array kernels
# A geometry ``geo`` is (stride, pads, dilation, groups): stride and dilation are (h, w) pairs and
# pads ((top, bottom), (left, right)), so asymmetric 'same' padding needs no separate pad op.

def _out_size(size: int, lo: int, hi: int, k: int, s: int, d: int) -> int:
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


def _valid(offset: int, s: int, out: int, size: int) -> tuple:
    """The output positions [a, b) whose input position ``pos * s + offset`` lies inside [0, size)."""
    a = min(max(0, -(offset // s)), out)
    b = min(max(a, (size - 1 - offset) // s + 1), out)
    return a, b


def _columns(x, kh: int, kw: int, geo, ones: bool = False):
    """im2col: the shape (C*kh*kw, N, Ho, Wo) of the input's receptive fields, and a function
    ``fill(a, b, dst)`` that copies those of images a..b-1 into dst (C*kh*kw, b-a, Ho, Wo): a slice of
    the whole batch's columns, or a piece's buffer (see _conv).

    Each kernel offset copies its in-bounds rectangle straight from x and zeroes the border that
    reaches into the padding, so no padded copy of the input is ever made. With ``ones`` the array
    has one more row, of ones: multiplied by the bias it adds the bias inside the matmul, and the
    weight gradient's matmul then yields the bias gradient too.
    """
    (sh, sw), ((pt, pb), (pl, pr)), (dh, dw), _ = geo
    n, c, h, w = x.shape
    ho = _out_size(h, pt, pb, kh, sh, dh)
    wo = _out_size(w, pl, pr, kw, sw, dw)
    shape = (c * kh * kw + ones, n, ho, wo)
    xt = x.transpose(1, 0, 2, 3)
    if n * shape[0] * ho * wo <= SMALL_COLUMNS:
        return shape, _small_fill(xt, (kh, kw), ones, geo, (ho, wo))
    if (sh, sw) == (1, 1) and wo == w:
        return shape, _rows_fill(x, (kh, kw), ones, geo, ho)
    rows = [(i * dh - pt, *_valid(i * dh - pt, sh, ho, h)) for i in range(kh)]
    cols_ = [(j * dw - pl, *_valid(j * dw - pl, sw, wo, w)) for j in range(kw)]

    def fill(a: int, b: int, into) -> None:
        cols = _kernel_major(into, c, kh, kw)
        for i, (oy, y0, y1) in enumerate(rows):
            for j, (ox, x0, x1) in enumerate(cols_):
                dst = cols[:, i, j]
                dst[:, :, :y0] = 0
                dst[:, :, y1:] = 0
                dst[:, :, y0:y1, :x0] = 0
                dst[:, :, y0:y1, x1:] = 0
                if y1 > y0 and x1 > x0:
                    dst[:, :, y0:y1, x0:x1] = xt[:, a:b, y0 * sh + oy:(y1 - 1) * sh + oy + 1:sh,
                                                 x0 * sw + ox:(x1 - 1) * sw + ox + 1:sw]
        if ones:
            into[-1] = 1
    return shape, fill


def _kernel_major(into, c: int, kh: int, kw: int):
    """A (C*kh*kw (+1), m, Ho, Wo) columns array's first C*kh*kw rows as (C, kh, kw, m, Ho, Wo): a view."""
    return into[:c * kh * kw].reshape(c, kh, kw, *into.shape[1:])


def _whole_columns(x, kh: int, kw: int, geo, ones: bool = False):
    """The whole batch's columns: an empty array of _columns' shape and ``fill(a, b)`` for images a..b-1."""
    shape, fill = _columns(x, kh, kw, geo, ones)
    flat = xp.empty(shape, dtype=x.dtype)
    return flat, lambda a, b: fill(a, b, flat[:, a:b])


SMALL_COLUMNS = 1 << 17  # columns up to this many elements are filled by _small_fill


def _small_fill(xt, k_hw, ones: bool, geo, out_hw):
    """im2col for small inputs: one zero-padded copy of the images, then a single copy of all their
    windows (a strided view of it), where the kernel offsets' loop costs a dozen NumPy calls per offset;
    with ``ones``, the last row gets its ones."""
    (sh, sw), ((pt, pb), (pl, pr)), (dh, dw), _ = geo
    c, _, h, w = xt.shape
    kh, kw = k_hw
    ho, wo = out_hw

    def fill(a: int, b: int, into) -> None:
        padded = xp.zeros((c, b - a, h + pt + pb, w + pl + pr), xt.dtype)
        padded[:, :, pt:pt + h, pl:pl + w] = xt[:, a:b]
        sc, sn, sy, sx = padded.strides
        _kernel_major(into, c, kh, kw)[...] = xp.ndarray((c, kh, kw, b - a, ho, wo), xt.dtype, padded, 0,
                                                          (sc, dh * sy, dw * sx, sn, sh * sy, sw * sx))
        if ones:
            into[-1] = 1
    return fill


def _rows_fill(x, k_hw, ones: bool, geo, ho: int):
    """im2col for a stride-1 convolution whose output keeps the input's width w (see _col2im_rows): with
    each image's rows laid end to end, kernel offset (i, j) copies one flat run per image and channel,
    shifted by (i*dh - pt)*w + j*dw - pl, then zeroes the rows that reach into the top or bottom padding
    and the columns the shift carried over from the neighbouring row; with ``ones``, the last row gets its ones."""
    _, ((pt, _), (pl, _)), (dh, dw), _ = geo
    n, c, h, w = x.shape
    kh, kw = k_hw
    p = ho * w
    src = x.reshape(n, c, h * w).transpose(1, 0, 2)  # (C, N, H*W)

    def fill(a: int, b: int, into) -> None:
        cols = _kernel_major(into, c, kh, kw)
        for i in range(kh):
            y0, y1 = _valid(i * dh - pt, 1, ho, h)
            for j in range(kw):
                s = j * dw - pl
                off = (i * dh - pt) * w + s
                dst = cols[:, i, j].reshape(c, b - a, p)
                lo, hi = max(y0 * w + off, 0), min(y1 * w + off, h * w)
                dst[:, :, :lo - off] = 0
                dst[:, :, max(hi - off, lo - off):] = 0
                if hi > lo:
                    dst[:, :, lo - off:hi - off] = src[:, a:b, lo:hi]
                by_col = dst.reshape(c, (b - a) * p)
                for ox in _wrapping(s, w):
                    by_col[:, ox::w] = 0
        if ones:
            into[-1] = 1
    return fill


def _batch_slice(m, a: int, b: int, n: int):
    """Images a..b-1 of a (..., K, N*P) matrix whose columns run image by image: a view, no copy."""
    p = m.shape[-1] // n
    return m[..., a * p:b * p]


def _put_batch_first(dst, src) -> None:
    """dst (N, C, ...) = src (C, N, ...)."""
    xp.copyto(dst, src.swapaxes(0, 1))


def _flat_gy(gy, a: int, b: int, g: int):
    """Images a..b-1 of the output gradient as the contiguous (groups, O/g, n*Ho*Wo) matrix the
    gradient products read."""
    o = gy.shape[1]
    return xp.ascontiguousarray(gy[a:b].swapaxes(0, 1)).reshape(g, o // g, -1)


def _sum_parts(parts: dict):
    """The sum of per-slice partial results, added in batch order so that a run is reproducible."""
    keys = sorted(parts)
    total = parts[keys[0]]
    for key in keys[1:]:
        total += parts[key]
    return total


# The kernels split the batch between threads; each thread runs its own im2col, matmul and layout
# change on its images, with BLAS on that thread alone (see parallel_for).

def _conv(x, w, geo, bias=None, keep: bool = True):
    """Cross-correlation of x (N, C, H, W) with w (O, C/g, kh, kw), plus bias; also returns the im2col
    columns, or with ``keep=False`` None.

    Each thread makes its columns COLUMNS_PIECE_BYTES at a time and multiplies each piece while it is
    still in cache. Without ``keep`` the pieces share one buffer, so no whole-batch array is written, read
    back and freed (evaluation, where nothing needs the columns again; at batch 250 that array outgrew
    malloc's reuse and cost page faults).
    """
    g = geo[3]
    o, cg, kh, kw = w.shape
    n = x.shape[0]
    fused_bias = bias is not None and g == 1
    shape, fill = _columns(x, kh, kw, geo, ones=fused_bias)
    rows, _, ho, wo = shape
    wm = w.reshape(g, o // g, cg * kh * kw)
    if fused_bias:
        wm = xp.concatenate([wm, bias.reshape(1, o, 1)], axis=2)
    out = xp.empty((n, g, o // g, ho * wo), dtype=x.dtype)
    cols = xp.empty(shape, dtype=x.dtype) if keep else None
    step = max(1, COLUMNS_PIECE_BYTES // max(1, rows * ho * wo * x.itemsize))  # (no rows: no input channels)

    def run(a: int, b: int) -> None:
        m = min(step, b - a)
        buf = None if keep else xp.empty((rows, m, ho, wo), dtype=x.dtype)
        for s in range(a, b, step):
            e = min(s + step, b)
            piece = cols[:, s:e] if keep else buf[:, :e - s]
            fill(s, e, piece)
            # one product per image and group, each written straight into its place in (N, O, Ho, Wo): as
            # fast as one product per piece and a layout change at 288 rows, twice as fast at 9 (conv1)
            matmul(wm, piece.reshape(g, rows // g, e - s, ho * wo).transpose(2, 0, 1, 3), out=out[s:e])
        if bias is not None and not fused_bias:
            out[a:b] += bias.reshape(g, o // g, 1)
    parallel_for(run, n, n * rows * ho * wo * o // g, blas=True)
    return out.reshape(n, o, ho, wo), cols


def _adjoint_writer(w, in_hw, geo, n: int, ho: int, wo: int, dtype):
    """The adjoint's output array and ``put(a, b, gy_t)``, which writes its images a..b-1 from their
    flat output gradient (see _flat_gy): a matmul, then col2im."""
    (sh, sw), ((pt, pb), (pl, pr)), (dh, dw), g = geo
    o, cg, kh, kw = w.shape
    h, wd = in_hw
    wt = w.reshape(g, o // g, cg * kh * kw).transpose(0, 2, 1)
    # the padded canvas must hold every window, including rows a strided conv never reached
    hp = max(h + pt + pb, dh * (kh - 1) + sh * (ho - 1) + 1)
    wp = max(wd + pl + pr, dw * (kw - 1) + sw * (wo - 1) + 1)
    out = xp.empty((n, g * cg, h, wd), dtype=dtype)
    rows = (sh, sw) == (1, 1) and wo == wd  # windows keep the width: col2im by flat shifts (_col2im_rows)

    def put(a: int, b: int, gy_t) -> None:
        if rows:
            cols = matmul(wt, gy_t).reshape(g * cg, kh, kw, b - a, ho * wo)
            canvas = _col2im_rows(cols, hp, wd, (dh, dw), pl)
            _put_batch_first(out[a:b], canvas[:, :, pt * wd:(pt + h) * wd].reshape(g * cg, b - a, h, wd))
            return
        cols = matmul(wt, gy_t).reshape(g * cg, kh, kw, b - a, ho, wo)
        canvas = xp.zeros((g * cg, b - a, hp, wp), dtype=cols.dtype)
        for i in range(kh):  # col2im: every kernel offset adds its columns back where they came from
            for j in range(kw):
                canvas[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw] += \
                    cols[:, i, j]
        _put_batch_first(out[a:b], canvas[:, :, pt:pt + h, pl:pl + wd])
    return out, put


def _wrapping(s: int, w: int) -> range:
    """The window columns ox whose input column ox + s lies outside [0, w): with rows laid end to end, a
    shift by s would carry them into the neighbouring row."""
    return range(0, min(-s, w)) if s < 0 else range(max(w - s, 0), w)


def _col2im_rows(cols, hp: int, w: int, dil, pl: int):
    """col2im for a stride-1 convolution whose output keeps the input's width w: cols (C, kh, kw, m, Ho*w)
    added into a zeroed (C, m, hp*w) canvas (hp: the padded height). With each image's rows laid end to
    end, kernel offset (i, j) is one flat shift of i*dh*w + j*dw - pl, so each offset is one add of runs
    of Ho*w elements instead of a short run per row (twice as fast); the columns whose window reached
    into the left or right padding are zeroed first, as the shift would carry them into the next row."""
    c, kh, kw, m, p = cols.shape
    dh, dw = dil
    margin = max(pl, dw * (kw - 1) - pl)  # the shifts' range, so that no view starts before the buffer
    size = c * m * hp * w
    buf = xp.zeros(size + 2 * margin, cols.dtype)
    item = buf.itemsize
    for j in range(kw):
        s = j * dw - pl
        by_i = cols[:, :, j].reshape(c, kh, m * p)
        for ox in _wrapping(s, w):
            by_i[:, :, ox::w] = 0
        for i in range(kh):
            dst = xp.ndarray((c, m, p), buf.dtype, buf, (margin + i * dh * w + s) * item,
                             (m * hp * w * item, hp * w * item, item))
            dst += by_i[:, i].reshape(c, m, p)
    return buf[margin:margin + size].reshape(c, m, hp * w)


def _conv_adjoint(gy, w, in_hw, geo):
    """The transposed convolution: the adjoint of ``_conv`` in its input, for inputs of spatial size in_hw."""
    n, _, ho, wo = gy.shape
    out, put = _adjoint_writer(w, in_hw, geo, n, ho, wo, gy.dtype)
    if gy.size == 0:  # an empty batch: nothing to scatter
        return xp.zeros(out.shape, out.dtype)
    parallel_for(lambda a, b: put(a, b, _flat_gy(gy, a, b, geo[3])), n, gy.size * w[0].size, blas=True)
    return out


def _conv_weight(x, gy, k_hw, geo, cols=None):
    """The gradient of ``_conv`` in its weight: the input's columns (given, or rebuilt) times the output gradient."""
    g = geo[3]
    n, o, ho, wo = gy.shape
    kh, kw = k_hw
    if gy.size == 0:  # an empty batch: no products to sum
        return xp.zeros((o, x.shape[1] // g, kh, kw), gy.dtype)
    fill = None
    if cols is None:
        cols, fill = _whole_columns(x, kh, kw, geo)
    cm = cols[:x.shape[1] * kh * kw].reshape(g, -1, n * ho * wo)  # without a row of ones
    parts = {}

    def run(a: int, b: int) -> None:
        if fill is not None:
            fill(a, b)
        parts[a] = matmul(_flat_gy(gy, a, b, g), _batch_slice(cm, a, b, n).transpose(0, 2, 1))
    parallel_for(run, n, cols.size * o // g, blas=True)
    return _sum_parts(parts).reshape(o, -1, kh, kw)


GRAD_COLUMNS_BYTES = 2 << 20  # the input gradient's columns are made for this much of the batch at a time
COLUMNS_PIECE_BYTES = 2 << 20  # as are an unrecorded convolution's (see _conv)


def _conv_grads(x, w, cols, gy, geo, need_x: bool, need_w: bool, need_b: bool):
    """A convolution's input, weight and bias gradients (None where not needed) in one pass over the
    batch: each thread lays out its slice of the output gradient once and feeds all three from it."""
    g = geo[3]
    n, o, ho, wo = gy.shape
    k = w[0].size
    if gy.size == 0:  # an empty batch (or output): nothing flows back, the gradients are zeros
        zero = lambda need, shape: xp.zeros(shape, gy.dtype) if need else None  # noqa: E731
        return zero(need_x, x.shape), zero(need_w, w.shape), zero(need_b, (o,))
    # the forward's columns end with a row of ones when it fused the bias (one group only): the
    # weight gradient's product then gives the bias gradient as its last column
    b_in_w = need_w and need_b and cols.shape[0] == k + 1
    cm = cols[:g * k + b_in_w].reshape(g, -1, n * ho * wo) if need_w else None
    gx, put = _adjoint_writer(w, x.shape[2:], geo, n, ho, wo, gy.dtype) if need_x else (None, None)
    w_parts, b_parts = {}, {}

    def run(a: int, b: int) -> None:
        if not need_x and need_w:
            # no input gradient to feed (a first layer): multiply each image's gradient as it lies
            # in (N, O, Ho, Wo), which saves laying the whole gradient out again
            gy_i = gy[a:b].reshape(b - a, g, o // g, ho * wo)
            cols_i = _batch_slice(cm, a, b, n).reshape(g, -1, b - a, ho * wo).transpose(2, 0, 3, 1)
            w_parts[a] = matmul(gy_i, cols_i).sum(0)
            if need_b and not b_in_w:
                b_parts[a] = gy_i.sum((0, 3)).reshape(-1)
            return
        gy_t = _flat_gy(gy, a, b, g)
        if need_b and not b_in_w:
            b_parts[a] = gy_t.sum(-1)
        if need_w:
            w_parts[a] = matmul(gy_t, _batch_slice(cm, a, b, n).transpose(0, 2, 1))
        # the input gradient in pieces of GRAD_COLUMNS_BYTES of its columns (as large as the forward's im2col),
        # which then never exist for the whole batch at once: they kept a CNN step's peak memory above torch's
        for s in range(a, b, step) if need_x else ():
            put(s, min(s + step, b), _batch_slice(gy_t, s - a, min(s + step, b) - a, b - a))
    step = max(1, GRAD_COLUMNS_BYTES // (k * g * ho * wo * gy.itemsize))
    parallel_for(run, n, gy.size * k * (need_x + need_w), blas=True)
    gw = gb = None
    if need_w:
        gw = _sum_parts(w_parts)
        if b_in_w:
            gw, gb = gw[0, :, :k], gw[0, :, k]
        gw = gw.reshape(w.shape)
    if need_b and not b_in_w:
        gb = _sum_parts(b_parts).reshape(-1)
    return gx, gw, gb


def _as4d(a):
    return a if a.ndim == 4 else a[:, :, None, :]


def _like(out, ref):
    """Back to 3-D when the op's input was 1-D (N, C, L)."""
    return out if ref.ndim == 4 else out[:, :, 0, :]


def _bias_grad(g: Tensor) -> Tensor:
    return g.sum((0, *range(2, g.ndim)))


def _add_bias(out, b):
    if b is not None:
        out += b.reshape(-1, *([1] * (out.ndim - 2)))
    return out


# ----------------------------------------------------------------------------- ops
class Convolution(Op):
    """conv(x, w) + b.

    Forward also returns its im2col columns (not differentiable): the weight gradient needs the
    same columns, and keeping them saves rebuilding them, a third of a convolution's time.
    """

    batching = "conv"
    differentiable_outputs = (0,)
    array_backward = True  # a plain backward hands it arrays (see backward)

    @staticmethod
    def forward(x, w, b, geo):
        out, cols = _conv(_as4d(x), _as4d(w), geo, b)
        return _like(out, x), cols

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, b, ctx.geo = inputs
        ctx.save_for_backward(x, w, Tensor._make(output[1]) if w._requires_grad else None)

    @staticmethod
    def backward(ctx, g, _cols=None):
        x, w, cols = ctx.saved_tensors
        (fx, _), (fw, _), (fb, _) = ctx.next_functions[:3]
        arrays = not isinstance(g, Tensor)
        if arrays or not (state.enabled and (g.requires_grad or x.requires_grad or w.requires_grad)):
            # nothing to record (plain backward, or no input a second derivative could reach):
            # all three gradients from one pass over the batch
            if not arrays:
                x, w, g = x._data, w._data, g._data
                cols = None if cols is None else cols._data
            gx, gw, gb = _conv_grads(_as4d(x), _as4d(w), cols, _as4d(g), ctx.geo, fx is not None, fw is not None,
                                     fb is not None)
            wrap = (lambda a: a) if arrays else Tensor._make
            return (None if gx is None else wrap(gx.reshape(x.shape)),
                    None if gw is None else wrap(gw.reshape(w.shape)),
                    None if gb is None else wrap(gb), None)
        need_x, need_w, need_b = fx is not None, fw is not None, fb is not None
        gx = ConvAdjoint.apply(g, w, None, ctx.geo, _spatial(x)) if need_x else None
        gw = ConvWeight.apply(x, g, ctx.geo, tuple(w.shape[2:]), cols._data) if need_w else None
        gb = _bias_grad(g) if need_b else None
        return gx, gw, gb, None

    @staticmethod
    def jvp(inputs, out, tx, tw, tb, _):  # linear in x, in w and in b: one convolution per term
        x, w, _, geo = inputs
        terms = [None if tx is None else Convolution.apply(tx, w, None, geo)[0],
                 None if tw is None else Convolution.apply(x, tw, None, geo)[0]]
        if tb is not None:
            terms.append(tb.reshape(-1, *[1] * (w.ndim - 2)))
        return total(*terms), None


class ConvAdjoint(Op):
    """The transposed convolution conv^T(y, w) + b, whose output has spatial size ``in_hw``."""

    @staticmethod
    def forward(y, w, b, geo, in_hw):
        hw = in_hw if len(in_hw) == 2 else (1, *in_hw)
        return _add_bias(_like(_conv_adjoint(_as4d(y), _as4d(w), hw, geo), y), b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        y, w, b, ctx.geo, _ = inputs
        ctx.save_for_backward(y, w)

    @staticmethod
    def backward(ctx, g):
        y, w = ctx.saved_tensors
        need_y, need_w, need_b = ctx.needs_input_grad[:3]
        geo = _fitted(ctx.geo, _spatial(g), _spatial(y), tuple(w.shape[2:]))
        gy = Convolution.apply(g, w, None, geo)[0] if need_y else None
        gw = ConvWeight.apply(g, y, geo, tuple(w.shape[2:])) if need_w else None
        gb = _bias_grad(g) if need_b else None
        return gy, gw, gb, None, None


class ConvWeight(Op):
    """The weight gradient of a convolution of x whose output gradient is gy."""

    @staticmethod
    def forward(x, gy, geo, k_hw, cols=None):
        k = k_hw if len(k_hw) == 2 else (1, *k_hw)
        gw = _conv_weight(_as4d(x), _as4d(gy), k, geo, cols)
        return gw if x.ndim == 4 else gw[:, :, 0, :]

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, gy, ctx.geo = inputs[:3]
        ctx.save_for_backward(x, gy)

    @staticmethod
    def backward(ctx, g):
        x, gy = ctx.saved_tensors
        need_x, need_gy = ctx.needs_input_grad[:2]
        gx = ConvAdjoint.apply(gy, g, None, ctx.geo, _spatial(x)) if need_x else None
        ggy = Convolution.apply(x, g, None, ctx.geo)[0] if need_gy else None
        return gx, ggy, None, None, None


def _spatial(t: Tensor) -> tuple:
    return tuple(t.shape[2:])


def _fitted(geo, in_hw: tuple, out_hw: tuple, k: tuple):
    """geo with its far pads cut so that a convolution of in_hw gives exactly out_hw positions: the
    adjoint of a transposed convolution whose output_padding added positions no window reaches."""
    (stride, pads, dil, groups), lead = geo, 2 - len(in_hw)
    in_hw, out_hw, k = (1,) * lead + in_hw, (1,) * lead + out_hw, (1,) * lead + k
    cut = [max(_out_size(n, lo, hi, kk, s, d) - o, 0) * s
           for n, (lo, hi), kk, s, d, o in zip(in_hw, pads, k, stride, dil, out_hw)]
    return stride, tuple((lo, hi - c) for (lo, hi), c in zip(pads, cut)), dil, groups


# ----------------------------------------------------------------------------- argument handling
def _tuple(v, n: int, name: str, op: str) -> tuple:
    if isinstance(v, (int, xp.integer)):
        return (int(v),) * n
    v = tuple(map(int, v))
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list of {n} values to "
                           f"match the convolution dimensions, but got {name}={list(v)}")
    return v


def _to2d(v: tuple, fill: int) -> tuple:
    """A 1-D conv's (s,) as the 2-D (fill, s)."""
    return v if len(v) == 2 else (fill, *v)


def _check(op: str, input: Tensor, weight: Tensor, bias, dims: int, groups: int, transposed: bool) -> None:
    shape, wshape, dt = input._data.shape, weight._data.shape, input._data.dtype
    if len(shape) not in (dims + 1, dims + 2):
        raise RuntimeError(f"Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input to {op}, but got "
                           f"input of size: {list(shape)}")
    if len(wshape) != dims + 2:
        raise RuntimeError(f"{op}: weight should have {dims + 2} dimensions, got weight of size {list(wshape)}")
    if groups < 1:
        raise RuntimeError("non-positive groups is not supported")
    if dt != weight._data.dtype or (bias is not None and bias._data.dtype != dt):
        raise RuntimeError(f"{op}: expected input, weight and bias to have the same dtype, but got input "
                           f"{input.dtype}, weight {weight.dtype}" +
                           (f", bias {bias.dtype}" if bias is not None else ""))
    if dt.kind == "b":  # torch convolves integers (exactly) but not booleans
        raise NotImplementedError(f'"{op}" not implemented for \'Bool\'')
    c = shape[-dims - 1]
    if transposed:
        if wshape[0] != c:
            raise RuntimeError(f"Given transposed=1, weight of size {list(wshape)}, expected input"
                               f"{list(shape)} to have {wshape[0]} channels, but got {c} channels instead")
        out_c = wshape[1] * groups
    else:
        if wshape[0] < 1:
            raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, "
                               f"but got weight of size {list(wshape)} instead")
        if wshape[0] % groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at "
                               f"dimension 0, but got weight of size {list(wshape)} instead")
        if wshape[1] * groups != c:
            raise RuntimeError(f"Given groups={groups}, weight of size {list(wshape)}, expected input"
                               f"{list(shape)} to have {wshape[1] * groups} channels, but got {c} "
                               f"channels instead")
        out_c = wshape[0]
    if bias is not None and bias._data.shape != (out_c,):
        raise RuntimeError(f"{op}: expected bias to be 1-dimensional with {out_c} elements, but got bias of "
                           f"size {list(bias.shape)} instead")


def _conv_args(op: str, dims: int, input, weight, bias, stride, padding, dilation, groups):
    """A convolution's checked arguments: (input with a batch dim, whether it had none, stride,
    ((lo, hi) pads per dim), dilation)."""
    _check(op, input, weight, bias, dims, groups, transposed=False)
    unbatched = input._data.ndim == dims + 1
    if unbatched:
        input = input.reshape((1, *input.shape))
    stride = _tuple(stride, dims, "stride", op)
    dilation = _tuple(dilation, dims, "dilation", op)
    k = weight._data.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = tuple((0, 0) for _ in range(dims))
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            # an odd total goes one more on the far side, as torch does
            pads = tuple((t // 2, t - t // 2) for t in (d * (kk - 1) for d, kk in zip(dilation, k)))
        else:
            raise RuntimeError(f"Invalid padding string '{padding}' for {op}, expected 'same' or 'valid'")
    else:
        padding = _tuple(padding, dims, "padding", op)
        if min(padding) < 0:
            raise RuntimeError(f"{op}: negative padding is not supported")
        pads = tuple(zip(padding, padding))
    if min(stride) <= 0 or min(dilation) <= 0:
        raise RuntimeError(f"{op}: non-positive stride or dilation is not supported")
    for size, (lo, hi), kk, d in zip(input._data.shape[2:], pads, k, dilation):
        if size + lo + hi < d * (kk - 1) + 1:
            raise RuntimeError(f"Calculated padded input size per channel: ({size + lo + hi}). Kernel size: "
                               f"({d * (kk - 1) + 1}). Kernel size can't be greater than actual input size")
    return input, unbatched, stride, pads, dilation


def _conv_transpose_args(op: str, dims: int, input, weight, bias, stride, padding, output_padding, groups,
                         dilation):
    """A transposed convolution's checked arguments: (input with a batch dim, whether it had none, stride,
    padding, dilation, the output's spatial size)."""
    _check(op, input, weight, bias, dims, groups, transposed=True)
    unbatched = input.ndim == dims + 1
    if unbatched:
        input = input.reshape((1, *input.shape))
    stride = _tuple(stride, dims, "stride", op)
    padding = _tuple(padding, dims, "padding", op)
    output_padding = _tuple(output_padding, dims, "output_padding", op)
    dilation = _tuple(dilation, dims, "dilation", op)
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise RuntimeError(f"{op}: output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={list(output_padding)}, stride={list(stride)}, "
                               f"dilation={list(dilation)}")
    k = tuple(weight.shape[2:])
    out_size = tuple((size - 1) * s - 2 * p + d * (kk - 1) + o + 1
                     for size, s, p, d, kk, o in zip(input.shape[2:], stride, padding, dilation, k, output_padding))
    if any(v <= 0 for v in out_size):
        raise RuntimeError(f"{op}: the output size {list(out_size)} computed from input of size "
                           f"{list(input.shape)} is too small")
    return input, unbatched, stride, padding, dilation, out_size


def _half(input, weight) -> bool:
    """float16 or bfloat16 operands, which torch's kernels sum in float32 and round once: ember computes them so."""
    return isinstance(input, Tensor) and is_half(input._data.dtype) and getattr(weight, "dtype", None) is input.dtype


def _f32(*tensors) -> list:
    return [None if t is None else t.float() for t in tensors]


def _conv_nd(op: str, dims: int, input, weight, bias, stride, padding, dilation, groups) -> Tensor:
    if _amp.state.on:
        return _amp.call(_conv_nd, _amp.LOWER, op, dims, input, weight, bias, stride, padding, dilation, groups)
    if _half(input, weight):
        return _conv_nd(op, dims, *_f32(input, weight, bias), stride, padding, dilation, groups).to(input.dtype)
    input, unbatched, stride, pads, dilation = _conv_args(op, dims, input, weight, bias, stride, padding,
                                                          dilation, groups)
    geo = (_to2d(stride, 1), _to2d(pads, (0, 0)), _to2d(dilation, 1), int(groups))
    if _function.transform is None and not (state.enabled and any(
            t is not None and t._requires_grad for t in (input, weight, bias))):
        # nothing recorded (evaluation): no op, and no columns kept for a backward
        x = input._data
        out = _conv(_as4d(x), _as4d(weight._data), geo, None if bias is None else bias._data, keep=False)[0]
        out = Tensor._make(_like(out, x))
    else:
        out = Convolution.apply(input, weight, bias, geo)[0]
    return out.reshape(tuple(out.shape[1:])) if unbatched else out


def _conv_transpose_nd(op: str, dims: int, input, weight, bias, stride, padding, output_padding, groups,
                       dilation) -> Tensor:
    if _amp.state.on:
        return _amp.call(_conv_transpose_nd, _amp.LOWER, op, dims, input, weight, bias, stride, padding,
                         output_padding, groups, dilation)
    if _half(input, weight):
        return _conv_transpose_nd(op, dims, *_f32(input, weight, bias), stride, padding, output_padding, groups,
                                  dilation).to(input.dtype)
    input, unbatched, stride, padding, dilation, out_hw = _conv_transpose_args(
        op, dims, input, weight, bias, stride, padding, output_padding, groups, dilation)
    geo = (_to2d(stride, 1), _to2d(tuple((p, p) for p in padding), (0, 0)), _to2d(dilation, 1), int(groups))
    out = ConvAdjoint.apply(input, weight, bias, geo, out_hw)
    return out.reshape(tuple(out.shape[1:])) if unbatched else out


# ----------------------------------------------------------------------------- public functions
def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """1-D cross-correlation of (N, C_in, L) with weight (C_out, C_in/groups, k); padding may be 'same'/'valid'."""
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D cross-correlation of (N, C_in, H, W) with weight (C_out, C_in/groups, kH, kW)."""
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution of (N, C_in, L) with weight (C_in, C_out/groups, k)."""
    return _conv_transpose_nd("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                              groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution of (N, C_in, H, W) with weight (C_in, C_out/groups, kH, kW)."""
    return _conv_transpose_nd("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                              groups, dilation)
