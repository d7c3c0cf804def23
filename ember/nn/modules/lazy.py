"""Lazy modules: layers whose input size (in_features, in_channels, num_features) is read off the first input.

Until the first forward their parameters are ``UninitializedParameter``s; the first call (a forward
pre-hook) materializes them with the inferred shapes, initialises them as the ordinary layer would, and
turns the module into that layer (``cls_to_become``), as torch's ``LazyModuleMixin`` does.
"""
from __future__ import annotations

import itertools

from ..._tensor import Tensor
from ..._factories import tensor
from ... import _dtype
from ...autograd.grad_mode import no_grad
from ..parameter import UninitializedBuffer, UninitializedParameter, is_lazy
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
           "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class LazyModuleMixin:
    """Mixin for modules whose parameter shapes come from the first input (torch's LazyModuleMixin).

    The subclass defines ``initialize_parameters(*args)``, which materializes the parameters from the
    forward's arguments; after it the module becomes ``cls_to_become``. A state dict loaded before the
    first forward materializes the parameters with the loaded shapes.
    """

    cls_to_become: type | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters, with_kwargs=True)

    def initialize_parameters(self, *args, **kwargs) -> None:
        """Materialize and initialise the parameters from a forward's arguments."""
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")

    def has_uninitialized_params(self) -> bool:
        """Whether a parameter or buffer of this module is still uninitialized."""
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(), self._buffers.values()))

    def _infer_parameters(self, module, args: tuple, kwargs: dict | None = None) -> None:
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        module._initialize_hook.remove()
        del module._initialize_hook
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        # as Module's, but uninitialized entries are stored as they are (they cannot be detached)
        super()._save_to_state_dict(destination, prefix, True)
        if not keep_vars:
            for name, t in itertools.chain(self._parameters.items(), self._buffers.items()):
                if prefix + name in destination and not is_lazy(t):
                    destination[prefix + name] = t.detach()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors) -> None:
        # An initialized entry gives an uninitialized member its shape, then is copied in as usual; an
        # uninitialized entry into an uninitialized member is nothing to copy (torch skips it too).
        skipped = set()
        with no_grad():
            for name, member in itertools.chain(self._parameters.items(), self._buffers.items()):
                key = prefix + name
                if key in state_dict and member is not None and is_lazy(member):
                    if is_lazy(state_dict[key]):
                        skipped.add(key)
                    else:
                        member.materialize(state_dict[key].shape)
        if skipped:
            state_dict = {k: v for k, v in state_dict.items() if k not in skipped}
            n = len(missing)
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)
            missing[n:] = [k for k in missing[n:] if k not in skipped]
        else:
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)


class LazyLinear(LazyModuleMixin, Linear):
    """Linear whose ``in_features`` is the last dim of the first input.

    Args:
        out_features: size of each output sample.
        bias: whether to learn an additive bias. Default: True.

    Example::

        >>> m = nn.LazyLinear(30)
        >>> m(ember.randn(128, 20)).shape, type(m).__name__
        (ember.Size([128, 30]), 'Linear')
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        # no bias yet: it would only be replaced by an uninitialized one
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        """Linear's init, once the parameters have their shapes."""
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor) -> None:
        """Materialize ``weight`` as ``(out_features, input.shape[-1])`` and initialise it."""
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()
        if self.in_features == 0:  # materialized by load_state_dict
            if input.shape[-1] != self.weight.shape[-1]:
                raise AssertionError(f"The in_features inferred from input: {input.shape[-1]} is not equal to "
                                     f"in_features from self.weight: {self.weight.shape[-1]}")
            self.in_features = input.shape[-1]


class _LazyConvMixin(LazyModuleMixin):
    """The lazy convolutions' shared part: in_channels from the first input's channel dim."""

    def reset_parameters(self) -> None:
        """The convolution's init, once the parameters have their shapes."""
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        """Materialize ``weight`` (and ``bias``) from the input's channel count and initialise them."""
        if self.has_uninitialized_params():
            with no_grad():
                self.in_channels = self._get_in_channels(input)
                if self.in_channels % self.groups != 0:
                    raise ValueError("in_channels must be divisible by groups")
                if self._transposed:
                    shape = (self.in_channels, self.out_channels // self.groups)
                else:
                    shape = (self.out_channels, self.in_channels // self.groups)
                self.weight.materialize((*shape, *self.kernel_size))
                if self.bias is not None:
                    self.bias.materialize((self.out_channels,))
                self.reset_parameters()

    def _get_in_channels(self, input: Tensor) -> int:
        unbatched = self._dims + 1
        if input.dim() not in (unbatched, unbatched + 1):
            raise RuntimeError(f"Expected {unbatched}D (unbatched) or {unbatched + 1}D (batched) input to "
                               f"{type(self).__name__}, but got input of size: {input.shape}")
        return input.shape[1] if input.dim() == unbatched + 1 else input.shape[0]

    def _lazy_params(self, out_channels: int, bias: bool, device, dtype) -> None:
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)


class _LazyConv(_LazyConvMixin):
    """The lazy convolutions' constructor: the layer's signature without in_channels."""

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode,
                         device=device, dtype=dtype)
        self._lazy_params(out_channels, bias, device, dtype)


class _LazyConvTranspose(_LazyConvMixin):
    """The lazy transposed convolutions' constructor: the layer's signature without in_channels."""

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0, groups: int = 1,
                 bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False, dilation,
                         padding_mode, device=device, dtype=dtype)
        self._lazy_params(out_channels, bias, device, dtype)


class LazyConv1d(_LazyConv, Conv1d):
    """Conv1d whose ``in_channels`` is read off the first input (``input.shape[1]``, or ``[0]`` unbatched).

    Example::

        >>> m = nn.LazyConv1d(33, 3)
        >>> m(ember.randn(20, 16, 50)).shape, m.in_channels
        (ember.Size([20, 33, 48]), 16)
    """

    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """Conv2d whose ``in_channels`` is read off the first input (``input.shape[1]``, or ``[0]`` unbatched).

    Example::

        >>> nn.LazyConv2d(33, 3)(ember.randn(2, 16, 10, 10)).shape
        ember.Size([2, 33, 8, 8])
    """

    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    """Conv3d whose ``in_channels`` is read off the first input (``input.shape[1]``, or ``[0]`` unbatched).

    Example::

        >>> nn.LazyConv3d(8, 3)(ember.randn(2, 4, 5, 6, 7)).shape
        ember.Size([2, 8, 3, 4, 5])
    """

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    """ConvTranspose1d whose ``in_channels`` is read off the first input.

    Example::

        >>> nn.LazyConvTranspose1d(8, 3, stride=2)(ember.randn(2, 16, 10)).shape
        ember.Size([2, 8, 21])
    """

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    """ConvTranspose2d whose ``in_channels`` is read off the first input.

    Example::

        >>> nn.LazyConvTranspose2d(8, 3, stride=2)(ember.randn(2, 16, 10, 12)).shape
        ember.Size([2, 8, 21, 25])
    """

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    """ConvTranspose3d whose ``in_channels`` is read off the first input.

    Example::

        >>> nn.LazyConvTranspose3d(2, 3, stride=2)(ember.randn(1, 4, 3, 4, 5)).shape
        ember.Size([1, 2, 7, 9, 11])
    """

    cls_to_become = ConvTranspose3d


class _LazyNormBase(LazyModuleMixin):
    """The lazy batch and instance norms' shared part: num_features from the first input's dim 1."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        # no parameters or buffers yet: they would only be replaced by uninitialized ones
        super().__init__(0, eps, momentum, False, False, device, dtype, bias=False)
        self.affine, self.track_running_stats, self.use_bias = affine, track_running_stats, affine and bias
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = tensor(0, dtype=_dtype.int64)

    def reset_parameters(self) -> None:
        """The layer's init (weight 1, bias 0, fresh running statistics), once shapes are known."""
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor) -> None:
        """Materialize the parameters and buffers as ``(input.shape[1],)`` and initialise them."""
        if self.has_uninitialized_params():
            with no_grad():
                self.num_features = input.shape[1]
                if self.affine:
                    self.weight.materialize((self.num_features,))
                    if self.bias is not None:
                        self.bias.materialize((self.num_features,))
                if self.track_running_stats:
                    self.running_mean.materialize((self.num_features,))
                    self.running_var.materialize((self.num_features,))
                self.reset_parameters()


class LazyBatchNorm1d(_LazyNormBase, BatchNorm1d):
    """BatchNorm1d whose ``num_features`` is the first input's ``shape[1]``.

    Example::

        >>> m = nn.LazyBatchNorm1d()
        >>> m(ember.randn(20, 100)).shape, m.num_features
        (ember.Size([20, 100]), 100)
    """

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormBase, BatchNorm2d):
    """BatchNorm2d whose ``num_features`` is the first input's ``shape[1]``.

    Example::

        >>> nn.LazyBatchNorm2d()(ember.randn(2, 3, 4, 4)).shape
        ember.Size([2, 3, 4, 4])
    """

    cls_to_become = BatchNorm2d


class LazyInstanceNorm1d(_LazyNormBase, InstanceNorm1d):
    """InstanceNorm1d whose ``num_features`` is the first input's ``shape[1]`` (affine and tracked by default).

    Example::

        >>> nn.LazyInstanceNorm1d()(ember.randn(2, 3, 5)).shape
        ember.Size([2, 3, 5])
    """

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyNormBase, InstanceNorm2d):
    """InstanceNorm2d whose ``num_features`` is the first input's ``shape[1]`` (affine and tracked by default).

    Example::

        >>> nn.LazyInstanceNorm2d()(ember.randn(2, 3, 4, 4)).shape
        ember.Size([2, 3, 4, 4])
    """

    cls_to_become = InstanceNorm2d


class LazyBatchNorm3d(_LazyNormBase, BatchNorm3d):
    """BatchNorm3d whose ``num_features`` is the first input's ``shape[1]``.

    Example::

        >>> nn.LazyBatchNorm3d()(ember.randn(2, 3, 2, 4, 4)).shape
        ember.Size([2, 3, 2, 4, 4])
    """

    cls_to_become = BatchNorm3d


class LazyInstanceNorm3d(_LazyNormBase, InstanceNorm3d):
    """InstanceNorm3d whose ``num_features`` is the first input's ``shape[1]`` (affine and tracked by default).

    Example::

        >>> nn.LazyInstanceNorm3d()(ember.randn(2, 3, 2, 4, 4)).shape
        ember.Size([2, 3, 2, 4, 4])
    """

    cls_to_become = InstanceNorm3d
