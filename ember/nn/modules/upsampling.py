"""Upsample (and its fixed-mode UpsamplingNearest2d, UpsamplingBilinear2d), PixelShuffle and PixelUnshuffle."""
from __future__ import annotations

from ..._tensor import Tensor
from .._functional import vision as F
from .module import Module


class Upsample(Module):
    """Resize (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor``.

    Args:
        size: the output spatial size. scale_factor: multiplier of the spatial size (one of the two).
        mode: 'nearest' (default), 'nearest-exact', 'linear' or 'bilinear'.
        align_corners: for linear modes, map corner pixels' centres onto each other.
        recompute_scale_factor: compute the coordinate scale from the output size.

    Shape:
        - Input: ``(N, C, *in)``; Output: ``(N, C, *out)``

    Example::

        >>> nn.Upsample(scale_factor=2, mode="bilinear")(ember.randn(1, 1, 2, 2)).shape
        ember.Size([1, 1, 4, 4])
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class PixelShuffle(Module):
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r), for sub-pixel convolution.

    Example::

        >>> nn.PixelShuffle(3)(ember.randn(1, 9, 4, 4)).shape
        ember.Size([1, 1, 12, 12])
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W), the inverse of PixelShuffle.

    Example::

        >>> nn.PixelUnshuffle(3)(ember.randn(1, 1, 12, 12)).shape
        ember.Size([1, 9, 4, 4])
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W) to ``size`` or by ``scale_factor``.

    Args:
        size: the output size (int or pair). scale_factor: multiplier of the size (one of the two).

    Shape:
        - Input: ``(N, C, H, W)``; Output: ``(N, C, H_out, W_out)``.
    """

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of (N, C, H, W) with ``align_corners=True``.

    Args:
        size: the output size (int or pair). scale_factor: multiplier of the size (one of the two).

    Shape:
        - Input: ``(N, C, H, W)``; Output: ``(N, C, H_out, W_out)``.
    """

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
