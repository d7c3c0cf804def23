"""pdist, the distances between all pairs of rows (cosine_similarity and pairwise_distance live in
ember._ops.nn_math, as they are also ``ember.*`` functions)."""
from __future__ import annotations

from ..._backend import xp

from ..._tensor import Tensor

__all__ = ["pdist"]


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The p-norm distance between each pair of rows ``i < j`` of an (N, M) input, as an (N*(N-1)/2,) vector."""
    from ...linalg import vector_norm
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not input.is_floating_point():
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = xp.triu_indices(input.shape[0], 1)
    return vector_norm(input[Tensor._make(i)] - input[Tensor._make(j)], p, -1)
