"""Loss modules: each holds its settings and calls the functional form in ember.nn._functional.loss."""
from __future__ import annotations

from ..._tensor import Tensor
from .._functional import loss as F
from .module import Module


class _Loss(Module):
    """A loss with a ``reduction``: 'none', 'mean' (default) or 'sum'."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F._reduction(size_average, reduce, reduction)


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight`` buffer."""

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """Mean absolute error ``|input - target|``.

    Args:
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input, Target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with 'none'.

    Example::

        >>> nn.L1Loss()(ember.tensor([1.0, 3.0]), ember.tensor([2.0, 2.0])).item()
        1.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error ``(input - target)^2``.

    Args:
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input, Target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with 'none'.

    Example::

        >>> nn.MSELoss()(ember.tensor([1.0, 3.0]), ember.tensor([2.0, 2.0])).item()
        1.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Squared error divided by ``beta`` below ``beta``, absolute error minus ``beta/2`` above.

    Args:
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.
        beta: where the loss turns from quadratic to linear. Default: 1.0.

    Shape:
        - Input, Target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with 'none'.
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Squared error below ``delta``, ``delta * (|d| - delta/2)`` above.

    Args:
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.
        delta: where the loss turns from quadratic to linear. Default: 1.0.

    Shape:
        - Input, Target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with 'none'.
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        if not isinstance(delta, (int, float)):
            raise TypeError(f"delta must be a float or int, got: {type(delta)}")
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices under log-probabilities.

    Args:
        weight: a per-class rescaling, shape ``(C,)``.
        ignore_index: a target value that contributes neither loss nor gradient. Default: -100.
        reduction: 'none' | 'mean' (weighted mean) | 'sum'. Default: 'mean'.

    Shape:
        - Input: ``(N, C)``, ``(C)`` or ``(N, C, d1, ...)`` log-probabilities.
        - Target: ``(N)``, ``()`` or ``(N, d1, ...)`` class indices.
        - Output: scalar, or the target's shape with 'none'.
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy between logits and class indices or class probabilities (log_softmax + NLL).

    Args:
        weight: a per-class rescaling, shape ``(C,)``.
        ignore_index: a target index that contributes neither loss nor gradient. Default: -100.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.
        label_smoothing: mix of the target with the uniform distribution, in [0, 1]. Default: 0.

    Shape:
        - Input: ``(N, C)``, ``(C)`` or ``(N, C, d1, ...)`` logits.
        - Target: class indices ``(N)``/``()``/``(N, d1, ...)``, or probabilities of the input's shape.
        - Output: scalar, or the batch shape with 'none'.

    Example::

        >>> loss = nn.CrossEntropyLoss()
        >>> loss(ember.zeros(2, 4), ember.tensor([0, 3])).item()  # log(4)
        1.3862943649291992
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class BCELoss(_WeightedLoss):
    """Binary cross entropy between probabilities and targets in [0, 1] (logs clamped at -100).

    Args:
        weight: a rescaling of each element's loss, broadcast to the input.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input, Target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with 'none'.
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross entropy in one numerically stable expression.

    Args:
        weight: a rescaling of each element's loss, broadcast to the input.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.
        pos_weight: a weight on positive examples, broadcast along the class (last) dim.

    Shape:
        - Input, Target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with 'none'.
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """KL divergence ``target * (log target - input)``, with ``input`` as log-probabilities.

    Args:
        reduction: 'none' | 'batchmean' (the mathematical KL) | 'mean' | 'sum'. Default: 'mean'.
        log_target: whether ``target`` is given as log-probabilities. Default: False.

    Shape:
        - Input, Target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with 'none'.
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineEmbeddingLoss(_Loss):
    """``1 - cos(x1, x2)`` for target 1, ``max(0, cos(x1, x2) - margin)`` for target -1.

    Args:
        margin: in [-1, 1]. Default: 0.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input1, Input2: ``(N, D)`` or ``(D)``. Target: ``(N)`` or ``()``. Output: scalar or ``(N)``.
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``max(0, -target * (x1 - x2) + margin)``.

    Args:
        margin: Default: 0.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input1, Input2, Target: ``(N)`` or ``()``. Output: scalar or ``(N)``.
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """``max(0, margin + d(anchor, positive) - d(anchor, negative))`` with the p-norm distance.

    Args:
        margin: Default: 1.
        p: the norm degree. Default: 2.
        eps: added to the difference for stability. Default: 1e-6.
        swap: use the smaller of d(anchor, negative) and d(positive, negative). Default: False.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Anchor, Positive, Negative: ``(N, D)`` or ``(D)``. Output: scalar or ``(N)``.
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """``log(1 + exp(-target * input))``.

    Args:
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input, Target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with 'none'.
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """``input`` where target is 1, ``max(0, margin - input)`` where target is -1.

    Args:
        margin: Default: 1.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input, Target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with 'none'.
    """

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Negative log-likelihood of the target under N(input, var): ``(log var + (input - target)^2 / var) / 2``.

    Args:
        full: add the constant ``log(2 pi) / 2``. Default: False.
        eps: variances are raised to at least this (in value only). Default: 1e-6.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input, Target: ``(N, *)`` or ``(*)``. Var: the input's shape, or one dim fewer / size 1 in one dim
          (one variance per vector). Output: scalar, or the input's shape with 'none'.
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Negative log-likelihood of the target under Poisson(rate): ``rate - target * log(rate)``.

    Args:
        log_input: the input is ``log(rate)`` (True, default) or the rate.
        full: add Stirling's approximation of ``log(target!)``. Default: False.
        eps: keeps ``log(rate)`` finite when ``log_input=False``. Default: 1e-8.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input, Target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with 'none'.
    """

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None, eps: float = 1e-8,
                 reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                  reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss ``sum_{i != y} max(0, margin - x[y] + x[i])^p / C``.

    Args:
        p: 1 or 2. Default: 1.
        margin: Default: 1.
        weight: a per-class rescaling, shape ``(C,)``.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input: ``(N, C)`` or ``(C)``. Target: ``(N)`` or ``()`` class indices. Output: scalar, or ``(N)``.
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Tensor | None = None, size_average=None,
                 reduce=None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None and weight.dim() != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be None or 1D tensor, got {weight.dim()}D instead")
        self.p = p
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                   reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss ``sum_{j in y} sum_{i not in y} max(0, 1 - (x[j] - x[i])) / C``.

    Args:
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input: ``(N, C)`` or ``(C)``. Target: the input's shape, integer classes, each row ending at its first
          -1. Output: scalar, or ``(N)``.
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Per-class logistic loss ``-(y log sigmoid(x) + (1 - y) log sigmoid(-x))``, averaged over the classes.

    Args:
        weight: a per-class rescaling, shape ``(C,)``.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Input, Target: ``(N, C)`` or ``(C)``. Output: scalar, or ``(N)``.
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """``max(0, margin + d(anchor, positive) - d(anchor, negative))`` for any distance function ``d``.

    Args:
        distance_function: maps two tensors to distances; default ``nn.PairwiseDistance()``.
        margin: Default: 1.
        swap: use the smaller of d(anchor, negative) and d(positive, negative). Default: False.
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        - Anchor, Positive, Negative: ``(N, *)`` or ``(*)``, as the distance function takes. Output: scalar or
          ``(N)``.
    """

    def __init__(self, *, distance_function=None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean") -> None:
        from .distance import PairwiseDistance
        super().__init__(None, None, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
                             "instead")
        self.distance_function = distance_function if distance_function is not None else PairwiseDistance()
        self.margin = margin
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                   distance_function=self.distance_function, margin=self.margin,
                                                   swap=self.swap, reduction=self.reduction)
