"""FractionalMaxPool2d and FractionalMaxPool3d: max pooling to any output size with pseudo-random window steps."""
from __future__ import annotations

from ..._tensor import Tensor
from .._functional import fractional as F
from .._functional.pooling import _tuple
from .module import Module

__all__ = ["FractionalMaxPool2d", "FractionalMaxPool3d"]


class _FractionalMaxPoolNd(Module):
    _dims = 0
    _fn = None

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices: bool = False,
                 _random_samples: Tensor | None = None) -> None:
        super().__init__()
        name, dims = type(self).__name__, type(self)._dims
        self.kernel_size = _tuple(kernel_size, dims, "kernel_size", name)
        self.return_indices = return_indices
        # a buffer, as in torch: it follows .to() and is saved in the state dict
        self.register_buffer("_random_samples", _random_samples)
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError(f"{name}: only one of output_size and output_ratio may be specified")
        self.output_size = None if output_size is None else _tuple(output_size, dims, "output_size", name)
        self.output_ratio = None
        if output_ratio is not None:
            ratio = (output_ratio,) * dims if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
            if len(ratio) != dims or not all(0 < r < 1 for r in ratio):
                raise ValueError(f"{name}: output_ratio must be between 0 and 1 (got {output_ratio})")
            self.output_ratio = ratio

    def forward(self, input: Tensor):
        return type(self)._fn(input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                              _random_samples=self._random_samples)

    def extra_repr(self) -> str:
        size = f"output_size={self.output_size}" if self.output_size else f"output_ratio={self.output_ratio}"
        return f"kernel_size={self.kernel_size}, {size}"


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Fractional max pooling over (N, C, H, W): ``kernel_size`` windows whose starts step pseudo-randomly.

    Args:
        kernel_size: an int or a pair. output_size: the output's (H, W), or output_ratio: its fraction (0, 1)
            of the input's. return_indices: also return the flat argmax positions in H*W.

    Shape:
        - Input: ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)``; Output: ``(N, C, H_out, W_out)``

    Example::

        >>> nn.FractionalMaxPool2d(3, output_ratio=(0.5, 0.5))(ember.randn(20, 16, 50, 32)).shape
        ember.Size([20, 16, 25, 16])
    """

    _dims = 2
    _fn = staticmethod(F.fractional_max_pool2d)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Fractional max pooling over (N, C, D, H, W): ``kernel_size`` windows whose starts step pseudo-randomly.

    Args:
        kernel_size: an int or a triple. output_size: the output's (D, H, W), or output_ratio: its fraction
            (0, 1) of the input's. return_indices: also return the flat argmax positions in D*H*W.

    Shape:
        - Input: ``(N, C, D_in, H_in, W_in)`` or ``(C, D_in, H_in, W_in)``; Output: ``(N, C, D_out, H_out, W_out)``

    Example::

        >>> nn.FractionalMaxPool3d(3, output_size=(13, 12, 11))(ember.randn(2, 4, 50, 32, 16)).shape
        ember.Size([2, 4, 13, 12, 11])
    """

    _dims = 3
    _fn = staticmethod(F.fractional_max_pool3d)
