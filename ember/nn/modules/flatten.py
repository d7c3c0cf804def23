"""Flatten and Unflatten: reshape a range of dims into one, or one dim into several."""
from __future__ import annotations

from ..._tensor import Tensor
from .module import Module


class Flatten(Module):
    """Flatten dims ``start_dim`` to ``end_dim`` into one.

    Args:
        start_dim: first dim to flatten. Default: 1 (keeps the batch dim).
        end_dim: last dim to flatten. Default: -1.

    Shape:
        - Input: ``(*, S_start, ..., S_end, *)``
        - Output: ``(*, S_start * ... * S_end, *)``

    Example::

        >>> nn.Flatten()(ember.zeros(32, 1, 5, 5)).shape
        ember.Size([32, 25])
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dim ``dim`` into the shape ``unflattened_size``.

    Args:
        dim: the dim to unflatten.
        unflattened_size: the new shape of that dim (one entry may be -1).

    Shape:
        - Input: ``(*, S_dim, *)``
        - Output: ``(*, U_1, ..., U_n, *)``

    Example::

        >>> nn.Unflatten(1, (2, 5))(ember.zeros(2, 10)).shape
        ember.Size([2, 2, 5])
    """

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError(f"invalid argument type for dim parameter, expected `int` but got {type(dim)}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(isinstance(s, int) for s in unflattened_size):
            raise TypeError("unflattened_size must be tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
