"""Resampling: interpolate (nearest, linear, bilinear) and pixel (un)shuffle.

Nearest and (bi)linear resizing are separable linear maps: one small (out, in) matrix per spatial
dim, applied by matrix products (the Separable op, whose gradient is the transposed map).
"""
from __future__ import annotations

import math
import numbers
import warnings

from ..._backend import xp

from ..._tensor import Tensor
from .pooling import Separable

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle", "native_channel_shuffle"]

_LINEAR = {"linear": 3, "bilinear": 4}


def _resize_matrix(size: int, out: int, mode: str, align_corners: bool, scale: float | None, dtype):
    """The (out, size) matrix that resamples one dim; ``scale`` is the user's scale factor, if any."""
    dst = xp.arange(out, dtype=xp.float64)
    # torch maps output to input coordinates with 1/scale_factor when one was given, else size/out
    ratio = 1.0 / scale if scale else size / out
    m = xp.zeros((out, size), dtype=xp.float64)
    rows = xp.arange(out)
    if mode in ("nearest", "nearest-exact"):
        src = xp.floor((dst + (0.5 if mode == "nearest-exact" else 0.0)) * ratio).astype(xp.int64)
        m[rows, xp.minimum(src, size - 1)] = 1.0
        return m.astype(dtype)
    if align_corners:
        src = dst * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        src = xp.maximum((dst + 0.5) * ratio - 0.5, 0.0)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), size - 1)
    i1 = xp.minimum(i0 + 1, size - 1)
    frac = src - i0
    xp.add.at(m, (rows, i0), 1.0 - frac)
    xp.add.at(m, (rows, i1), frac)
    return m.astype(dtype)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resize (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor`` ('nearest', 'nearest-exact',
    'linear', 'bilinear')."""
    if mode not in ("nearest", "nearest-exact", "linear", "bilinear"):
        raise NotImplementedError(f"interpolate: mode '{mode}' is not supported (nearest | nearest-exact | linear | "
                                  f"bilinear)")
    if align_corners is not None and mode not in _LINEAR:
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                         "bicubic | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias is not supported")
    dims = input.ndim - 2
    if dims not in (1, 2):
        raise NotImplementedError(f"Input Error: Only 3D and 4D input Tensors supported (got {input.ndim}D) for "
                                  f"the modes: nearest | nearest-exact | linear | bilinear (got {mode})")
    if mode in _LINEAR and input.ndim != _LINEAR[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {_LINEAR[mode]}D input")
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
        if recompute_scale_factor:
            scales = (None,) * dims
    if any(o <= 0 for o in out):
        raise RuntimeError(f"interpolate: output size {list(out)} must be greater than 0")
    dt = input._data.dtype
    if dt.kind != "f":
        raise RuntimeError(f"interpolate: expected a floating point input, got {input.dtype}")
    ac = bool(align_corners)
    mats = [_resize_matrix(n, o, mode, ac, s, dt) for n, o, s in zip(in_sizes, out, scales)]
    return Separable.apply(input, mats[0] if dims == 2 else None, mats[-1])


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
