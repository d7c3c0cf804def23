"""Fractional max pooling (Graham, 2014): windows of a fixed size whose start positions step by a
pseudo-random mix of floor(alpha) and ceil(alpha), alpha = (in - k) / (out - 1), so that the output may
be any size between in - k + 1 and a fraction of it.

The starts follow torch's kernel exactly, in the input's dtype (``int((i + u) * alpha) - int(u * alpha)``,
the last window flush with the end), from one uniform sample ``u`` per (batch, channel, spatial dim):
``_random_samples`` when given (torch's test databases pass them), else fresh draws from ember's generator.
The maxima are gathered with max pooling's gather op, so the gradient is its scatter-add and double
backward a gather again.
"""
from __future__ import annotations

import math

from ..._backend import xp
from ..._tensor import Tensor
from ... import random as _random
from .pooling import SpatialGather, _batched, _tuple

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices"]


def _starts(u, size: int, out: int, k: int):
    """Window starts (..., out) along one dim for samples u (...), as torch's generate_intervals."""
    starts = xp.full((*u.shape, out), size - k, dtype=xp.int64)
    if out > 1:
        alpha = u.dtype.type(size - k) / u.dtype.type(out - 1)
        i = xp.arange(out - 1).astype(u.dtype)
        starts[..., :-1] = ((i + u[..., None]) * alpha).astype(xp.int64) - (u * alpha).astype(xp.int64)[..., None]
    return starts


def _argmax_positions(x, samples, k: tuple, out: tuple):
    """Flat input positions (N, C, *out) of each window's maximum: the first maximum, or the last NaN."""
    n, c, *size = x.shape
    dims = len(k)
    flat = xp.zeros((n, c) + (1,) * (2 * dims), dtype=xp.int64)
    for d in range(dims):
        # torch's sample order: width first for 2-D, depth first for 3-D
        u = samples[:, :, dims - 1 - d] if dims == 2 else samples[:, :, d]
        pos = _starts(u, size[d], out[d], k[d])[..., None] + xp.arange(k[d])  # (N, C, out_d, k_d)
        shape = [n, c] + [1] * (2 * dims)
        shape[2 + d], shape[2 + dims + d] = out[d], k[d]
        flat = flat * size[d] + pos.reshape(shape)
    windows = flat.reshape(n, c, *out, math.prod(k))
    # explicit sizes, never -1: an empty batch leaves -1 undetermined
    vals = xp.take_along_axis(x.reshape(n, c, math.prod(size)), windows.reshape(n, c, math.prod(out) * math.prod(k)),
                              axis=2).reshape(windows.shape)
    nan = xp.isnan(vals)
    last_nan = nan.shape[-1] - 1 - xp.argmax(nan[..., ::-1], axis=-1)
    best = xp.where(nan.any(-1), last_nan, xp.argmax(xp.where(nan, -xp.inf, vals), axis=-1))
    return xp.take_along_axis(windows, best[..., None], axis=-1)[..., 0]


def _fractional_max_pool(op: str, dims: int, input: Tensor, kernel_size, output_size, output_ratio,
                         return_indices: bool, samples):
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    if input.ndim not in (dims + 1, dims + 2) or any(s == 0 for s in input.shape[-dims - 1:]):
        raise RuntimeError(f"{op}(): Expected {dims + 1}D or {dims + 2}D tensor, but got: {list(input.shape)}")
    if not input.is_floating_point():
        raise RuntimeError(f'"{op}" not implemented for \'{input.dtype}\'')
    k = _tuple(kernel_size, dims, "kernel_size", op)
    if output_size is None:
        ratio = (output_ratio,) * dims if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
        if len(ratio) != dims:
            raise ValueError(f"{op} requires output_ratio to either be a single Int or tuple of Ints.")
        output_size = [int(input.shape[-dims + d] * ratio[d]) for d in range(dims)]
    out = _tuple(output_size, dims, "output_size", op)
    x, unbatch = _batched(input, dims)
    n, c, *size = x.shape
    for d, name in zip(range(dims), ("time", "height", "width")[3 - dims:]):
        if out[d] + k[d] - 1 > size[d]:
            raise RuntimeError(f"{op}(): pool {name} {k[d]} too large relative to input {name} {size[d]}")
    if samples is None:
        samples = _random.rand(n, c, dims, dtype=input.dtype)
    if samples.dtype != input.dtype:
        raise RuntimeError(f"{op}: Expect _random_samples to have the same dtype as input ({input.dtype}), got "
                           f"{samples.dtype}")
    # torch reads the first N rows of a larger sample tensor (an unbatched input: the first)
    if samples.ndim != 3 or samples.shape[0] < n or tuple(samples.shape[1:]) != (c, dims):
        raise RuntimeError(f"{op}: Expect _random_samples of shape (at least {n}, {c}, {dims}) for input of size "
                           f"{list(input.shape)}, got {list(samples.shape)}")
    idx = Tensor._make(_argmax_positions(x._data, samples._data[:n], k, out))
    values = unbatch(SpatialGather.apply(x, idx))
    return (values, unbatch(idx)) if return_indices else values


def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """Fractional max pooling over (N, C, H, W) to ``output_size`` or ``output_ratio`` of the input size."""
    return _fractional_max_pool("fractional_max_pool2d", 2, input, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples)


def fractional_max_pool3d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """Fractional max pooling over (N, C, D, H, W) to ``output_size`` or ``output_ratio`` of the input size."""
    return _fractional_max_pool("fractional_max_pool3d", 3, input, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                                       return_indices: bool = True, _random_samples: Tensor | None = None):
    """fractional_max_pool2d returning (values, indices)."""
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                                       return_indices: bool = True, _random_samples: Tensor | None = None):
    """fractional_max_pool3d returning (values, indices)."""
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True, _random_samples)
