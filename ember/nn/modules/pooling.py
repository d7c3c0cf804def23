"""Pooling layers: MaxPool1d/2d/3d, AvgPool1d/2d/3d, the adaptive ones, MaxUnpool1d/2d and LPPool1d/2d."""
from __future__ import annotations

from ..._tensor import Tensor
from .._functional import pooling as F
from .._functional import volumetric as V
from .module import Module


class _MaxPoolNd(Module):
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor):
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                              self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over (N, C, L).

    Args:
        kernel_size, stride (default kernel_size), padding, dilation: ints.
        return_indices: also return the argmax positions (for MaxUnpool). ceil_mode: round the output size up.

    Shape:
        - Input: ``(N, C, L_in)``; Output: ``(N, C, L_out)``

    Example::

        >>> nn.MaxPool1d(3, stride=2)(ember.randn(20, 16, 50)).shape
        ember.Size([20, 16, 24])
    """

    _fn = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling over (N, C, H, W).

    Args:
        kernel_size, stride (default kernel_size), padding, dilation: an int or a pair.
        return_indices: also return the flat argmax positions. ceil_mode: round the output size up.

    Shape:
        - Input: ``(N, C, H_in, W_in)``; Output: ``(N, C, H_out, W_out)``

    Example::

        >>> nn.MaxPool2d(2)(ember.randn(2, 3, 28, 28)).shape
        ember.Size([2, 3, 14, 14])
    """

    _fn = staticmethod(F.max_pool2d)


class AvgPool1d(Module):
    """1-D average pooling over (N, C, L).

    Args:
        kernel_size, stride (default kernel_size), padding: ints.
        ceil_mode: round the output size up. count_include_pad: count padded zeros in the average.

    Shape:
        - Input: ``(N, C, L_in)``; Output: ``(N, C, L_out)``

    Example::

        >>> nn.AvgPool1d(3, stride=2)(ember.randn(1, 1, 7)).shape
        ember.Size([1, 1, 3])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = F._tuple(kernel_size, 1, "kernel_size", "AvgPool1d")
        self.stride = F._tuple(stride if stride is not None else kernel_size, 1, "stride", "AvgPool1d")
        self.padding = F._tuple(padding, 1, "padding", "AvgPool1d")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """2-D average pooling over (N, C, H, W).

    Args:
        kernel_size, stride (default kernel_size), padding: an int or a pair.
        ceil_mode: round the output size up. count_include_pad: count padded zeros in the average.
        divisor_override: divide every window sum by this instead.

    Shape:
        - Input: ``(N, C, H_in, W_in)``; Output: ``(N, C, H_out, W_out)``

    Example::

        >>> nn.AvgPool2d(2)(ember.randn(2, 3, 8, 8)).shape
        ember.Size([2, 3, 4, 4])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _Adaptive(Module):
    _fn = None

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor):
        return type(self)._fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_Adaptive):
    """Average pooling of (N, C, L) to a fixed length ``output_size``.

    Example::

        >>> nn.AdaptiveAvgPool1d(5)(ember.randn(1, 64, 8)).shape
        ember.Size([1, 64, 5])
    """

    _fn = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_Adaptive):
    """Average pooling of (N, C, H, W) to a fixed ``output_size`` (an int, a pair, None keeps a size).

    Example::

        >>> nn.AdaptiveAvgPool2d((5, 7))(ember.randn(1, 64, 8, 9)).shape
        ember.Size([1, 64, 5, 7])
    """

    _fn = staticmethod(F.adaptive_avg_pool2d)


class _AdaptiveMax(_Adaptive):
    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return type(self)._fn(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMax):
    """Max pooling of (N, C, L) to a fixed length; with return_indices also the argmax positions.

    Example::

        >>> nn.AdaptiveMaxPool1d(5)(ember.randn(1, 64, 8)).shape
        ember.Size([1, 64, 5])
    """

    _fn = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMax):
    """Max pooling of (N, C, H, W) to a fixed ``output_size``; with return_indices also the argmax positions.

    Example::

        >>> nn.AdaptiveMaxPool2d(1)(ember.randn(2, 64, 8, 9)).shape
        ember.Size([2, 64, 1, 1])
    """

    _fn = staticmethod(F.adaptive_max_pool2d)


class _MaxUnpoolNd(Module):
    _fn = None
    _dims = 0

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        name, dims = type(self).__name__, type(self)._dims
        self.kernel_size = F._tuple(kernel_size, dims, "kernel_size", name)
        self.stride = F._tuple(stride if stride is not None else kernel_size, dims, "stride", name)
        self.padding = F._tuple(padding, dims, "padding", name)

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return type(self)._fn(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The partial inverse of MaxPool1d: values put back at their argmax positions, zeros elsewhere.

    Args:
        kernel_size, stride (default kernel_size), padding: those of the MaxPool1d being inverted.

    Shape:
        - Input and indices: ``(N, C, L_in)``; Output: ``(N, C, L_out)`` with
          ``L_out = (L_in - 1) * stride - 2 * padding + kernel_size``, or ``output_size`` given to forward.

    Example::

        >>> out, idx = nn.MaxPool1d(2, return_indices=True)(ember.randn(1, 1, 8))
        >>> nn.MaxUnpool1d(2)(out, idx).shape
        ember.Size([1, 1, 8])
    """

    _fn = staticmethod(F.max_unpool1d)
    _dims = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """The partial inverse of MaxPool2d: values put back at their flat argmax positions, zeros elsewhere.

    Args:
        kernel_size, stride (default kernel_size), padding: those of the MaxPool2d being inverted.

    Shape:
        - Input and indices: ``(N, C, H_in, W_in)``; Output: ``(N, C, H_out, W_out)`` with
          ``H_out = (H_in - 1) * stride - 2 * padding + kernel_size`` (likewise W), or ``output_size``.

    Example::

        >>> out, idx = nn.MaxPool2d(2, return_indices=True)(ember.randn(1, 1, 5, 5))
        >>> nn.MaxUnpool2d(2)(out, idx, output_size=(5, 5)).shape
        ember.Size([1, 1, 5, 5])
    """

    _fn = staticmethod(F.max_unpool2d)
    _dims = 2


class _LPPoolNd(Module):
    _fn = None

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling over (N, C, L): ``(sum of x**p over each window) ** (1/p)``.

    Args:
        norm_type: the power p (inf gives max pooling of abs(x)). kernel_size, stride (default kernel_size): ints.
        ceil_mode: round the output size up.

    Shape:
        - Input: ``(N, C, L_in)``; Output: ``(N, C, L_out)``

    Example::

        >>> nn.LPPool1d(2, 3, stride=2)(ember.randn(20, 16, 50)).shape
        ember.Size([20, 16, 24])
    """

    _fn = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """Power-average pooling over (N, C, H, W): ``(sum of x**p over each window) ** (1/p)``.

    Args:
        norm_type: the power p (inf gives max pooling of abs(x)). kernel_size, stride (default kernel_size): an
        int or a pair. ceil_mode: round the output size up.

    Shape:
        - Input: ``(N, C, H_in, W_in)``; Output: ``(N, C, H_out, W_out)``

    Example::

        >>> nn.LPPool2d(1.5, (3, 2), stride=(2, 1))(ember.randn(20, 16, 50, 32)).shape
        ember.Size([20, 16, 24, 31])
    """

    _fn = staticmethod(F.lp_pool2d)


# ----------------------------------------------------------------------------- volumetric
class MaxPool3d(_MaxPoolNd):
    """3-D max pooling over (N, C, D, H, W).

    Args:
        kernel_size, stride (default kernel_size), padding, dilation: an int or a triple.
        return_indices: also return the flat argmax positions in D*H*W. ceil_mode: round the output size up.

    Shape:
        - Input: ``(N, C, D_in, H_in, W_in)`` or ``(C, D_in, H_in, W_in)``; Output: ``(N, C, D_out, H_out, W_out)``

    Example::

        >>> nn.MaxPool3d(2)(ember.randn(2, 3, 8, 8, 8)).shape
        ember.Size([2, 3, 4, 4, 4])
    """

    _fn = staticmethod(V.max_pool3d)


class AvgPool3d(AvgPool2d):
    """3-D average pooling over (N, C, D, H, W).

    Args:
        kernel_size, stride (default kernel_size), padding: an int or a triple.
        ceil_mode: round the output size up. count_include_pad: count padded zeros in the average.
        divisor_override: divide every window sum by this instead.

    Shape:
        - Input: ``(N, C, D_in, H_in, W_in)`` or ``(C, D_in, H_in, W_in)``; Output: ``(N, C, D_out, H_out, W_out)``

    Example::

        >>> nn.AvgPool3d(2)(ember.randn(2, 3, 8, 8, 8)).shape
        ember.Size([2, 3, 4, 4, 4])
    """

    def forward(self, input: Tensor) -> Tensor:
        return V.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool3d(_Adaptive):
    """Average pooling of (N, C, D, H, W) to a fixed ``output_size`` (an int, a triple, None keeps a size).

    Example::

        >>> nn.AdaptiveAvgPool3d((2, 3, 4))(ember.randn(1, 8, 5, 6, 7)).shape
        ember.Size([1, 8, 2, 3, 4])
    """

    _fn = staticmethod(V.adaptive_avg_pool3d)


class AdaptiveMaxPool3d(_AdaptiveMax):
    """Max pooling of (N, C, D, H, W) to a fixed ``output_size``; with return_indices also the argmax positions.

    Example::

        >>> nn.AdaptiveMaxPool3d(1)(ember.randn(2, 8, 4, 5, 6)).shape
        ember.Size([2, 8, 1, 1, 1])
    """

    _fn = staticmethod(V.adaptive_max_pool3d)


class MaxUnpool3d(_MaxUnpoolNd):
    """The partial inverse of MaxPool3d: values put back at their flat argmax positions, zeros elsewhere.

    Args:
        kernel_size, stride (default kernel_size), padding: those of the MaxPool3d being inverted.

    Shape:
        - Input and indices: ``(N, C, D_in, H_in, W_in)``; Output: ``(N, C, D_out, H_out, W_out)`` with
          ``D_out = (D_in - 1) * stride - 2 * padding + kernel_size`` (likewise H, W), or ``output_size``.

    Example::

        >>> out, idx = nn.MaxPool3d(2, return_indices=True)(ember.randn(1, 1, 4, 4, 4))
        >>> nn.MaxUnpool3d(2)(out, idx).shape
        ember.Size([1, 1, 4, 4, 4])
    """

    _fn = staticmethod(V.max_unpool3d)
    _dims = 3


class LPPool3d(_LPPoolNd):
    """Power-average pooling over (N, C, D, H, W): ``(sum of x**p over each window) ** (1/p)``.

    Args:
        norm_type: the power p (inf gives max pooling of abs(x)). kernel_size, stride (default kernel_size): an
        int or a triple. ceil_mode: round the output size up.

    Shape:
        - Input: ``(N, C, D_in, H_in, W_in)``; Output: ``(N, C, D_out, H_out, W_out)``

    Example::

        >>> nn.LPPool3d(2, 2)(ember.randn(2, 3, 4, 6, 8)).shape
        ember.Size([2, 3, 2, 3, 4])
    """

    _fn = staticmethod(V.lp_pool3d)
