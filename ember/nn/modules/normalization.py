"""Normalization layers: BatchNorm1d/2d, LayerNorm, GroupNorm, RMSNorm, the local response norms (torch's
parameter and buffer names)."""
from __future__ import annotations

import numbers

from ..._tensor import Tensor
from ..._factories import ones, zeros, tensor
from ..._ops.shape import cat
from ...autograd.function import Function
from ... import _dtype
from .. import init
from .._functional import normalization as F
from ..parameter import Parameter
from .module import Module


class _Norm(Module):
    """What the normalization layers share: an optional learnable weight (starting at 1) and bias (at 0)."""

    def _affine_params(self, affine: bool, bias: bool, shape: tuple, dtype) -> None:
        """weight (and bias when ``bias``) of ``shape`` when ``affine``, else None placeholders."""
        self.register_parameter("weight", Parameter(ones(*shape, dtype=dtype)) if affine else None)
        self.register_parameter("bias", Parameter(zeros(*shape, dtype=dtype)) if affine and bias else None)

    def reset_parameters(self) -> None:
        """Weight 1, bias 0."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)


class _NormBase(_Norm):
    """What batch and instance norm share (torch's ``_NormBase``): per-channel affine parameters and running
    statistics."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats, self.use_bias = affine, track_running_stats, affine and bias
        self._affine_params(affine, bias, (num_features,), dtype)
        stats = track_running_stats
        self.register_buffer("running_mean", zeros(num_features, dtype=dtype) if stats else None)
        self.register_buffer("running_var", ones(num_features, dtype=dtype) if stats else None)
        self.register_buffer("num_batches_tracked", tensor(0, dtype=_dtype.int64) if stats else None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, and weight 1 / bias 0."""
        self.reset_running_stats()
        super().reset_parameters()

    _version = 2  # state dicts before version 2 (or without metadata) may lack num_batches_tracked

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        key = prefix + "num_batches_tracked"
        if local_metadata.get("version", 1) < 2 and self.track_running_stats and key not in state_dict:
            state_dict[key] = self.num_batches_tracked if self.num_batches_tracked is not None else tensor(0)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.use_bias}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Per-channel batch normalization with running statistics."""

    _dims = ()

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"expected {want} input (got {input.ndim}D input)")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._version += 1
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        # without running statistics, evaluation normalizes by the batch too
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None, self.running_var if keep else None,
                            self.weight, self.bias, use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L), per channel C.

    Args:
        num_features: C. eps: added to the variance. Default: 1e-5.
        momentum: running-statistics update factor; None for a cumulative average. Default: 0.1.
        affine: learn weight and bias. track_running_stats: keep running_mean/running_var buffers.

    Shape:
        - Input: ``(N, C)`` or ``(N, C, L)``; Output: same shape.

    Example::

        >>> nn.BatchNorm1d(100)(ember.randn(20, 100)).shape
        ember.Size([20, 100])
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W), per channel C.

    Args:
        num_features: C. eps: added to the variance. Default: 1e-5.
        momentum: running-statistics update factor; None for a cumulative average. Default: 0.1.
        affine: learn weight and bias. track_running_stats: keep running_mean/running_var buffers.

    Shape:
        - Input: ``(N, C, H, W)``; Output: same shape.

    Example::

        >>> nn.BatchNorm2d(100)(ember.randn(20, 100, 35, 45)).shape
        ember.Size([20, 100, 35, 45])
    """

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization over (N, C, D, H, W), per channel C.

    Args:
        num_features: C. eps: added to the variance. Default: 1e-5.
        momentum: running-statistics update factor; None for a cumulative average. Default: 0.1.
        affine: learn weight and bias. track_running_stats: keep running_mean/running_var buffers.

    Shape:
        - Input: ``(N, C, D, H, W)``; Output: same shape.

    Example::

        >>> nn.BatchNorm3d(4)(ember.randn(2, 4, 3, 5, 6)).shape
        ember.Size([2, 4, 3, 5, 6])
    """

    _dims = (5,)


def _shape(normalized_shape) -> tuple:
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


class LayerNorm(_Norm):
    """Normalization over the trailing ``normalized_shape`` dims of each sample.

    Args:
        normalized_shape: the trailing shape to normalize over.
        eps: added to the variance. Default: 1e-5.
        elementwise_affine: learn a per-element weight (and bias). bias: learn the bias. Default: True.

    Shape:
        - Input: ``(*, *normalized_shape)``; Output: same shape.

    Example::

        >>> nn.LayerNorm(10)(ember.randn(20, 5, 10)).shape
        ember.Size([20, 5, 10])
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps, self.elementwise_affine, self.use_bias = eps, elementwise_affine, elementwise_affine and bias
        self._affine_params(elementwise_affine, bias, self.normalized_shape, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.use_bias}")


class GroupNorm(_Norm):
    """Normalization over groups of channels (and all positions) of each sample.

    Args:
        num_groups: groups to split the channels into. num_channels: C, divisible by num_groups.
        eps: added to the variance. Default: 1e-5. affine: learn per-channel weight and bias. Default: True.

    Shape:
        - Input: ``(N, C, *)``; Output: same shape.

    Example::

        >>> nn.GroupNorm(3, 6)(ember.randn(20, 6, 10, 10)).shape
        ember.Size([20, 6, 10, 10])
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.use_bias = affine and bias
        self._affine_params(affine, bias, (num_channels,), dtype)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.use_bias}"


class RMSNorm(_Norm):
    """Root-mean-square normalization over the trailing ``normalized_shape`` dims.

    Args:
        normalized_shape: the trailing shape to normalize over.
        eps: added to the mean square; None uses the dtype's machine epsilon.
        elementwise_affine: learn a per-element weight. Default: True.

    Shape:
        - Input: ``(*, *normalized_shape)``; Output: same shape.

    Example::

        >>> nn.RMSNorm([2, 3])(ember.randn(2, 2, 3)).shape
        ember.Size([2, 2, 3])
    """

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self._affine_params(elementwise_affine, False, self.normalized_shape, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class _ChannelNorm(Module):
    """What the two local response norms share: their hyper-parameters and repr."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class LocalResponseNorm(_ChannelNorm):
    """Normalize each entry by the energy of its ``size`` neighbouring channels:
    ``x / (k + alpha / size * sum x^2)^beta``.

    Args:
        size: how many channels the sum covers.
        alpha: the multiplier. Default: 1e-4.
        beta: the exponent. Default: 0.75.
        k: the additive constant. Default: 1.

    Shape:
        - Input: ``(N, C, *)``; Output: same shape.

    Example::

        >>> nn.LocalResponseNorm(2)(ember.randn(2, 4, 3, 3)).shape
        ember.Size([2, 4, 3, 3])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)


def _channel_window(t: Tensor, lo: int, hi: int) -> Tensor:
    """For each channel c of (N, C, H, W), the sum of channels c+lo .. c+hi that exist."""
    c = t.shape[1]
    sums = cat([zeros(t.shape[0], 1, *t.shape[2:], dtype=t.dtype), t.cumsum(1)], 1)
    top = [min(max(i + hi + 1, 0), c) for i in range(c)]
    bottom = [min(max(i + lo, 0), c) for i in range(c)]
    return sums[:, top] - sums[:, bottom]


class _CrossMapLRN2dFn(Function):
    """torch's legacy cross-channel LRN, kept as torch computes it. Its running-sum forward never drops
    channel 0 from the windows of channels ``pre_pad`` and on, and its hand-written backward sums the
    ratios over a window shifted by one channel; both differ from LocalResponseNorm, so they are replayed
    here (with cumulative sums instead of the loop) for results and gradients equal to torch's."""

    @staticmethod
    def forward(ctx, input, size, alpha, beta, k):
        if input.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D instead.")
        pre_pad = int((size - 1) / 2 + 1)
        sq = input * input
        flags = tensor([float(c >= pre_pad) for c in range(input.shape[1])], dtype=input.dtype)
        window = _channel_window(sq, 1 - pre_pad, pre_pad - 1) + sq[:, :1] * flags.view(1, -1, 1, 1)
        scale = window * (alpha / size) + k
        output = input * scale ** -beta
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        ctx.save_for_backward(input, scale)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, scale = ctx.saved_tensors
        size = ctx.size
        inverse_pre_pad = int(size - (size - 1) / 2)
        if inverse_pre_pad > size - 1:  # torch's padded buffer is then too short for the ratios
            raise RuntimeError(f"CrossMapLRN2d backward: start ({inverse_pre_pad}) + length ({input.shape[1]}) "
                               f"exceeds dimension size ({input.shape[1] + size - 1}).")
        output = input * scale ** -ctx.beta
        ratio = _channel_window(grad_output * output / scale, -inverse_pre_pad, size - 1 - inverse_pre_pad)
        grad = scale ** -ctx.beta * grad_output - input * ratio * (2 * ctx.alpha * ctx.beta / size)
        return grad, None, None, None, None


class CrossMapLRN2d(_ChannelNorm):
    """torch's legacy (Lua-era) local response normalization across the channels of ``(N, C, H, W)``,
    with LocalResponseNorm's arguments; its window and gradient are torch's own (which differ from
    LocalResponseNorm's at the channel edges).

    Example::

        >>> nn.CrossMapLRN2d(3)(ember.randn(2, 4, 3, 3)).shape
        ember.Size([2, 4, 3, 3])
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1) -> None:
        super().__init__(size, alpha, beta, k)

    def forward(self, input: Tensor) -> Tensor:
        return _CrossMapLRN2dFn.apply(input, self.size, self.alpha, self.beta, self.k)
