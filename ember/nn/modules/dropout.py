"""Dropout layers: random zeroing during training, the identity in eval mode."""
from __future__ import annotations

from ..._tensor import Tensor
from .._functional import basic as F
from .module import Module


class _DropoutNd(Module):
    """Shared settings of the dropout layers."""

    _fn = None

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` in training and scale the others by ``1/(1-p)``.

    Args:
        p: probability of an element being zeroed. Default: 0.5.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.

    Example::

        >>> m = nn.Dropout(p=0.2)
        >>> m.eval()(ember.ones(3)).tolist()
        [1.0, 1.0, 1.0]
    """

    _fn = staticmethod(F.dropout)


class Dropout1d(_DropoutNd):
    """Zero whole channels of ``(N, C, L)`` or ``(C, L)`` inputs with probability ``p``.

    Args:
        p: probability of a channel being zeroed. Default: 0.5.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(N, C, L)`` or ``(C, L)``; Output: same shape.
    """

    _fn = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels of ``(N, C, H, W)`` inputs with probability ``p``.

    Args:
        p: probability of a channel being zeroed. Default: 0.5.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(N, C, H, W)``; Output: same shape.
    """

    _fn = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` inputs with probability ``p``.

    Args:
        p: probability of a channel being zeroed. Default: 0.5.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(N, C, D, H, W)``; Output: same shape.
    """

    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: keeps zero mean and unit variance.

    Args:
        p: probability of an element being dropped. Default: 0.5.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels: each (N, C) feature map is kept or set to SELU's saturation together.

    Args:
        p: probability of a channel being dropped. Default: 0.5.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(N, C, *)``; Output: same shape.
    """

    _fn = staticmethod(F.feature_alpha_dropout)
