"""InstanceNorm1d/2d/3d: per-sample, per-channel normalization over the spatial dims."""
from __future__ import annotations

import warnings

from ..._tensor import Tensor
from .._functional import normalization as F
from .normalization import _NormBase

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]


class _InstanceNorm(_NormBase):
    """Batch norm's parameters and buffers (as torch's, not a ``_BatchNorm``: code that picks out batch norm layers
    by class must not take these), with statistics taken per sample instead of per batch."""

    _unbatched = 0  # the input's dim count without a batch dim

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (self._unbatched, self._unbatched + 1):
            raise ValueError(f"expected {self._unbatched}D or {self._unbatched + 1}D input (got {input.dim()}D "
                             f"input)")
        cdim = input.dim() - self._unbatched
        if input.shape[cdim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={cdim} to match num_features ({self.num_features}), "
                                 f"but got: {input.shape[cdim]}.")
            warnings.warn(f"input's size at dim={cdim} does not match num_features. You can silence this warning by "
                          f"not passing in num_features, which is not used because affine=False")
        unbatched = input.dim() == self._unbatched
        x = input.unsqueeze(0) if unbatched else input
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              0.0 if self.momentum is None else self.momentum, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L): each sample's channel normalized over L.

    Args:
        num_features: C. eps: added to the variance. Default: 1e-5.
        momentum: running-statistics update factor. Default: 0.1.
        affine: learn a per-channel weight and bias. Default: False.
        track_running_stats: keep running_mean/running_var and use them in evaluation. Default: False.

    Shape:
        - Input: ``(N, C, L)`` or ``(C, L)``; Output: same shape.

    Example::

        >>> nn.InstanceNorm1d(3)(ember.randn(2, 3, 5)).shape
        ember.Size([2, 3, 5])
    """

    _unbatched = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W): each sample's channel normalized over H and W.

    Args:
        num_features: C. eps: added to the variance. Default: 1e-5.
        momentum: running-statistics update factor. Default: 0.1.
        affine: learn a per-channel weight and bias. Default: False.
        track_running_stats: keep running_mean/running_var and use them in evaluation. Default: False.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``; Output: same shape.
    """

    _unbatched = 3


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W): each sample's channel normalized over D, H and W.

    Args:
        num_features: C. eps: added to the variance. Default: 1e-5.
        momentum: running-statistics update factor. Default: 0.1.
        affine: learn a per-channel weight and bias. Default: False.
        track_running_stats: keep running_mean/running_var and use them in evaluation. Default: False.

    Shape:
        - Input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``; Output: same shape.
    """

    _unbatched = 4
