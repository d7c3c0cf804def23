"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d."""
from __future__ import annotations

from ..._tensor import Tensor
from ..._factories import empty
from .._functional import conv as F
from .._functional.conv import _tuple
from .._functional.volumetric import conv3d, conv_transpose3d
from ..functional import pad
from ..parameter import Parameter
from .linear import Linear
from .module import Module

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_CONV = {1: F.conv1d, 2: F.conv2d, 3: conv3d}
_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: conv_transpose3d}


class _ConvNd(Module):
    """What every convolution layer shares: hyper-parameters, the weight, the bias and their init."""

    _dims = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding, dilation, groups: int,
                 bias: bool, padding_mode: str, output_padding=0, dtype=None) -> None:
        super().__init__()
        name, n = type(self).__name__, self._dims
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _tuple(kernel_size, n, "kernel_size", name)
        self.stride = _tuple(stride, n, "stride", name)
        self.dilation = _tuple(dilation, n, "dilation", name)
        self.output_padding = _tuple(output_padding, n, "output_padding", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string '{padding}', should be one of ['valid', 'same']")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _tuple(padding, n, "padding", name)
        self.padding_mode = padding_mode
        shape = (in_channels, out_channels // groups) if self._transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(empty(*shape, *self.kernel_size, dtype=dtype))
        self.register_parameter("bias", Parameter(empty(out_channels, dtype=dtype)) if bias else None)
        self.reset_parameters()

    reset_parameters = Linear.reset_parameters  # the same fan-in init as Linear

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """Conv1d, Conv2d and Conv3d: torch's constructor signature and the forward, with non-zero padding modes."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, dtype=dtype)

    def _pad_amounts(self) -> list:
        """F.pad's list (last dim first) for a non-zero padding_mode."""
        if self.padding == "valid":
            return [0, 0] * self._dims
        if self.padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            pairs = [(t // 2, t - t // 2) for t in totals]
        else:
            pairs = [(p, p) for p in self.padding]
        return [v for pair in reversed(pairs) for v in pair]

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        conv = _CONV[self._dims]
        if self.padding_mode != "zeros":
            input = pad(input, self._pad_amounts(), mode=self.padding_mode)
            return conv(input, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L).

    Args:
        in_channels, out_channels: channels of the input and the output.
        kernel_size, stride, padding, dilation: an int or 1-tuple; padding may be 'same' or 'valid'.
        groups: blocked connections from input to output channels. Default: 1.
        bias: learn an additive bias. Default: True.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Default: 'zeros'.

    Shape:
        - Input: ``(N, C_in, L_in)`` or ``(C_in, L_in)``
        - Output: ``(N, C_out, L_out)``, ``L_out = (L_in + 2p - d(k-1) - 1) // s + 1``

    Example::

        >>> nn.Conv1d(16, 33, 3, stride=2)(ember.randn(20, 16, 50)).shape
        ember.Size([20, 33, 24])
    """

    _dims = 1


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W).

    Args:
        in_channels, out_channels: channels of the input and the output.
        kernel_size, stride, padding, dilation: an int or a pair; padding may be 'same' or 'valid'.
        groups: blocked connections from input to output channels. Default: 1.
        bias: learn an additive bias. Default: True.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Default: 'zeros'.

    Shape:
        - Input: ``(N, C_in, H, W)`` or ``(C_in, H, W)``
        - Output: ``(N, C_out, H_out, W_out)``, each ``(size + 2p - d(k-1) - 1) // s + 1``

    Example::

        >>> nn.Conv2d(16, 33, 3, stride=2)(ember.randn(20, 16, 50, 100)).shape
        ember.Size([20, 33, 24, 49])
    """

    _dims = 2


class Conv3d(_Conv):
    """3-D convolution over (N, C_in, D, H, W).

    Args:
        in_channels, out_channels: channels of the input and the output.
        kernel_size, stride, padding, dilation: an int or a triple; padding may be 'same' or 'valid'.
        groups: blocked connections from input to output channels. Default: 1.
        bias: learn an additive bias. Default: True.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Default: 'zeros'.

    Shape:
        - Input: ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``
        - Output: ``(N, C_out, D_out, H_out, W_out)``, each ``(size + 2p - d(k-1) - 1) // s + 1``

    Example::

        >>> nn.Conv3d(4, 8, 3, stride=2)(ember.randn(2, 4, 9, 10, 11)).shape
        ember.Size([2, 8, 4, 4, 5])
    """

    _dims = 3


class _ConvTranspose(_ConvNd):
    """ConvTranspose1d/2d/3d: torch's constructor signature and the forward."""

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, dtype=dtype)

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """The output_padding that makes the output ``output_size`` (torch's forward(input, output_size))."""
        if output_size is None:
            return self.output_padding
        n = self._dims
        out = tuple(int(s) for s in output_size)[-n:]
        if len(out) != n:
            raise ValueError(f"ConvTranspose{n}D: for {input.ndim}D input, output_size must have {n} or "
                             f"{n + 2} elements (got {len(output_size)})")
        pads = []
        for i in range(n):
            least = ((input.shape[-n + i] - 1) * self.stride[i] - 2 * self.padding[i]
                     + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            if not least <= out[i] < least + self.stride[i]:
                raise ValueError(f"requested an output size of {list(out)}, but valid sizes range from "
                                 f"{least} to {least + self.stride[i] - 1} (for an input of "
                                 f"{list(input.shape[2:])})")
            pads.append(out[i] - least)
        return tuple(pads)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        fn = _CONV_TRANSPOSE[self._dims]
        return fn(input, self.weight, self.bias, self.stride, self.padding,
                  self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution over (N, C_in, L) (the gradient of Conv1d in its input).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation:
            as torch.nn.ConvTranspose1d; only padding_mode='zeros'.

    Shape:
        - Input: ``(N, C_in, L_in)``
        - Output: ``(N, C_out, L_out)``, ``L_out = (L_in - 1)s - 2p + d(k-1) + output_padding + 1``

    Example::

        >>> nn.ConvTranspose1d(16, 8, 3, stride=2)(ember.randn(2, 16, 10)).shape
        ember.Size([2, 8, 21])
    """

    _dims = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution over (N, C_in, H, W) (the gradient of Conv2d in its input).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation:
            as torch.nn.ConvTranspose2d; only padding_mode='zeros'.

    Shape:
        - Input: ``(N, C_in, H_in, W_in)``
        - Output: ``(N, C_out, H_out, W_out)``, each ``(size - 1)s - 2p + d(k-1) + output_padding + 1``

    Example::

        >>> nn.ConvTranspose2d(16, 8, 3, stride=2)(ember.randn(2, 16, 10, 12)).shape
        ember.Size([2, 8, 21, 25])
    """

    _dims = 2


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution over (N, C_in, D, H, W) (the gradient of Conv3d in its input).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation:
            as torch.nn.ConvTranspose3d; only padding_mode='zeros'.

    Shape:
        - Input: ``(N, C_in, D_in, H_in, W_in)`` or ``(C_in, D_in, H_in, W_in)``
        - Output: ``(N, C_out, D_out, H_out, W_out)``, each ``(size - 1)s - 2p + d(k-1) + output_padding + 1``

    Example::

        >>> nn.ConvTranspose3d(4, 2, 3, stride=2)(ember.randn(1, 4, 3, 4, 5)).shape
        ember.Size([1, 2, 7, 9, 11])
    """

    _dims = 3
