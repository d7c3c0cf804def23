"""AdaptiveLogSoftmaxWithLoss (Grave et al., 2017): a softmax over many classes, cheap for the frequent ones.

The head scores the ``cutoffs[0]`` most frequent classes plus one entry per tail cluster; a class in
cluster i gets log p(cluster i | x) + log p(class | cluster i, x), the latter from a small two-layer
projection whose hidden size shrinks by ``div_value`` per cluster.
"""
from __future__ import annotations

from collections import namedtuple

from ..._backend import xp
from ..._tensor import Tensor
from ..._ops.nn_math import log_softmax
from ..._ops.shape import cat
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax: the log-probability of each target and the mean negative log likelihood.

    Args:
        in_features: input size. n_classes: number of classes. cutoffs: increasing class boundaries
            splitting the classes (sorted by frequency) into the head's shortlist and the tail clusters.
        div_value: each cluster's hidden size is ``in_features // div_value ** (i + 1)``. Default: 4.
        head_bias: give the head a bias. Default: False.

    Shape:
        - input ``(N, in_features)`` or ``(in_features)``; target ``(N)`` or ``()`` class indices.
        - Returns ``(output, loss)``: output ``(N)`` (each target's log-probability), loss a scalar.

    Example::

        >>> asm = nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs=[5, 10])
        >>> out, loss = asm(ember.randn(4, 8), ember.tensor([0, 7, 12, 19]))
        >>> out.shape, asm.log_prob(ember.randn(4, 8)).shape
        (ember.Size([4]), ember.Size([4, 20]))
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs, div_value: float = 4.0, head_bias: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of unique, positive integers "
                             "sorted in an increasing order, where each value is between 1 and n_classes-1")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, dtype=dtype)
        self.tail = ModuleList(
            Sequential(Linear(in_features, int(in_features // (div_value ** (i + 1))), bias=False, dtype=dtype),
                       Linear(int(in_features // (div_value ** (i + 1))), self.cutoffs[i + 1] - self.cutoffs[i],
                              bias=False, dtype=dtype))
            for i in range(self.n_clusters))

    def reset_parameters(self) -> None:
        """Re-initialise the head and every tail projection."""
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input: Tensor, target: Tensor) -> _ASMoutput:
        if target.dim() == 1:
            if input.shape[0] != target.shape[0]:
                raise RuntimeError("AdaptiveLogSoftmaxWithLoss: Input and target should have the same size in the "
                                   f"batch dimension, got {list(input.shape)} and {list(target.shape)}")
            if input.dim() != 2:
                raise RuntimeError("AdaptiveLogSoftmaxWithLoss: 1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {list(input.shape)}")
        elif target.dim() == 0:
            if input.dim() != 1:
                raise RuntimeError("AdaptiveLogSoftmaxWithLoss: 0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {list(input.shape)}")
        else:
            raise RuntimeError("AdaptiveLogSoftmaxWithLoss: 0D or 1D target tensor expected, multi-target not supported")
        batched = target.dim() == 1
        x = input if batched else input.unsqueeze(0)
        t = (target if batched else target.unsqueeze(0))._data.astype(xp.int64)
        if t.size and (t.min() < 0 or t.max() >= self.n_classes):
            raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: Target values should be in [0, {self.n_classes - 1}], "
                               f"but values in range [{t.min()}, {t.max()}] were found.")
        # each row's head entry: its class in the shortlist, else its cluster's entry
        cluster = xp.searchsorted(xp.asarray(self.cutoffs), t, side="right")  # 0: shortlist, i: tail cluster i
        head_index = xp.where(cluster == 0, t, self.shortlist_size + cluster - 1)
        head_logprob = log_softmax(self.head(x), 1)
        output = head_logprob.gather(1, Tensor._make(head_index[:, None])).reshape(t.shape[0])
        for i in range(1, self.n_clusters + 1):
            rows = xp.nonzero(cluster == i)[0]
            if rows.size == 0:
                continue
            rows_t = Tensor._make(rows)
            local = Tensor._make((t[rows] - self.cutoffs[i - 1])[:, None])
            logprob = log_softmax(self.tail[i - 1](x.index_select(0, rows_t)), 1).gather(1, local).reshape(rows.size)
            output = output.index_add(0, rows_t, logprob)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, input: Tensor, head_output: Tensor) -> Tensor:
        """Log-probabilities of every class (N, n_classes)."""
        head_logprob = log_softmax(head_output, 1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logprob = log_softmax(self.tail[i](input), 1)
            parts.append(cluster_logprob + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, 1)

    def log_prob(self, input: Tensor) -> Tensor:
        """Log-probabilities (N, n_classes) of every class for input (N, in_features)."""
        return self._full_log_prob(input, self.head(input))

    def predict(self, input: Tensor) -> Tensor:
        """The most likely class of each row of (N, in_features): ``argmax(log_prob(input), 1)``, skipping the
        tails when the head's best is already in the shortlist."""
        head_output = self.head(input)
        best = head_output.argmax(1)
        outside = best._data >= self.shortlist_size
        if outside.any():
            rows = Tensor._make(xp.nonzero(outside)[0])
            full = self._full_log_prob(input.index_select(0, rows), head_output.index_select(0, rows))
            best = best.clone()
            best._data[outside] = full.argmax(1)._data
        return best
