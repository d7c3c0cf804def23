"""aten's normalization entry points, which return the statistics beside the result: ``native_layer_norm``,
``native_group_norm``, ``native_batch_norm``, ``_native_batch_norm_legit`` and ``_batch_norm_with_update``.

Built on the layers in normalization.py (the same fused standardization). As in torch, the statistics of
layer and batch norm carry no gradient; group norm's mean and rstd do (torch differentiates through them),
so they are recomputed with ordinary ops.
"""
from __future__ import annotations

from ..._backend import xp
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad
from .normalization import (Standardize, _affine, _check_affine, _check_float, _normalized_dims, _update,
                            batch_norm, group_norm)

__all__ = ["native_layer_norm", "native_group_norm", "native_batch_norm", "_native_batch_norm_legit",
           "_batch_norm_with_update"]


def native_layer_norm(input: Tensor, normalized_shape, weight: Tensor | None, bias: Tensor | None,
                      eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """layer_norm returning (output, mean, rstd), the statistics shaped ``input.shape[:axis] + (1,) * k``."""
    _check_float("native_layer_norm", input)
    if len(tuple(normalized_shape)) == 0:
        raise RuntimeError("native_layer_norm: Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    shape, dims = _normalized_dims("native_layer_norm", input, normalized_shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"native_layer_norm: Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t.shape)} and normalized_shape = {list(shape)}")
    xhat, mean, _, rstd = Standardize.apply(input, dims, float(eps), True)
    return _affine(xhat, weight, bias, shape), mean, rstd


def native_group_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, N: int, C: int, HxW: int,
                      group: int, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """group_norm returning (output, mean, rstd), the statistics shaped (N, group) and differentiable."""
    _check_float("native_group_norm", input)
    if input.numel() != N * C * HxW:
        raise RuntimeError(f"native_group_norm: Expected input of {N} * {C} * {HxW} elements, but got input of "
                           f"size {list(input.shape)}")
    _check_affine("native_group_norm", (C,), weight, bias)
    out = group_norm(input, group, weight, bias, eps)
    grouped = input.reshape(N, group, -1)
    mean = grouped.mean(-1)
    centered = grouped - mean.unsqueeze(-1)
    rstd = ((centered * centered).mean(-1) + eps).rsqrt()
    return out, mean, rstd


def native_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                      running_var: Tensor | None, training: bool, momentum: float,
                      eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """batch_norm returning (output, save_mean, save_invstd): the batch's per-channel mean and 1/std in training
    (running statistics updated in place), empty tensors in evaluation."""
    _check_float("native_batch_norm", input)
    if not training:
        out = batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
        empty = Tensor._make(xp.zeros((0,), dtype=input._data.dtype))
        return out, empty, Tensor._make(empty._data.copy())
    if input.ndim < 2:
        raise ValueError(f"native_batch_norm: Expected 2D or higher input (got {input.ndim}D input)")
    c = input.shape[1]
    n = input.numel() // max(c, 1)
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"native_batch_norm: expected {name} to have {c} elements, but got {name} of size "
                               f"{list(t.shape)} for input of size {list(input.shape)}")
    xhat, mean, var, rstd = Standardize.apply(input, (0, *range(2, input.ndim)), float(eps), True)
    with no_grad():
        _update(running_mean, mean, momentum)
        _update(running_var, var * (n / max(n - 1, 1)), momentum)
    out = _affine(xhat, weight, bias, (1, c) + (1,) * (input.ndim - 2))
    return out, mean.reshape(c), rstd.reshape(c)


def _native_batch_norm_legit(input: Tensor, weight: Tensor | None, bias: Tensor | None, *args) -> tuple:
    """native_batch_norm, called as ``(input, weight, bias, running_mean, running_var, training, momentum, eps)``
    or, without running statistics, ``(input, weight, bias, training, momentum, eps)``."""
    if len(args) == 3:
        args = (None, None, *args)
    return native_batch_norm(input, weight, bias, *args)


def _batch_norm_with_update(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor,
                            running_var: Tensor, momentum: float, eps: float) -> tuple:
    """Training batch norm updating the running statistics: (output, save_mean, save_invstd, reserve), the
    reserve an empty uint8 tensor (cuDNN's workspace in torch)."""
    out = native_batch_norm(input, weight, bias, running_mean, running_var, True, momentum, eps)
    return (*out, Tensor._make(xp.zeros((0,), dtype=xp.uint8)))
