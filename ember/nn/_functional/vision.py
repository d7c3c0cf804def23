"""Resampling: interpolate (every mode, antialias too), pixel (un)shuffle and affine_grid (grid_sample is in
grid_sample.py).

Each interpolation mode is a separable linear map: one small (out, in) matrix per spatial dim,
applied by matrix products (the Resample op, whose gradient is the transposed map).
"""
from __future__ import annotations

import math
import numbers
import warnings

from ... import _dtype
from ..._backend import xp

from ..._tensor import Tensor
from ...autograd.function import Op
from ..._ops.common import register
from ..._ops.linalg import _short
from .pooling import _adaptive_matrix
from .grid_sample import grid_sample  # noqa: F401  published here with affine_grid, as torch's

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle", "native_channel_shuffle", "affine_grid", "grid_sample"]

# the interpolating modes and the input rank each needs
_LINEAR = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_RESIZE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


class Resample(Op):
    """y = x with one matrix applied along each of its last dims: every interpolation mode is such a
    separable linear map, whose gradient is the same map with the matrices transposed."""

    @staticmethod
    def forward(x, mats):
        for ax, m in enumerate(mats, start=x.ndim - len(mats)):
            x = xp.matmul(x, m.T) if ax == x.ndim - 1 else xp.moveaxis(xp.matmul(m, xp.moveaxis(x, ax, -2)), -2, ax)
        return xp.ascontiguousarray(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mats = inputs[1]

    @staticmethod
    def backward(ctx, g):
        return Resample.apply(g, tuple(xp.ascontiguousarray(m.T) for m in ctx.mats)), None


def _cubic(x, a: float):
    """The cubic convolution kernel (Keys) at distances x."""
    x = xp.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return xp.where(x <= 1, near, xp.where(x < 2, far, 0.0))


def _source_scale(size: int, out: int, align_corners: bool, scale: float | None) -> float:
    """torch's step between output positions in input coordinates."""
    if align_corners:
        return (size - 1) / (out - 1) if out > 1 else 0.0
    return 1.0 / scale if scale else size / out


def _antialias_matrix(size: int, out: int, mode: str, align_corners: bool, scale: float | None, dtype):
    """Resampling with the filter stretched over the input when shrinking, each row's weights normalized;
    computed in the input's precision, as torch does."""
    one = dtype.type(1.0)
    ratio = dtype.type(_source_scale(size, out, align_corners, scale))
    support = (2 if mode == "bilinear" else 4) / 2 * (ratio if ratio >= 1 else one)
    inv = one / ratio if ratio >= 1 else one
    center = ratio * (xp.arange(out, dtype=dtype) + one / 2)
    lo = xp.maximum((center - support + one / 2).astype(xp.int64), 0)
    hi = xp.minimum((center + support + one / 2).astype(xp.int64), size)
    pos = xp.arange(size, dtype=dtype)
    dist = (pos[None, :] - center[:, None] + one / 2) * inv
    w = xp.maximum(one - xp.abs(dist), 0) if mode == "bilinear" else _cubic(dist, dtype.type(-0.5)).astype(dtype)
    w = xp.where((pos >= lo[:, None]) & (pos < hi[:, None]), w, 0).astype(dtype)
    total = w.sum(1, keepdims=True)
    return xp.divide(w, total, out=xp.zeros_like(w), where=total != 0)


def _resize_matrix(size: int, out: int, mode: str, align_corners: bool, scale: float | None, antialias: bool,
                   dtype=xp.dtype(xp.float64)):
    """The (out, size) matrix that resamples one dim; ``scale`` is the user's scale factor, if any."""
    if antialias:
        return _antialias_matrix(size, out, mode, align_corners, scale, dtype)
    if mode == "area":
        return _adaptive_matrix(size, out, xp.float64)
    m = xp.zeros((out, size), dtype=xp.float64)
    rows = xp.arange(out)
    if mode in ("nearest", "nearest-exact"):
        # torch finds the source pixel in float32 arithmetic (and copies for sizes 1x and 2x)
        ratio = xp.float32(1.0 / scale if scale else size / out)
        dst = rows.astype(xp.float32) + xp.float32(0.5 if mode == "nearest-exact" else 0.0)
        src = rows if out == size and mode == "nearest" else rows // 2 if out == 2 * size and mode == "nearest" \
            else xp.floor(dst * ratio).astype(xp.int64)
        m[rows, xp.minimum(src, size - 1)] = 1.0
        return m
    ratio = _source_scale(size, out, align_corners, scale)
    src = rows * ratio if align_corners else (rows + 0.5) * ratio - 0.5
    if mode == "bicubic":  # four taps around floor(src), clamped to the edge, Keys' kernel with a = -0.75
        i0 = xp.floor(src).astype(xp.int64)
        for k in range(-1, 3):
            xp.add.at(m, (rows, xp.clip(i0 + k, 0, size - 1)), _cubic(src - (i0 + k), -0.75))
        return m
    src = xp.maximum(src, 0.0)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), size - 1)
    frac = src - i0
    xp.add.at(m, (rows, i0), 1.0 - frac)
    xp.add.at(m, (rows, xp.minimum(i0 + 1, size - 1)), frac)
    return m


def _check_mode(input: Tensor, mode: str, align_corners, antialias: bool) -> None:
    if mode not in _RESIZE_MODES:
        raise NotImplementedError(f"interpolate: mode '{mode}' is not supported ({' | '.join(_RESIZE_MODES)})")
    if align_corners is not None and mode not in _LINEAR:
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                         "bicubic | trilinear")
    if antialias and not (mode in ("bilinear", "bicubic") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and requires a 4-D tensor "
                         "as input")
    if input.ndim not in (3, 4, 5) or (mode == "bicubic" and input.ndim != 4):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
                                  f"the modes: {' | '.join(_RESIZE_MODES)} (got {mode})")
    if mode in _LINEAR and input.ndim != _LINEAR[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {_LINEAR[mode]}D input")
    dt = input._data.dtype
    if not _dtype.is_float(dt) and not (dt == xp.uint8 and mode in ("nearest", "nearest-exact", "bilinear", "bicubic")
                               and input.ndim == 4 or dt == xp.uint8 and mode.startswith("nearest")):
        raise NotImplementedError(f"interpolate: mode '{mode}' is not implemented for {input.dtype} input")


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resize (N, C, *spatial) with 1 to 3 spatial dims to ``size`` or by ``scale_factor``: 'nearest',
    'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear' or 'area' (adaptive average pooling)."""
    _check_mode(input, mode, align_corners, antialias)
    if _dtype.is_half(input._data.dtype):  # computed in float32 and rounded once, as torch's kernels
        return interpolate(input.float(), size, scale_factor, mode, align_corners, recompute_scale_factor,
                           antialias).to(input.dtype)
    dims = input.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None else
                         "either size or scale_factor should be defined")
    in_sizes = tuple(input.shape[2:])
    if size is not None:
        out = (int(size),) * dims if isinstance(size, numbers.Integral) else tuple(int(s) for s in size)
        if len(out) != dims:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(in_sizes)} and output size of {list(out)}. Please provide "
                             f"input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                             f"format.")
        scales = (None,) * dims
    else:
        scales = (float(scale_factor),) * dims if isinstance(scale_factor, numbers.Number) else \
            tuple(float(s) for s in scale_factor)
        if len(scales) != dims:
            raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                             f"with spatial dimensions of {list(in_sizes)} and scale_factor of shape "
                             f"{list(scales)}.")
        out = tuple(int(math.floor(n * s)) for n, s in zip(in_sizes, scales))
        if recompute_scale_factor or mode == "area":
            scales = (None,) * dims
    if any(o <= 0 for o in out):
        raise RuntimeError(f"interpolate: output size {list(out)} must be greater than 0")
    dt = input._data.dtype
    wdt = dt if dt.kind == "f" else xp.dtype(xp.float64)
    mats = tuple(_resize_matrix(n, o, mode, bool(align_corners), s, antialias, wdt)
                 for n, o, s in zip(in_sizes, out, scales))
    if dt.kind == "f":
        return Resample.apply(input, tuple(m.astype(dt) for m in mats))
    if mode.startswith("nearest"):
        return Tensor._make(Resample.forward(input._data, tuple(m.astype(dt) for m in mats)))
    return Tensor._make(_resample_bytes(input._data, mats))


@register(method=False)
def _upsample_bilinear2d_aa(input: Tensor, output_size, align_corners: bool, scale_factors=None) -> Tensor:
    """aten's antialiased bilinear resize of (N, C, H, W): ``interpolate(..., 'bilinear', antialias=True)``."""
    if output_size is not None:
        return interpolate(input, size=tuple(output_size), mode="bilinear", align_corners=align_corners,
                           antialias=True)
    return interpolate(input, scale_factor=tuple(scale_factors), mode="bilinear", align_corners=align_corners,
                       antialias=True)


def _resample_bytes(x, mats):
    """uint8 images as torch resamples them: one dim at a time from the last, in fixed point (weights
    scaled by 2**bits, as many bits as 16-bit weights allow), each pass rounded and clamped to a byte."""
    y = x.astype(xp.int64)
    for ax in range(x.ndim - 1, x.ndim - 1 - len(mats), -1):
        m = mats[ax - x.ndim + len(mats)]
        if m.shape[0] == m.shape[1] and (m == xp.eye(m.shape[0])).all():
            continue
        bits = next((b for b in range(22) if int(0.5 + m.max() * (1 << (b + 1))) >= 1 << 15), 22)
        w = xp.trunc(m * (1 << bits) + xp.where(m < 0, -0.5, 0.5)).astype(xp.int64)
        z = (xp.matmul(xp.moveaxis(y, ax, -1), w.T) + (1 << (bits - 1))) >> bits
        y = xp.moveaxis(xp.clip(z, 0, 255), -1, ax)
    return y.astype(x.dtype)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, C, *) -> (N, C, *) with the channels regrouped: ``g`` groups of ``C/g`` become ``C/g`` groups of ``g``."""
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes "
                           f"{list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    x = input.reshape((n, groups, c // groups, *rest)).transpose(1, 2)
    return x.reshape((n, c, *rest))


native_channel_shuffle = channel_shuffle


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r): move channel blocks into spatial positions."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    k = len(lead)
    x = input.reshape((*lead, c // (r * r), r, r, h, w))
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape((*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W): the inverse of pixel_shuffle."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but "
                           f"input.size(-2)={h} and input.size(-1)={w} are not divisible by {r}")
    k = len(lead)
    x = input.reshape((*lead, c, h // r, r, w // r, r))
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape((*lead, c * r * r, h // r, w // r))


# ----------------------------------------------------------------------------- affine_grid, grid_sample
def _base_coords(n: int, align_corners: bool, dtype):
    """The n normalized pixel positions along one dim: centers (or corners with align_corners) in [-1, 1].

    Computed as torch does, in theta's dtype (its linspace, then * (n - 1) / n): a position one ulp off an
    exact pixel centre would send grid_sample's gradient to the neighbouring cell."""
    if n <= 1:
        return xp.zeros(max(n, 0), dtype=dtype)
    from ..._factories import linspace
    c = linspace(-1.0, 1.0, n, dtype=_dtype.from_np(dtype))._data
    return c if align_corners else c * (n - 1) / n


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The (N, H, W, 2) (or (N, D, H, W, 3)) sampling grid of the affine maps ``theta`` for grid_sample."""
    align_corners = bool(align_corners)
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got "
                             f"{theta.shape}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got "
                             f"{theta.shape}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                      "of affine_grid for details.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    n = size[0]
    if theta.shape[0] != n:
        raise RuntimeError(f"affine_grid: expected theta with batch size {n} (size[0]), but got theta with sizes "
                           f"{list(theta.shape)}")
    # the homogeneous coordinates (x, y[, z], 1) of every output pixel, x varying fastest
    axes = [_base_coords(s, align_corners, theta._data.dtype) for s in reversed(spatial)]
    mesh = xp.meshgrid(*axes[::-1], indexing="ij")[::-1]
    base = xp.stack([*mesh, xp.ones(tuple(spatial))], axis=-1).reshape(-1, len(spatial) + 1)
    base = Tensor._make(xp.ascontiguousarray(base.astype(theta._data.dtype)))
    grid = base @ theta.transpose(1, 2)
    return grid.reshape((n, *spatial, len(spatial)))
