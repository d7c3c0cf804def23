"""Variable-length sequences, as ``torch.nn.utils.rnn``: padding them into one batch tensor, and packing
them into a ``PackedSequence`` (the steps of every sequence, longest first, interleaved time step by
time step) that the recurrent layers accept.

Packing and unpacking are index gathers (plus one padding row), so both are differentiable.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..._tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "unpad_sequence",
           "pack_sequence", "unpack_sequence", "invert_permutation"]


def _long(values) -> Tensor:
    from ... import tensor, int64
    return tensor(np.asarray(values, dtype=np.int64), dtype=int64)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation that undoes ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    p = permutation.numpy()
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size)
    return _long(inv)


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A batch of variable-length sequences packed by time step.

    ``data`` holds, for each time step ``t``, the ``batch_sizes[t]`` sequences still running, in the
    order of decreasing length; ``sorted_indices[j]`` is the original batch position of the ``j``-th
    longest sequence and ``unsorted_indices`` its inverse (both None when the batch came sorted).
    Build one with ``pack_padded_sequence`` or ``pack_sequence``, never by hand.
    """

    __slots__ = ()

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None, sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> "PackedSequence":
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _with_data(self, data: Tensor) -> "PackedSequence":
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def to(self, *args, **kwargs) -> "PackedSequence":
        """The same packing with ``data.to(*args, **kwargs)``."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._with_data(data)

    def double(self) -> "PackedSequence":
        return self._with_data(self.data.double())

    def float(self) -> "PackedSequence":
        return self._with_data(self.data.float())

    def cpu(self) -> "PackedSequence":
        return self

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def _lengths_array(lengths) -> np.ndarray:
    arr = lengths.numpy() if isinstance(lengths, Tensor) else np.asarray(lengths)
    return arr.astype(np.int64).reshape(-1)


def _pack_rows(lengths_sorted: np.ndarray, order: np.ndarray, batch: int) -> tuple:
    """Rows of a time-major ``(T * batch, *)`` view that make up the packed data, and the batch sizes."""
    steps = int(lengths_sorted[0])
    batch_sizes = (lengths_sorted[None, :] > np.arange(steps)[:, None]).sum(1)
    rows = np.concatenate([t * batch + order[:bs] for t, bs in enumerate(batch_sizes)])
    return rows, batch_sizes


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch ``(T, B, *)`` (``(B, T, *)`` if ``batch_first``) of sequences of ``lengths``.

    With ``enforce_sorted`` the lengths must be in decreasing order; otherwise they are sorted here
    and the permutation is kept in the result.
    """
    lengths = _lengths_array(lengths)
    if enforce_sorted:
        if np.any(lengths[:-1] < lengths[1:]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                               "to sidestep this requirement if you do not need ONNX exportability.")
        order, sorted_indices = np.arange(lengths.size), None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = _long(order)
    if batch_first:
        input = input.transpose(0, 1)
    if lengths.size != input.shape[1]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {lengths.size} (batch_size="
                           f"{input.shape[1]})")
    lengths_sorted = lengths[order]
    if lengths_sorted[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    if lengths_sorted[0] > input.shape[0]:
        raise RuntimeError(f"Expected sequence length to be larger than or equal to the maximum length "
                           f"{lengths_sorted[0]}, but got {input.shape[0]}")
    rows, batch_sizes = _pack_rows(lengths_sorted, order, input.shape[1])
    data = input.reshape(-1, *input.shape[2:])[_long(rows)]
    return PackedSequence(data, _long(batch_sizes), sorted_indices, None)


def _pack_like(padded: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a time-major padded batch (in original batch order) with the layout of ``like``."""
    batch_sizes = like.batch_sizes.numpy()
    order = np.arange(batch_sizes[0]) if like.sorted_indices is None else like.sorted_indices.numpy()
    rows = np.concatenate([t * padded.shape[1] + order[:bs] for t, bs in enumerate(batch_sizes)])
    return like._with_data(padded.reshape(-1, *padded.shape[2:])[_long(rows)])


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: ``(padded batch, lengths)``, in the original batch order.

    ``total_length`` pads to that many steps instead of the longest sequence's length.
    """
    from ... import cat, full
    data = sequence.data
    batch_sizes = sequence.batch_sizes.numpy()
    steps, batch = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {steps}")
        steps = total_length
    lengths_sorted = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1)
    rank = np.arange(batch) if sequence.unsorted_indices is None else sequence.unsorted_indices.numpy()
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    t = np.arange(steps)[:, None]
    valid = t < lengths_sorted[rank][None, :]
    rows = np.where(valid, offsets[np.minimum(t, len(batch_sizes) - 1)] + rank[None, :], data.shape[0])
    pad_row = full((1, *data.shape[1:]), padding_value, dtype=data.dtype)
    padded = cat([data, pad_row])[_long(rows.reshape(-1))].reshape(steps, batch, *data.shape[1:])
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, _long(lengths_sorted[rank])


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors of shape ``(L_i, *)`` into ``(L_max, B, *)`` (``(B, L_max, *)`` if ``batch_first``),
    filling with ``padding_value``. Differentiable: built from ``pad`` and ``stack``."""
    from ... import stack
    from ..functional import pad
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        short = longest - s.shape[0]
        widths = (0, 0) * (s.dim() - 1) + ((0, short) if padding_side == "right" else (short, 0))
        padded.append(pad(s, widths, value=padding_value) if short else s)
    return stack(padded, dim=0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into its sequences of ``lengths``."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:int(n)] for seq, n in zip(padded_sequences, _lengths_array(lengths))]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of tensors of shape ``(L_i, *)``."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences a ``PackedSequence`` holds, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
