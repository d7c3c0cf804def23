"""LinearCrossEntropyLoss: a classifier head and its cross entropy in one module, as torch's."""
from __future__ import annotations

import math

from ..._tensor import Tensor
from .._functional.linear_cross_entropy import LinearCrossEntropyOptions, linear_cross_entropy
from .linear import Linear
from .loss import _WeightedLoss

__all__ = ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]


class LinearCrossEntropyLoss(_WeightedLoss):
    """Cross entropy of ``linear(input)`` against class indices or probabilities.

    Args:
        in_features: input size. num_classes: C. out_features: extra logit dims (d_1..d_K) for a
            K-dimensional loss. bias: learn a bias in the linear map. Default: False.
        reduction, weight, ignore_index, label_smoothing: as CrossEntropyLoss. options: torch's chunking
            options (accepted; ember computes the same values in one piece).

    The linear map is ``self.linear`` with ``C * prod(out_features)`` outputs, torch's state dict layout.

    Shape:
        - Input ``(in_features)`` or ``(N, in_features)``; target ``()``/``(N)``/``(N, d_1..d_K)`` class indices
          or the logits' shape of probabilities. Output: scalar, or the target's shape with 'none'.

    Example::

        >>> loss = nn.LinearCrossEntropyLoss(8, 5)
        >>> loss(ember.randn(3, 8), ember.tensor([0, 4, 2])).shape
        ember.Size([])
    """

    def __init__(self, in_features: int, num_classes: int, *, out_features: tuple = (), bias: bool = False,
                 device=None, dtype=None, reduction: str = "mean", weight: Tensor | None = None,
                 ignore_index: int | None = None, label_smoothing: float = 0.0,
                 options: LinearCrossEntropyOptions | None = None) -> None:
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(f"LinearCrossEntropyLoss: expected weight shape to be {(num_classes,)}, got "
                               f"{tuple(weight.shape)}")
        if not 0 <= label_smoothing <= 1.0:
            raise RuntimeError(f"LinearCrossEntropyLoss: expected label_smoothing to be in range [0, 1], got "
                               f"{label_smoothing}")
        super().__init__(weight, None, None, reduction)
        self.num_classes, self.out_features = num_classes, tuple(out_features)
        self.ignore_index, self.label_smoothing, self.options = ignore_index, label_smoothing, options
        # Linear holds 2-D weights: (C * prod(out_features), in), reshaped in forward
        self.linear = Linear(in_features, num_classes * math.prod(self.out_features), bias=bias, dtype=dtype)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        shape = (self.num_classes, *self.out_features)
        bias = None if self.linear.bias is None else self.linear.bias.reshape(shape)
        return linear_cross_entropy(input, self.linear.weight.reshape((*shape, self.linear.in_features)), target,
                                    linear_bias=bias, weight=self.weight, reduction=self.reduction,
                                    ignore_index=self.ignore_index, label_smoothing=self.label_smoothing,
                                    options=self.options)
