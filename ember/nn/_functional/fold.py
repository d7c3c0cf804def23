"""unfold (im2col) and fold (col2im): sliding blocks of an image as columns, and back.

The two are each other's adjoint, so each Op's backward is the other Op: double backward comes
for free. unfold reads all blocks at once through a strided window view (one copy); fold sums the
columns back with one strided add per kernel offset (kh * kw vectorised adds).
"""
from __future__ import annotations

from ..._backend import xp
from ..._tensor import Tensor
from ...autograd.function import Op

__all__ = ["unfold", "fold"]


def _pair(v, name: str) -> tuple[int, int]:
    t = tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v), int(v))
    if len(t) != 2:
        raise RuntimeError(f"{name} must be an int or a tuple of two ints, got {v}")
    return t


def _blocks(size, k, d, p, s) -> tuple[int, int]:
    """The number of sliding blocks along each of the two spatial dims."""
    return tuple((size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))


class _Im2Col(Op):
    """(N, C, H, W) -> (N, C*kh*kw, L): every sliding block of the zero-padded image as a column."""

    @staticmethod
    def forward(x, k, d, p, s):
        n, c, h, w = x.shape
        xp_ = xp.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))) if any(p) else x
        oh, ow = _blocks((h, w), k, d, p, s)
        sn, sc, sh, sw = xp_.strides
        win = xp.lib.stride_tricks.as_strided(
            xp_, (n, c, k[0], k[1], oh, ow), (sn, sc, sh * d[0], sw * d[1], sh * s[0], sw * s[1]), writeable=False)
        return win.reshape(n, c * k[0] * k[1], oh * ow)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.k, ctx.d, ctx.p, ctx.s = inputs
        ctx.size = tuple(x.shape[2:])

    @staticmethod
    def backward(ctx, g):
        return _Col2Im.apply(g, ctx.size, ctx.k, ctx.d, ctx.p, ctx.s), None, None, None, None


class _Col2Im(Op):
    """(N, C*kh*kw, L) -> (N, C, H, W): each column summed back into its block (overlaps add up)."""

    @staticmethod
    def forward(cols, size, k, d, p, s):
        n = cols.shape[0]
        c = cols.shape[1] // (k[0] * k[1])
        oh, ow = _blocks(size, k, d, p, s)
        out = xp.zeros((n, c, size[0] + 2 * p[0], size[1] + 2 * p[1]), dtype=cols.dtype)
        blocks = cols.reshape(n, c, k[0], k[1], oh, ow)
        for i in range(k[0]):
            for j in range(k[1]):
                r, q = i * d[0], j * d[1]
                out[:, :, r:r + s[0] * (oh - 1) + 1:s[0], q:q + s[1] * (ow - 1) + 1:s[1]] += blocks[:, :, i, j]
        return xp.ascontiguousarray(out[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]) if any(p) else out

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.size, ctx.k, ctx.d, ctx.p, ctx.s = inputs

    @staticmethod
    def backward(ctx, g):
        return _Im2Col.apply(g, ctx.k, ctx.d, ctx.p, ctx.s), None, None, None, None, None


def _check_params(k, d, p, s) -> None:
    if min(k) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: {k[0]} "
                           f"kernel_width: {k[1]}")
    if min(d) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: {d[0]} "
                           f"dilation_width: {d[1]}")
    if min(p) < 0:
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {p[0]} pad_width: {p[1]}")
    if min(s) <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: {s[0]} stride_width: {s[1]}")


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding local blocks: (N, C, H, W) -> (N, C * prod(kernel_size), L); (C, H, W) unbatched."""
    k, d, p, s = (_pair(v, n) for v, n in ((kernel_size, "kernel_size"), (dilation, "dilation"),
                                            (padding, "padding"), (stride, "stride")))
    _check_params(k, d, p, s)
    if input.dim() not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D)")
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    oh, ow = _blocks(tuple(x.shape[2:]), k, d, p, s)
    if oh < 1 or ow < 1:
        raise RuntimeError(f"Given input with spatial size ({x.shape[2]}, {x.shape[3]}), kernel_size=({k[0]}, "
                           f"{k[1]}), dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), calculated shape of the "
                           f"array of sliding blocks as ({oh}, {ow}), but its components must be at least one.")
    out = _Im2Col.apply(x, k, d, p, s)
    return out if batched else out.squeeze(0)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Combine sliding blocks into an image, summing overlaps: (N, C * prod(kernel_size), L) -> (N, C, *output_size)."""
    size = _pair(output_size, "output_size")
    k, d, p, s = (_pair(v, n) for v, n in ((kernel_size, "kernel_size"), (dilation, "dilation"),
                                            (padding, "padding"), (stride, "stride")))
    _check_params(k, d, p, s)
    if input.dim() not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                                  f"(got {input.dim()}D)")
    batched = input.dim() == 3
    x = input if batched else input.unsqueeze(0)
    if x.shape[1] % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={x.shape[1]} and kernel_size=({k[0]}, {k[1]})")
    oh, ow = _blocks(size, k, d, p, s)
    if oh < 1 or ow < 1:
        raise RuntimeError(f"Given output_size=({size[0]}, {size[1]}), kernel_size=({k[0]}, {k[1]}), dilation="
                           f"({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), stride=({s[0]}, {s[1]}), calculated shape "
                           f"of the array of sliding blocks as ({oh}, {ow}), but its components must be at least one.")
    if x.shape[2] != oh * ow:
        raise RuntimeError(f"Given output_size=({size[0]}, {size[1]}), kernel_size=({k[0]}, {k[1]}), dilation="
                           f"({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), stride=({s[0]}, {s[1]}), expected size of "
                           f"input's dimension 2 to match the calculated number of sliding blocks {oh} * {ow} = "
                           f"{oh * ow}, but got input.size(2)={x.shape[2]}.")
    out = _Col2Im.apply(x, size, k, d, p, s)
    return out if batched else out.squeeze(0)
