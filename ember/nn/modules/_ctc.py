"""CTCLoss: the connectionist temporal classification loss as a module."""
from __future__ import annotations

from ..._tensor import Tensor
from .._functional.ctc import ctc_loss
from .loss import _Loss

__all__ = ["CTCLoss"]


class CTCLoss(_Loss):
    """The negative log likelihood of each target over all its alignments with the input (CTC).

    Args:
        blank: the blank label. Default: 0.
        reduction: 'none' | 'mean' (each loss divided by its target length, then averaged) | 'sum'.
        zero_infinity: give impossible alignments (infinite losses) zero loss and gradient. Default: False.

    Shape:
        - log_probs ``(T, N, C)`` or ``(T, C)``, log-softmax outputs; targets ``(N, S)`` padded or the
          targets concatenated ``(sum(target_lengths),)``; input_lengths and target_lengths ``(N,)``
          (tensors or sequences of ints). Output: scalar, or ``(N)`` with 'none'.

    Example::

        >>> lp = ember.randn(50, 2, 20).log_softmax(2)
        >>> nn.CTCLoss()(lp, ember.randint(1, 20, (2, 30)), (50, 50), (30, 25)).shape
        ember.Size([])
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths, target_lengths) -> Tensor:
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                        self.zero_infinity)
