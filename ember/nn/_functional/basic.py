"""Functional forms of the basic layers: linear, bilinear, dropout, embedding."""
from __future__ import annotations

import numpy as np

from ..._backend import xp
from ..._tensor import Tensor
from ...autograd.function import Op
from ...autograd.grad_mode import no_grad
from ...random import _gen

__all__ = ["linear", "bilinear", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "embedding"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` over the last dim of ``input``."""
    if input.shape[-1:] != weight.shape[-1:]:
        rows = input.numel() // max(input.shape[-1], 1) if input.dim() else 1
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1] if input.dim() else 1}"
                           f" and {weight.shape[-1]}x{weight.shape[0]})")
    out = input.matmul(weight.t())
    return out if bias is None else out + bias


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_k = x1^T W_k x2 + b_k`` over the last dims of ``input1`` and ``input2``."""
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
                           f"{list(input2.shape[:-1])}")
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): input sizes {input1.shape[-1]} and {input2.shape[-1]} do not match weight "
                           f"of shape {list(weight.shape)}")
    from ... import einsum
    out = einsum("...i,kij,...j->...k", input1, weight, input2)
    return out if bias is None else out + bias


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _masked(input: Tensor, mask_shape: tuple, p: float, inplace: bool) -> Tensor:
    """``input`` times a constant mask of kept (scaled by 1/(1-p)) and dropped (0) entries."""
    keep = _gen(None).random(mask_shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = Tensor._make((keep * scale).astype(input._data.dtype))
    return input.mul_(mask) if inplace else input * mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` during training and scale the rest by ``1/(1-p)``."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _masked(input, input.shape, p, inplace)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool, name: str, spatial: int) -> Tensor:
    """Drop whole channels: the mask covers (N, C) and broadcasts over ``spatial`` trailing dims."""
    _check_p(p)
    if input.dim() not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"{name}: Expected {spatial + 1}D or {spatial + 2}D input, but received a {input.dim()}D "
                           f"input. Note that {name} exists to provide channel-wise dropout on inputs with "
                           f"{spatial} spatial dimension{'s' if spatial > 1 else ''}, a channel dimension, and an "
                           "optional batch dimension.")
    if not training or p == 0.0:
        return input
    return _masked(input, input.shape[:-spatial] + (1,) * spatial, p, inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of a (N, C, L) or (C, L) input with probability ``p``."""
    return _feature_dropout(input, p, training, inplace, "dropout1d", 1)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of a (N, C, H, W) input with probability ``p`` (3-D input: channel-wise 1-D)."""
    if input.dim() == 3:
        # torch reads a 3-D input as (N, C, L) here, not as an unbatched (C, H, W)
        return _feature_dropout(input, p, training, inplace, "dropout2d", 1)
    return _feature_dropout(input, p, training, inplace, "dropout2d", 2)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of a (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
    return _feature_dropout(input, p, training, inplace, "dropout3d", 3)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout that keeps SELU's zero mean and unit variance (dropped entries go to SELU's saturation)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    alpha_p = -1.7580993408473766  # SELU's saturation value, -scale * alpha
    a = ((1 - p) * (1 + p * alpha_p ** 2)) ** -0.5
    keep = Tensor._make((_gen(None).random(input.shape) >= p).astype(input._data.dtype))
    # dropped entries go to alpha_p; the affine map a*x + b restores zero mean and unit variance
    return (input * keep + (1 - keep) * alpha_p) * a - a * alpha_p * p


# ----------------------------------------------------------------------------- embedding
class _Embedding(Op):
    """Row lookup ``weight[indices]``; its backward scatters rows back (``_EmbeddingBackward``)."""

    @staticmethod
    def forward(weight, indices, padding_idx, scale):
        return weight[indices]

    @staticmethod
    def setup_context(ctx, inputs, output):
        weight, ctx.indices, ctx.padding_idx, ctx.scale = inputs
        ctx.num = weight.shape[0]

    @staticmethod
    def backward(ctx, g):
        return _EmbeddingBackward.apply(g, ctx.indices, ctx.num, ctx.padding_idx, ctx.scale), None, None, None


class _EmbeddingBackward(Op):
    """Sum output-gradient rows into their weight rows, skipping ``padding_idx``; linear in ``g``,
    so its own backward is a lookup again (double backward)."""

    @staticmethod
    def forward(g, indices, num, padding_idx, scale):
        flat = indices.reshape(-1)
        rows = g.reshape(flat.size, -1) * _row_factor(flat, padding_idx, scale, g.dtype)[:, None]
        out = xp.zeros((num, rows.shape[1]), dtype=g.dtype)
        np.add.at(out, flat, rows)
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.indices, _, ctx.padding_idx, ctx.scale = inputs

    @staticmethod
    def backward(ctx, gg):
        flat = ctx.indices.reshape(-1)
        factor = _row_factor(flat, ctx.padding_idx, ctx.scale, gg._data.dtype).reshape(ctx.indices.shape + (1,))
        return _Embedding.apply(gg, ctx.indices, None, False) * Tensor._make(factor), None, None, None, None


def _row_factor(flat: np.ndarray, padding_idx, scale: bool, dtype) -> np.ndarray:
    """Per-lookup gradient factor: 0 at ``padding_idx``, 1/count with ``scale_grad_by_freq``."""
    factor = np.ones(flat.shape, dtype=dtype)
    if scale:
        counts = np.bincount(flat)
        factor = factor / counts[flat]
    if padding_idx is not None:
        factor[flat == padding_idx] = 0
    return factor


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` at the integer ``input``; the ``padding_idx`` row gets no gradient."""
    if input._data.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for embedding)")
    idx = input._data
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError("index out of range in self")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    return _Embedding.apply(weight, idx, padding_idx, scale_grad_by_freq)


def _renorm_rows(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Rescale, in place, the looked-up rows whose norm exceeds ``max_norm`` (torch does this without grad)."""
    with no_grad():
        rows = np.unique(idx)
        w = weight._data
        norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
        big = norms > max_norm
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
        weight._version += 1
