"""Padding layers: zero, constant, reflection, replication and circular, in 1-D, 2-D and 3-D, all over F.pad."""
from __future__ import annotations

from ..._tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d",
           "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d", "CircularPad2d", "ZeroPad3d", "ConstantPad3d",
           "ReflectionPad3d", "ReplicationPad3d", "CircularPad3d"]


class _PadNd(Module):
    """Pads the last ``_dims`` dims by ``padding`` (an int for every side, or (left, right[, top, bottom]))."""

    _mode = "constant"
    _dims = 1

    def __init__(self, padding, value: float = 0.0) -> None:
        super().__init__()
        if isinstance(padding, int):
            padding = (padding,) * (2 * self._dims)
        padding = tuple(padding)
        if len(padding) != 2 * self._dims:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of {2 * self._dims} ints, "
                             f"got {padding}")
        self.padding = padding
        if self._mode == "constant":
            self.value = value

    def forward(self, input: Tensor) -> Tensor:
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        if self._mode == "circular" and input.dim() not in (self._dims + 1, self._dims + 2):
            raise ValueError(f"expected {self._dims + 1}D or {self._dims + 2}D input (got {input.dim()}D input)")
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPad(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding, value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPad):
    """Pad the last dim with ``value``.

    Args:
        padding: an int for both sides, or ``(left, right)``; negative amounts crop.
        value: the fill value.

    Shape:
        - Input: ``(C, W)`` or ``(N, C, W)``; Output: ``W + left + right`` wide.

    Example::

        >>> nn.ConstantPad1d(1, 3.5)(ember.zeros(1, 2)).tolist()
        [[3.5, 0.0, 0.0, 3.5]]
    """


class ConstantPad2d(_ConstantPad):
    """Pad the last two dims with ``value``.

    Args:
        padding: an int for all sides, or ``(left, right, top, bottom)``; negative amounts crop.
        value: the fill value.

    Shape:
        - Input: ``(C, H, W)`` or ``(N, C, H, W)``; Output: ``(..., H + top + bottom, W + left + right)``.
    """

    _dims = 2


class ZeroPad1d(_PadNd):
    """Pad the last dim with zeros.

    Args:
        padding: an int for both sides, or ``(left, right)``; negative amounts crop.

    Shape:
        - Input: ``(C, W)`` or ``(N, C, W)``; Output: ``W + left + right`` wide.
    """

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)


class ZeroPad2d(ZeroPad1d):
    """Pad the last two dims with zeros.

    Args:
        padding: an int for all sides, or ``(left, right, top, bottom)``; negative amounts crop.

    Shape:
        - Input: ``(C, H, W)`` or ``(N, C, H, W)``; Output: ``(..., H + top + bottom, W + left + right)``.

    Example::

        >>> nn.ZeroPad2d((1, 1, 0, 0))(ember.ones(1, 1, 1)).tolist()
        [[[0.0, 1.0, 0.0]]]
    """

    _dims = 2


class ReflectionPad1d(_PadNd):
    """Pad the last dim with the reflection of the input (the edge itself not repeated).

    Args:
        padding: an int for both sides, or ``(left, right)``, each smaller than the input's width.

    Shape:
        - Input: ``(C, W)`` or ``(N, C, W)``; Output: ``W + left + right`` wide.
    """

    _mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    """Pad the last two dims with the reflection of the input.

    Args:
        padding: an int for all sides, or ``(left, right, top, bottom)``.

    Shape:
        - Input: ``(C, H, W)`` or ``(N, C, H, W)``; Output: ``(..., H + top + bottom, W + left + right)``.
    """

    _dims = 2


class ReplicationPad1d(_PadNd):
    """Pad the last dim by repeating the edge values.

    Args:
        padding: an int for both sides, or ``(left, right)``.

    Shape:
        - Input: ``(C, W)`` or ``(N, C, W)``; Output: ``W + left + right`` wide.
    """

    _mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    """Pad the last two dims by repeating the edge values.

    Args:
        padding: an int for all sides, or ``(left, right, top, bottom)``.

    Shape:
        - Input: ``(C, H, W)`` or ``(N, C, H, W)``; Output: ``(..., H + top + bottom, W + left + right)``.
    """

    _dims = 2


class CircularPad1d(_PadNd):
    """Pad the last dim by wrapping around (the input treated as periodic).

    Args:
        padding: an int for both sides, or ``(left, right)``.

    Shape:
        - Input: ``(C, W)`` or ``(N, C, W)``; Output: ``W + left + right`` wide.
    """

    _mode = "circular"


class CircularPad2d(CircularPad1d):
    """Pad the last two dims by wrapping around.

    Args:
        padding: an int for all sides, or ``(left, right, top, bottom)``.

    Shape:
        - Input: ``(C, H, W)`` or ``(N, C, H, W)``; Output: ``(..., H + top + bottom, W + left + right)``.
    """

    _dims = 2


class ConstantPad3d(_ConstantPad):
    """Pad with ``value`` the last three dims; padding: an int or (left, right, top, bottom, front, back)."""

    _dims = 3


class ZeroPad3d(ZeroPad1d):
    """Pad with zeros the last three dims; padding: an int or (left, right, top, bottom, front, back)."""

    _dims = 3


class ReflectionPad3d(ReflectionPad1d):
    """Pad the last three dims with their reflection; padding: an int or (left, right, top, bottom, front, back)."""

    _dims = 3


class ReplicationPad3d(ReplicationPad1d):
    """Pad the last three dims with their edge values; padding: an int or (left, right, top, bottom, front, back)."""

    _dims = 3


class CircularPad3d(CircularPad1d):
    """Pad by wrapping around the last three dims; padding: an int or (left, right, top, bottom, front, back)."""

    _dims = 3
