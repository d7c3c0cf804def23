"""GradBucket: what DistributedDataParallel hands a communication hook, as torch.distributed.GradBucket."""
from __future__ import annotations

from .._tensor import Tensor


class GradBucket:
    """A bucket of gradients ready to be reduced: one flat buffer, and the parameters it holds.

    ``gradients()`` are views of ``buffer()``, one per parameter, in the order of ``parameters()``.
    """

    def __init__(self, index: int, buffer: Tensor, params: list, slots: list, is_last: bool) -> None:
        self._index, self._buffer, self._params, self._slots, self._is_last = index, buffer, params, slots, is_last

    def index(self) -> int:
        """The bucket's position in the order the buckets are reduced (0 first)."""
        return self._index

    def buffer(self) -> Tensor:
        """The flattened gradients of every parameter of the bucket."""
        return self._buffer

    def set_buffer(self, buffer: Tensor) -> None:
        """Replace the bucket's buffer (a hook that compresses it, as ``fp16_compress_wrapper``)."""
        self._buffer = buffer

    def gradients(self) -> list[Tensor]:
        """Each parameter's gradient, as a view of ``buffer()`` shaped like the parameter."""
        return [self._buffer[offset:offset + n].view(p.shape) for p, (offset, n) in zip(self._params, self._slots)]

    def parameters(self) -> list[Tensor]:
        """The parameters whose gradients the bucket holds."""
        return list(self._params)

    def is_last(self) -> bool:
        """Whether this is the last bucket of the backward pass (the last to be reduced)."""
        return self._is_last

    def __repr__(self) -> str:
        return f"GradBucket(index={self._index}, parameters={len(self._params)}, numel={self._buffer.numel()})"
