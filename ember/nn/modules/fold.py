"""Unfold (im2col) and Fold (col2im)."""
from __future__ import annotations

from ..._tensor import Tensor
from .._functional import fold as F
from .module import Module

__all__ = ["Unfold", "Fold"]


class Unfold(Module):
    """Extract sliding local blocks of a batched image as columns.

    Args:
        kernel_size: the block size (int or pair).
        dilation: spacing between a block's elements. Default: 1.
        padding: implicit zero padding on both sides. Default: 0.
        stride: step between blocks. Default: 1.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``; Output: ``(N, C * prod(kernel_size), L)``, L the number
          of blocks.

    Example::

        >>> nn.Unfold(kernel_size=(2, 3))(ember.randn(2, 5, 3, 4)).shape
        ember.Size([2, 30, 4])
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Combine columns of sliding blocks into an image, summing where blocks overlap (Unfold's adjoint).

    Args:
        output_size: the image's spatial size (int or pair).
        kernel_size, dilation, padding, stride: as for Unfold.

    Shape:
        - Input: ``(N, C * prod(kernel_size), L)`` or unbatched; Output: ``(N, C, *output_size)``.

    Example::

        >>> nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(ember.randn(1, 12, 12)).shape
        ember.Size([1, 3, 4, 5])
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
