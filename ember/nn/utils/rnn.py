"""Padding variable-length sequences into one batch tensor, as ``torch.nn.utils.rnn``."""
from __future__ import annotations

from ..._tensor import Tensor


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
