"""Functional forms of the basic layers: linear, bilinear, dropout, embedding."""
from __future__ import annotations

import math
import warnings

from ... import _backend
from ..._backend import matmul, ndarray, xp
from ..._dtype import is_half
from ..._ops.common import register
from ..._ops.nn_math import pad as _pad
from ..._tensor import Tensor
from ...amp import autocast_mode as _amp
from ...autograd.function import AccumulateGrad, Op
from ...autograd.forward_ad import total
from ...autograd.grad_mode import no_grad
from ...random import _bernoulli, _gen
from ...sparse import sparse_embedding_grad

__all__ = ["linear", "bilinear", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout", "embedding", "embedding_bag"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` over the last dim of ``input``."""
    if _amp.state.on:
        return _amp.call(linear, _amp.LOWER, input, weight, bias)
    if is_half(input._data.dtype) and weight._data.dtype is input._data.dtype:  # float32 sums, rounded once, as torch
        return linear(input.float(), weight.float(), None if bias is None else bias.float()).to(input.dtype)
    if input.shape[-1:] != weight.shape[-1:]:
        rows = input.numel() // max(input.shape[-1], 1) if input.dim() else 1
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1] if input.dim() else 1}"
                           f" and {weight.shape[-1]}x{weight.shape[0]})")
    if input._data.dtype != weight._data.dtype or (bias is not None and bias._data.dtype != weight._data.dtype):
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {input.dtype} and {weight.dtype}")
    return _Linear.apply(input, weight, bias)


class _Linear(Op):
    """``x @ W^T + b`` as one op (torch's addmm): one node instead of three, and a weight gradient
    computed as g^T x, laid out like the weight (row-major), which keeps the optimizer's passes fast.
    The backward uses only ``@``, ``reshape``, ``mT`` and ``sum``, which NumPy arrays share with tensors,
    so it also runs on raw arrays (``array_backward``)."""

    array_backward = True

    @staticmethod
    def forward(x, w, b):
        if x.ndim > 2 and x.flags.c_contiguous:  # one product, not one per leading index (NumPy's matmul)
            out = matmul(x.reshape(-1, x.shape[-1]), w.T).reshape(*x.shape[:-1], w.shape[0])
        else:
            out = matmul(x, w.T)
        if b is not None:
            _add_rows(out, b)
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, b = inputs
        ctx.save_for_backward(x if w._requires_grad else None, w if x._requires_grad else None)
        ctx.has_bias = b is not None

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        rows = math.prod(g.shape[:-1])  # not -1: a zero-size feature dim leaves -1 undetermined
        g2 = g.reshape(rows, g.shape[-1])
        gx = None if w is None else _mm(g2, w).reshape(*g.shape[:-1], w.shape[-1])
        gw = None if x is None else _mm(g2.mT, x.reshape(rows, x.shape[-1]))
        gb = _column_sums(g2) if ctx.has_bias else None
        return gx, gw, gb

    @staticmethod
    def jvp(inputs, out, tx, tw, tb):  # x W^T + b is linear in each input: one term each
        x, w, _ = inputs
        return total(None if tx is None else _Linear.apply(tx, w, None),
                     None if tw is None else _Linear.apply(x, tw, None), tb)


def _mm(a, b):
    """a @ b for arrays (on ember's threads) or tensors (recorded)."""
    return matmul(a, b) if isinstance(a, ndarray) else a @ b


def _wide(a, v):
    """``(a, v)`` for an operation of ``a`` (C-contiguous, last dim n) with the vector ``v`` (n,) broadcast over
    its rows, as a view of ``a`` with rows of 8K elements or more and ``v`` repeated to match: NumPy's loop over
    a broadcast operand restarts at every row, which costs as much as the arithmetic for rows of a few hundred
    (a (2048, 512) bias add 0.19 -> 0.14 ms; rows of 4K were slower). Unchanged where the rows cannot be joined."""
    n = v.size
    reps = math.gcd(a.size // max(n, 1), 1 << max(0, (8192 // max(n, 1)).bit_length() - 1))  # a power of 2
    if reps > 1 and n * reps >= 8192 and v.ndim == 1 and a.shape[-1:] == (n,) and a.flags.c_contiguous:
        vv = xp.empty((reps, n), v.dtype)
        xp.copyto(vv, v)  # (xp.tile costs 5 us, this 2)
        return a.reshape(-1, n * reps), vv.reshape(-1)
    return a, v


def _add_rows(out, b) -> None:
    """``out += b`` over the rows of ``out``, split between ember's threads when large."""
    wide, bb = _wide(out, b)
    if wide.ndim > 1:  # (rows: a 1-D out is one row of b)
        _backend.parallel_for(lambda i, j: xp.add(wide[i:j], bb, out=wide[i:j]), len(wide), wide.size)
    else:
        wide += bb


def _column_sums(g2):
    """Sums over the rows of a 2-D array, for arrays as products with a row of ones (BLAS's, several times
    faster than NumPy's reduction along the first axis), in blocks of rows shared between ember's threads with
    BLAS held to one thread (not waking BLAS's others); the blocks' sums added in order."""
    if not (isinstance(g2, ndarray) and g2.dtype.kind == "f" and g2.dtype.itemsize >= 4 and g2.size):
        return g2.sum(0)
    rows = len(g2)
    if _backend.get_threads() == 1 or rows < _backend.SPLIT_SIDE or g2.size < 2 * _backend.GRAIN:
        # the blocks below would all run on this thread: one product instead (a (1, n) matrix keeps to one
        # BLAS thread without holding BLAS's others)
        return matmul(xp.ones((1, rows), g2.dtype), g2)[0]
    parts = {}

    def run(i: int, j: int) -> None:
        parts[i] = xp.matmul(xp.ones((1, j - i), g2.dtype), g2[i:j])[0]
    _backend.parallel_blocks(run, rows, -(-rows // _backend.get_threads()), g2.size)
    sums = [parts[i] for i in sorted(parts)]
    for p in sums[1:]:
        sums[0] += p
    return sums[0]


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


def _keep(shape: tuple, p: float):
    """Which entries dropout keeps: torch's noise, bernoulli draws of 1 - p, so the same seed gives the
    same mask as torch wherever torch's generic kernel draws them (not on Intel CPUs, where it uses MKL's)."""
    return _bernoulli(_gen(None), tuple(shape), 1.0 - p)


def _masked(input: Tensor, mask_shape: tuple, p: float, inplace: bool) -> Tensor:
    """``input`` times a constant mask of kept (scaled by 1/(1-p)) and dropped (0) entries."""
    keep = _keep(mask_shape, p)
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
    if input.dim() == 2:  # torch warns and drops each (N, C) entry, as plain dropout would
        warnings.warn(f"dropout2d: Received a {input.dim()}-D input to dropout2d, which is deprecated; use dropout "
                      "instead (dropout2d drops channels of 3D or 4D inputs).", UserWarning, stacklevel=2)
        _check_p(p)
        return input if not training or p == 0.0 else _masked(input, input.shape, p, inplace)
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
        return input.mul_(0.0) if inplace else input * 0.0
    alpha_p = -1.7580993408473766  # SELU's saturation value, -scale * alpha
    a = ((1 - p) * (1 + p * alpha_p ** 2)) ** -0.5
    keep = Tensor._make(_keep(input.shape, p).astype(input._data.dtype))
    # dropped entries go to alpha_p; the affine map a*x + b restores zero mean and unit variance
    shift = ((1 - keep) * alpha_p) * a - a * alpha_p * p
    return input.mul_(keep * a).add_(shift) if inplace else input * (keep * a) + shift


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout with one draw per (N, C) channel, shared by all of that channel's positions."""
    _check_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * 0.0
    if input.dim() < 2:
        raise RuntimeError(f"feature_alpha_dropout: Feature dropout requires at least 2 dimensions in the input, "
                           f"but got an input of shape {list(input.shape)}")
    alpha = 1.7580993408473766  # -(SELU's saturation value)
    a = ((alpha * alpha * p + 1) * (1 - p)) ** -0.5
    keep = _keep(input.shape[:2] + (1,) * (input.dim() - 2), p)
    dt = input._data.dtype
    # kept entries map to a*x + a*alpha*p, dropped ones to a*alpha*(p - 1): zero mean and unit variance again
    scale = Tensor._make((keep * a).astype(dt))
    shift = Tensor._make(((keep - 1.0) * (alpha * a) + alpha * a * p).astype(dt))
    return input.mul_(scale).add_(shift) if inplace else input * scale + shift


# ----------------------------------------------------------------------------- embedding
class _Embedding(Op):
    """Row lookup ``weight[indices]``; its backward scatters rows back (``_EmbeddingBackward``), or with
    ``sparse`` hands the weight a sparse COO gradient holding the looked-up rows' gradients."""

    @staticmethod
    def forward(weight, indices, padding_idx, scale, sparse=False):
        return weight[indices]

    @staticmethod
    def setup_context(ctx, inputs, output):
        weight, ctx.indices, ctx.padding_idx, ctx.scale = inputs[:4]
        ctx.sparse = len(inputs) > 4 and inputs[4]
        ctx.num = weight.shape[0]

    @staticmethod
    def backward(ctx, g):
        if ctx.sparse:
            if ctx.scale:
                raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients")
            # a weight computed from others gets a dense gradient: ember's ops take no sparse gradients (torch
            # carries the sparse one through ops that have sparse kernels)
            if type(ctx.next_functions[0][0]) is AccumulateGrad:
                keep = None if ctx.padding_idx is None else ctx.indices.reshape(-1) != ctx.padding_idx
                return (sparse_embedding_grad(g, ctx.indices, ctx.num, keep),) + (None,) * 4
        return _EmbeddingBackward.apply(g, ctx.indices, ctx.num, ctx.padding_idx, ctx.scale), None, None, None

    @staticmethod
    def jvp(inputs, out, t, *_):  # linear in the weight: the tangent's rows (not a transposed sparse backward)
        return _Embedding.apply(t, inputs[1], None, False)


class _EmbeddingBackward(Op):
    """Sum output-gradient rows into their weight rows, skipping ``padding_idx``; linear in ``g``,
    so its own backward is a lookup again (double backward)."""

    @staticmethod
    def forward(g, indices, num, padding_idx, scale):
        flat = indices.reshape(-1)
        rows = g.reshape(flat.size, g.shape[-1])
        if padding_idx is not None or scale:
            rows = rows * _row_factor(flat, padding_idx, scale, g.dtype)[:, None]
        out = xp.zeros((num, rows.shape[1]), dtype=g.dtype)
        _scatter_add_rows(out, flat, rows)
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.indices, _, ctx.padding_idx, ctx.scale = inputs

    @staticmethod
    def backward(ctx, gg):
        flat = ctx.indices.reshape(-1)
        factor = _row_factor(flat, ctx.padding_idx, ctx.scale, gg._data.dtype).reshape(ctx.indices.shape + (1,))
        return _Embedding.apply(gg, ctx.indices, None, False) * Tensor._make(factor), None, None, None, None


def _scatter_add_rows(out, flat, rows, most_repeats: int = 64) -> None:
    """``out[flat[i]] += rows[i]`` for every i, in that order (so the sums into a zero ``out`` are torch's,
    bit for bit). NumPy's add.at does this one element at a time. Instead the rows are grouped by index (a
    stable sort keeps each group's order); the k-th rows of all groups are added together, one vectorised
    addition per k, as many as the most repeated index has rows. When the groups are about even (a small
    vocabulary) they are laid out as a (k, group) table padded with zeros, so that each addition is one
    contiguous pass; otherwise each round scatters its rows. Past ``most_repeats`` rounds (a padding token
    everywhere), add.at is the faster."""
    if flat.size == 0:
        return
    order = xp.argsort(flat, kind="stable")
    keys = flat[order]
    first = xp.r_[True, keys[1:] != keys[:-1]]
    starts = xp.flatnonzero(first)
    group = xp.cumsum(first) - 1
    rank = xp.arange(keys.size) - starts[group]
    rounds = int(rank.max()) + 1
    if rounds * starts.size <= 4 * keys.size:  # x + 0 is x: the padding changes no sum
        table = xp.zeros((rounds, starts.size, rows.shape[1]), rows.dtype)
        where = xp.empty_like(order)
        where[order] = rank * starts.size + group  # each row's place in the table, in the rows' own order
        table.reshape(-1, rows.shape[1])[where] = rows
        for k in range(1, rounds):
            table[0] += table[k]
        out[keys[starts]] += table[0]
        return
    rows = rows[order]
    if rounds > most_repeats:
        xp.add.at(out, keys, rows)
        return
    for k in range(rounds):
        sel = rank == k
        out[keys[sel]] += rows[sel]


def _row_factor(flat: xp.ndarray, padding_idx, scale: bool, dtype) -> xp.ndarray:
    """Per-lookup gradient factor: 0 at ``padding_idx``, 1/count with ``scale_grad_by_freq``."""
    factor = xp.ones(flat.shape, dtype=dtype)
    if scale:
        counts = xp.bincount(flat)
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
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D, got weight of size {list(weight.shape)}")
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
    if sparse:
        return _Embedding.apply(weight, idx, padding_idx, scale_grad_by_freq, True)
    return _Embedding.apply(weight, idx, padding_idx, scale_grad_by_freq)


def _renorm_rows(weight: Tensor, idx: xp.ndarray, max_norm: float, norm_type: float) -> None:
    """Rescale, in place, the looked-up rows whose norm exceeds ``max_norm`` (torch does this without grad)."""
    with no_grad():
        rows = xp.unique(idx)
        w = weight._data
        norms = xp.linalg.norm(w[rows].astype(xp.float64), ord=norm_type, axis=1)
        big = norms > max_norm
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
        weight._version += 1


# ----------------------------------------------------------------------------- embedding bag
def _bags(input: Tensor, offsets: Tensor | None, include_last_offset: bool):
    """Flat indices, each one's bag (-1: past the last offset, dropped), and the number of bags."""
    idx = input._data
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets)}")
        b, length = idx.shape
        return idx.reshape(-1), xp.repeat(xp.arange(b), length), b
    if input.dim() != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    if offsets.dim() != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    offs = offsets._data.astype(xp.int64)
    if offs.size and offs[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                           f"position 0. However, got {offs[0]}")
    if (xp.diff(offs) < 0).any() or (offs.size and offs[-1] > idx.size):
        raise RuntimeError("embedding_bag: offsets must be non-decreasing and at most the number of indices")
    starts = offs[:-1] if include_last_offset else offs
    bag = xp.searchsorted(starts, xp.arange(idx.size), side="right") - 1
    if include_last_offset and offs.size:
        bag[offs[-1]:] = -1
    return idx, bag, len(starts)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxima of bags of embedding rows, without building the (bags, length, dim) lookup.

    Bags are the rows of a 2-D ``input``, or the runs of a 1-D ``input`` that start at ``offsets``.
    Entries equal to ``padding_idx`` are left out of their bag; an empty bag gives zeros.
    """
    from ... import zeros
    if per_sample_weights is not None and input.shape != per_sample_weights.shape:
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, then it "
                         f"must have the same shape as the input ({input.shape})")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  f"GitHub.")
    flat, bag, nbags = _bags(input, offsets, include_last_offset)
    n = weight.shape[0]
    if flat.size and (flat.min() < 0 or flat.max() >= n):
        bad = flat[(flat < 0) | (flat >= n)][0]
        raise RuntimeError(f"embedding_bag: Expected idx >= 0 && idx < num_embeddings but found idx to be {bad}")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError("padding_idx must be within num_embeddings")
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx
    if max_norm is not None:
        _renorm_rows(weight, flat, max_norm, norm_type)
    keep = bag >= 0
    if padding_idx is not None:
        keep &= flat != padding_idx
    flat, bag = flat[keep], bag[keep]
    rows = _Embedding.apply(weight, flat, None, scale_grad_by_freq, sparse)  # (kept, dim)
    dim = weight.shape[1]
    counts = xp.bincount(bag, minlength=nbags)
    if mode == "max":
        # a dense (bags, longest, dim) block, so the max is one reduction; padded slots can never win
        pos = xp.arange(len(bag)) - xp.searchsorted(bag, bag)
        slots = xp.zeros((nbags, max(int(counts.max(initial=0)), 1)), dtype=xp.int64)
        filled = xp.zeros(slots.shape, dtype=bool)
        slots[bag, pos], filled[bag, pos] = xp.arange(len(bag)), True
        if not len(bag):
            return zeros(nbags, dim, dtype=weight.dtype)
        dense = _Embedding.apply(rows, slots, None, False).masked_fill(Tensor._make(~filled[..., None]),
                                                                       float("-inf"))
        best = dense.amax(1)
        return best.masked_fill(Tensor._make((counts == 0)[:, None]), 0.0)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1)[Tensor._make(xp.flatnonzero(keep))].unsqueeze(1)
    out = zeros(nbags, dim, dtype=weight.dtype).index_add(0, Tensor._make(bag), rows)
    if mode == "mean":  # summed, then divided, as torch's kernel
        out = out / Tensor._make(xp.maximum(counts, 1)[:, None].astype(weight._data.dtype))
    return out


# ----------------------------------------------------------------------------- aten's forms
@register(method=False)
def constant_pad_nd(input: Tensor, pad, value: float = 0) -> Tensor:
    """aten's constant padding (negative pads crop): ``pad(input, pad, 'constant', value)``."""
    return _pad(input, pad, "constant", value)


@register(method=False)
def native_dropout_backward(grad_output: Tensor, mask: Tensor, scale: float) -> Tensor:
    """The input gradient of dropout from its kept-element mask: ``grad_output * mask * scale``."""
    return grad_output * mask * scale
