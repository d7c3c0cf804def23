"""Embedding and EmbeddingBag: lookup tables of learnable vectors indexed by integers."""
from __future__ import annotations

from ..._tensor import Tensor
from ..._factories import empty
from .. import init
from .._functional import basic as F
from ..parameter import Parameter
from .module import Module


def _wrap_padding_idx(padding_idx: int | None, num_embeddings: int, name: str) -> int | None:
    """``padding_idx`` as a non-negative row (None stays None); ``name`` is how torch spells it in the error."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError(f"{name} must be within num_embeddings")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def _init_weight(m: Module, weight: Tensor | None, requires_grad: bool, dtype) -> None:
    """``m.weight``: the given ``weight`` (its shape checked), else N(0, 1) rows from ``m.reset_parameters``."""
    if weight is None:
        m.weight = Parameter(empty(m.num_embeddings, m.embedding_dim, dtype=dtype), requires_grad=requires_grad)
        m.reset_parameters()
        return
    if list(weight.shape) != [m.num_embeddings, m.embedding_dim]:
        raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
    m.weight = Parameter(weight, requires_grad=requires_grad)


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by index.

    Args:
        num_embeddings: number of rows.
        embedding_dim: size of each row.
        padding_idx: a row that gets no gradient (and starts at zero).
        max_norm: rows looked up with a larger ``norm_type``-norm are rescaled in place to it.
        norm_type: the p of that norm. Default: 2.
        scale_grad_by_freq: divide gradients by how often each index occurs in the batch.
        sparse: give the weight a sparse COO gradient (its looked-up rows) instead of a dense one.
        _weight: an initial weight to use instead of N(0, 1) draws.
        _freeze: make the weight not require grad.

    Shape:
        - Input: ``(*)`` integers
        - Output: ``(*, embedding_dim)``

    Example::

        >>> emb = nn.Embedding(10, 3, padding_idx=0)
        >>> emb(ember.tensor([[0, 2], [4, 9]])).shape
        ember.Size([2, 2, 3])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _wrap_padding_idx(padding_idx, num_embeddings, "Padding_idx")
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        _init_weight(self, _weight, not _freeze, dtype)

    def reset_parameters(self) -> None:
        """N(0, 1) rows, the padding row zeroed."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        """An Embedding whose weight is ``embeddings`` (2-D), frozen unless ``freeze=False``."""
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=embeddings,
                   _freeze=freeze)


class EmbeddingBag(Module):
    """Sums, means or maxima of bags of embedding vectors, without materialising the individual lookups.

    Args:
        num_embeddings: number of rows. embedding_dim: size of each row.
        max_norm: rows looked up with a larger ``norm_type``-norm are rescaled in place to it.
        norm_type: the p of that norm. Default: 2.
        scale_grad_by_freq: divide gradients by how often each index occurs (not with 'max').
        mode: ``'sum'``, ``'mean'`` (default) or ``'max'``.
        sparse: give the weight a sparse COO gradient (its looked-up rows) instead of a dense one.
        include_last_offset: ``offsets`` has one more entry, the end of the last bag.
        padding_idx: an index left out of its bag (and whose row gets no gradient).

    Shape:
        - input: ``(B, N)`` (B bags of N), or ``(T,)`` with ``offsets`` ``(B,)`` (``B + 1`` with
          ``include_last_offset``) giving where each bag starts.
        - per_sample_weights (mode 'sum' only): the input's shape.
        - Output: ``(B, embedding_dim)``.

    Example::

        >>> bag = nn.EmbeddingBag(10, 3, mode="sum")
        >>> bag(ember.tensor([1, 2, 4, 5, 4, 3]), ember.tensor([0, 4])).shape
        ember.Size([2, 3])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                 _weight: Tensor | None = None, include_last_offset: bool = False, padding_idx: int | None = None,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = _wrap_padding_idx(padding_idx, num_embeddings, "padding_idx")
        _init_weight(self, _weight, True, dtype)
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset

    reset_parameters = Embedding.reset_parameters

    def forward(self, input: Tensor, offsets: Tensor | None = None,
                per_sample_weights: Tensor | None = None) -> Tensor:
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                               self.mode, self.sparse, per_sample_weights, self.include_last_offset,
                               self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> "EmbeddingBag":
        """An EmbeddingBag whose weight is ``embeddings`` (2-D), frozen unless ``freeze=False``."""
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings, include_last_offset,
                  padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
