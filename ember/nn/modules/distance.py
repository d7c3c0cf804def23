"""CosineSimilarity and PairwiseDistance."""
from __future__ import annotations

from ..._tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim``: ``x1 . x2 / max(|x1| |x2|, eps)``.

    Args:
        dim: the dim the vectors lie along. Default: 1.
        eps: the smallest norm used, against division by zero. Default: 1e-8.

    Shape:
        - Input1, Input2: ``(*1, D, *2)``, broadcastable; Output: ``(*1, *2)``.

    Example::

        >>> nn.CosineSimilarity(dim=0)(ember.tensor([3.0, 4.0]), ember.tensor([3.0, 4.0])).item()
        1.0
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The p-norm distance ``||x1 - x2 + eps||_p`` over the last dim.

    Args:
        p: the norm degree. Default: 2.
        eps: added to the difference, against a zero norm's gradient. Default: 1e-6.
        keepdim: keep the reduced dim. Default: False.

    Shape:
        - Input1, Input2: ``(N, D)`` or ``(D)``; Output: ``(N)`` or ``()`` (with a trailing 1 under keepdim).
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
