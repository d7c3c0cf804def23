"""ChannelShuffle: regroup channels, as between ShuffleNet's grouped convolutions."""
from __future__ import annotations

from ..._tensor import Tensor
from .._functional import vision as F
from .module import Module

__all__ = ["ChannelShuffle"]


class ChannelShuffle(Module):
    """Split the C channels into ``groups`` groups and interleave them.

    Args:
        groups: the number of groups; must divide C.

    Shape:
        - Input: ``(N, C, *)``; Output: same shape.

    Example::

        >>> nn.ChannelShuffle(2)(ember.arange(4.0).reshape(1, 4, 1)).flatten().tolist()
        [0.0, 2.0, 1.0, 3.0]
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
