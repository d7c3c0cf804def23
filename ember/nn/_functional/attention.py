"""Attention, as torch.nn.functional: scaled dot-product attention and multi-head attention.

The core ``softmax(q k^T * scale + mask) v`` is one op (``_Attention``) when no dropout sits
inside it: the weights are made once, in place, kept for backward, and the mask is applied
without an additive copy. Otherwise (dropout, broadcast batch dims, a mask that requires grad)
it is a composition of ember ops (matmul, softmax, masked_fill).
"""
from __future__ import annotations

import math

from ..._backend import parallel_for, xp
from ..._dtype import bool_, is_half
from ..._tensor import Tensor
from ...amp import autocast_mode as _amp
from ...autograd.function import Op
from ...autograd.grad_mode import state
from ..._factories import ones, zeros
from ..._ops.shape import cat, stack
from ..._ops.nn_math import softmax
from .basic import dropout, linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _apply_mask(scores: Tensor, mask: Tensor | None, keep_when_true: bool) -> Tensor:
    """Add a float mask, or set the excluded positions of a bool mask to -inf."""
    if mask is None:
        return scores
    if mask.dtype.is_floating_point:
        return scores + mask
    return scores.masked_fill(mask.logical_not() if keep_when_true else mask, float("-inf"))


class _Attention(Op):
    """``softmax(q * scale @ k^T, masked) @ v`` over the last two dims; ``excluded`` is a bool array
    (True = left out), a float array added to the scores, or None. Outputs: the result and the
    weights (not differentiable; the weights are what backward keeps). Forward and (without
    create_graph) backward run on slices of the batch dim, one per ember thread, each product on one
    BLAS thread: the products are small, and BLAS's own threads would be woken for each one."""

    differentiable_outputs = (0,)
    array_backward = True

    @staticmethod
    def forward(q, k, v, excluded, scale, seq_major=False):
        w = xp.empty(q.shape[:-1] + (k.shape[-2],), q.dtype)
        out = _empty(q.shape[:-1] + (v.shape[-1],), q.dtype, seq_major)
        _attend(q, k, v, excluded, scale, w, out)
        return out, w

    @staticmethod
    def setup_context(ctx, inputs, output):
        q, k, v, ctx.excluded, ctx.scale, *seq_major = inputs
        ctx.seq_major = bool(seq_major and seq_major[0])
        ctx.save_for_backward(q, k, v, Tensor._make(output[1]))

    @staticmethod
    def backward(ctx, g, _=None):
        q, k, v, w = ctx.saved_tensors
        if state.enabled:  # create_graph: the weights again, as ops of q and k, so this formula differentiates
            return (*_composed_grads(g, q, k, v, ctx.excluded, ctx.scale), None, None, None)
        wrap = Tensor._make if isinstance(g, Tensor) else (lambda a: a)
        g, q, k, v, w = (t._data if isinstance(t, Tensor) else t for t in (g, q, k, v, w))
        gq, gk, gv = (_empty(t.shape, t.dtype, ctx.seq_major) for t in (q, k, v))
        _attend_grads(g, q, k, v, w, ctx.scale, gq, gk, gv)
        return wrap(gq), wrap(gk), wrap(gv), None, None, None


class _SelfAttention(Op):
    """Multi-head self-attention's core on the packed in-projection ``qkv`` (N, L, 3 E) of a batch-first input:
    ``_Attention`` over its heads, the output (N, L, E) with the heads side by side (what the output projection
    takes), and backward writing the gradients of q, k and v into one (N, L, 3 E) array. Through ``_Attention``
    the three would be split, permuted and their gradients concatenated (a copy and ten nodes a layer)."""

    differentiable_outputs = (0,)
    array_backward = True

    @staticmethod
    def forward(qkv, excluded, scale, heads):
        n, l, e3 = qkv.shape
        w = xp.empty((n, heads, l, l), qkv.dtype)
        out = xp.empty((n, l, e3 // 3), qkv.dtype)
        _attend(*_packed_heads(qkv, heads), excluded, scale, w, _heads(out, heads))
        return out, w

    @staticmethod
    def setup_context(ctx, inputs, output):
        qkv, ctx.excluded, ctx.scale, ctx.heads = inputs
        ctx.save_for_backward(qkv, Tensor._make(output[1]))

    @staticmethod
    def backward(ctx, g, _=None):
        qkv, w = ctx.saved_tensors
        if state.enabled:  # create_graph: _Attention's formula on the heads, as ops
            grads = _composed_grads(_heads(g, ctx.heads), *_packed_heads(qkv, ctx.heads), ctx.excluded, ctx.scale)
            n, l, e3 = qkv.shape
            return stack([t.permute(0, 2, 1, 3) for t in grads], 2).reshape(n, l, e3), None, None, None
        wrap = Tensor._make if isinstance(g, Tensor) else (lambda a: a)
        g, qkv, w = (t._data if isinstance(t, Tensor) else t for t in (g, qkv, w))
        gqkv = xp.empty(qkv.shape, qkv.dtype)
        _attend_grads(_heads(g, ctx.heads), *_packed_heads(qkv, ctx.heads), w, ctx.scale,
                      *_packed_heads(gqkv, ctx.heads))
        return wrap(gqkv), None, None, None


def _heads(a, heads: int):
    """(N, L, E) as (N, heads, L, E / heads), a view (array or tensor)."""
    n, l, e = a.shape
    return a.reshape(n, l, heads, e // heads).permute(0, 2, 1, 3) if isinstance(a, Tensor) else \
        a.reshape(n, l, heads, e // heads).transpose(0, 2, 1, 3)


def _packed_heads(qkv, heads: int) -> tuple:
    """q, k and v of a packed (N, L, 3 E) projection, each (N, heads, L, E / heads), views (arrays or tensors)."""
    n, l, e3 = qkv.shape
    parts = qkv.reshape(n, l, 3, heads, e3 // (3 * heads))
    parts = parts.permute(2, 0, 3, 1, 4) if isinstance(qkv, Tensor) else parts.transpose(2, 0, 3, 1, 4)
    return parts[0], parts[1], parts[2]


def _attend(q, k, v, excluded, scale, w, out) -> None:
    """``_Attention``'s forward into ``w`` (the weights) and ``out``, on slices of the batch dim between ember's
    threads, each product on one BLAS thread: the products are small, and BLAS's own threads would be woken
    for each one."""
    keep = _kept(excluded, q.dtype)

    def run(a: int, b: int) -> None:
        i = _batch(q, a, b)
        s = xp.matmul(q[i] * xp.asarray(scale, q.dtype), xp.swapaxes(k[i], -1, -2), out=w[i])
        if s.size and (keep is not None or excluded is None) and -_EXP_SAFE <= s.min() and s.max() <= _EXP_SAFE:
            # exp cannot overflow, nor a row's sum vanish: no row maxima to subtract (NumPy's reduction
            # along a short last axis costs more than the exp), and the mask zeroes exp's values
            xp.exp(s, out=s)
            if keep is not None:
                s *= _batch_of(keep, i, w.ndim)
        else:
            ex = _batch_of(excluded, i, w.ndim)
            if ex is not None:
                if ex.dtype == bool:
                    xp.copyto(s, -xp.inf, where=ex)
                else:
                    s += ex
            s -= s.max(axis=-1, keepdims=True)       # softmax in place: s becomes the weights
            xp.exp(s, out=s)
        s /= _last_sums(s)
        xp.matmul(s, v[i], out=out[i])
    _split(run, q, k.shape[-2] * (q.shape[-1] + v.shape[-1]))


def _attend_grads(g, q, k, v, w, scale: float, gq, gk, gv) -> None:
    """``_Attention``'s backward (arrays) into gq, gk, gv, split as ``_attend``."""
    def run(a: int, b: int) -> None:
        i = _batch(q, a, b)
        gs = xp.matmul(g[i], xp.swapaxes(v[i], -1, -2))
        gs -= _last_sums(gs * w[i])
        gs *= w[i]
        gs *= scale
        xp.matmul(gs, k[i], out=gq[i])
        xp.matmul(xp.swapaxes(gs, -1, -2), q[i], out=gk[i])
        xp.matmul(xp.swapaxes(w[i], -1, -2), g[i], out=gv[i])
    _split(run, q, 2 * k.shape[-2] * (q.shape[-1] + v.shape[-1]))


def _composed_grads(g: Tensor, q: Tensor, k: Tensor, v: Tensor, excluded, scale: float) -> tuple:
    """The gradients of q, k and v as ember ops (differentiable), the weights made again from q and k."""
    w = _composed_weights(q, k, excluded, scale)
    gw = g @ v.mT
    gs = w * (gw - (gw * w).sum(-1, keepdim=True)) * scale
    return gs @ k, gs.mT @ q, w.mT @ g


def _empty(shape: tuple, dtype, seq_major: bool):
    """An array of ``shape`` (N, heads, L, E); with ``seq_major``, laid out as (N, L, heads, E) in memory (a
    permuted view), as multi-head attention joins the heads next: its permute and reshape then copy nothing."""
    if seq_major and len(shape) == 4:
        n, h, l, e = shape
        return xp.empty((n, l, h, e), dtype).transpose(0, 2, 1, 3)
    return xp.empty(shape, dtype)


# |scores| up to this: exp(scores) neither overflows (a row of 10^12 keys sums below float32's max) nor
# underflows to zero, so softmax can skip subtracting each row's maximum
_EXP_SAFE = 60.0


def _kept(excluded, dtype):
    """The mask as factors (1 kept, 0 left out) for weights made by exp, or None where it is not one: a float
    mask that adds finite values, or no mask."""
    if excluded is None:
        return None
    if excluded.dtype == bool:
        return (~excluded).astype(dtype)
    if excluded.dtype.kind == "f" and xp.all((excluded == 0) | (excluded == -xp.inf)):
        return (excluded == 0).astype(dtype)
    return None


def _batch(q, a: int, b: int):
    """The index of batch slice [a, b) (everything for an unbatched q)."""
    return slice(a, b) if q.ndim > 2 else Ellipsis


def _batch_of(mask, i, ndim: int):
    """A mask's part for batch slice ``i`` (all of it where it broadcasts over the batch)."""
    return mask if mask is None or mask.ndim < ndim or mask.shape[0] == 1 else mask[i]


def _split(run, q, macs_per_row: int) -> None:
    """``run`` over slices of q's leading dim on ember's threads, by size only (reproducible)."""
    n = q.shape[0] if q.ndim > 2 else 1
    parallel_for(run, n, q.size // q.shape[-1] * macs_per_row, blas=True)


def _last_sums(a):
    """Sums over the last dim, kept: a matrix-vector product, several times faster than NumPy's reduction
    along a short last axis."""
    if not a.size:
        return a.sum(-1, keepdims=True)
    flat = a.reshape(-1, a.shape[-1])
    return (flat @ xp.ones(a.shape[-1], a.dtype)).reshape(a.shape[:-1] + (1,))


def _composed_weights(q: Tensor, k: Tensor, excluded, scale: float) -> Tensor:
    scores = (q * scale) @ k.mT
    if excluded is not None:
        scores = scores.masked_fill(Tensor._make(excluded), float("-inf")) if excluded.dtype == bool else \
            scores + Tensor._make(excluded)
    return softmax(scores, -1)


def _fused(q: Tensor, k: Tensor, v: Tensor, excluded: Tensor | None) -> bool:
    """Whether ``_Attention`` can take these: one shared batch shape, a mask that is a constant."""
    return (q.dim() >= 2 and q.shape[:-2] == k.shape[:-2] == v.shape[:-2] and q.dtype == k.dtype == v.dtype
            and q.dtype.is_floating_point and (excluded is None or not excluded.requires_grad))


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(Q K^T * scale + mask) V`` over the last two dims, as torch's.

    Args:
        query: ``(..., L, E)``; key ``(..., S, E)``; value ``(..., S, Ev)``.
        attn_mask: bool (True = take part) or float (added to the scores), broadcastable to ``(..., L, S)``.
        dropout_p: dropout on the attention weights (always applied when > 0, as torch's).
        is_causal: mask out keys after each query; excludes ``attn_mask``.
        scale: defaults to ``1 / sqrt(E)``.

    Example::

        >>> q = ember.randn(2, 4, 8)
        >>> F.scaled_dot_product_attention(q, q, q, is_causal=True).shape
        ember.Size([2, 4, 8])
    """
    if _amp.state.on:
        return _amp.call(scaled_dot_product_attention, _amp.LOWER, query, key, value, attn_mask, dropout_p,
                         is_causal, scale, enable_gqa)
    if dropout_p == 0.0 and query.dtype is key.dtype is value.dtype and is_half(query._data.dtype):
        # in float32, rounded once; torch's flash kernel also rounds its probabilities: they agree to 1 ulp
        mask = attn_mask.float() if attn_mask is not None and attn_mask.dtype is query.dtype else attn_mask
        return scaled_dot_product_attention(query.float(), key.float(), value.float(), mask, dropout_p, is_causal,
                                            scale, enable_gqa).to(query.dtype)
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query and key must have the same embedding size, got "
                           f"{list(query.shape)} and {list(key.shape)}")
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if is_causal:
        attn_mask = ones(L, S).tril().bool()
    if dropout_p == 0.0 and _fused(query, key, value, attn_mask):
        excluded = None if attn_mask is None else (
            attn_mask._data if attn_mask.dtype.is_floating_point else ~attn_mask._data)
        return _Attention.apply(query, key, value, excluded, scale)[0]
    scores = (query * scale) @ key.transpose(-2, -1)
    weights = softmax(_apply_mask(scores, attn_mask, keep_when_true=True), -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value


def _in_projection(query, key, value, in_proj_weight, in_proj_bias, q_w, k_w, v_w):
    """q, k, v projections: slices of the packed ``in_proj_weight`` or the three separate weights."""
    if in_proj_weight is not None:
        q_w, k_w, v_w = in_proj_weight.chunk(3)
    biases = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
    return linear(query, q_w, biases[0]), linear(key, k_w, biases[1]), linear(value, v_w, biases[2])


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k, bias_v,
                                 add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
                                 out_proj_bias: Tensor | None, training: bool = True,
                                 key_padding_mask: Tensor | None = None, need_weights: bool = True,
                                 attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
                                 q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
                                 v_proj_weight: Tensor | None = None, static_k=None, static_v=None,
                                 average_attn_weights: bool = True, is_causal: bool = False):
    """Multi-head attention on time-major ``(L, N, E)`` (or unbatched ``(L, E)``) inputs, as torch's.

    Masks: ``key_padding_mask`` ``(N, S)`` and ``attn_mask`` ``(L, S)`` or ``(N * heads, L, S)``;
    a bool mask is True where attention is NOT allowed, a float mask is added to the scores.
    Returns ``(output (L, N, E), weights)``, weights ``(N, L, S)`` averaged over heads,
    ``(N, heads, L, S)`` otherwise, or None without ``need_weights``.
    """
    batched = query.dim() == 3
    if query.dim() not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D "
                             "query tensor")
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    S = key.shape[0]
    if E != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    if E % num_heads:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {num_heads}")
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")
    hd = E // num_heads
    if use_separate_proj_weight:
        in_proj_weight = None
    batch_major = False
    qkv = None
    if query is key is value and in_proj_weight is not None and bias_k is None and not add_zero_attn and \
            static_k is None and static_v is None:
        # self-attention: q, k and v from one product, on the (N, L, E) layout when that is how the input
        # is stored (a batch_first module's), so that the product and the output projection are 2-D
        batch_major = query.transpose(0, 1).is_contiguous()
        x = query.transpose(0, 1) if batch_major else query
        qkv = linear(x, in_proj_weight, in_proj_bias)
        extra = 0
    else:
        q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias, q_proj_weight, k_proj_weight,
                                 v_proj_weight)
        k, v, extra = _extend_keys(k, v, N, num_heads, hd, bias_k, bias_v, add_zero_attn, static_k, static_v)
        q = _split_heads(q, N, num_heads, hd)

    if is_causal and attn_mask is None:  # torch's: is_causal is only a hint about a mask given
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    mask = None
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (L, S):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but should be "
                                   f"{(L, S)}.")
            mask = attn_mask
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (N * num_heads, L, S):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but should be "
                                   f"{(N * num_heads, L, S)}.")
            mask = attn_mask.reshape(N, num_heads, L, S)
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (N, S):
            raise AssertionError(f"expecting key_padding_mask shape of {(N, S)}, but got "
                                 f"{tuple(key_padding_mask.shape)}")
        kpm = key_padding_mask.reshape(N, 1, 1, S)
        mask = kpm if mask is None else _merge_masks(mask, kpm)
    if mask is not None and extra:  # the appended keys (bias_k, a zero key) are never masked
        mask = cat([mask, zeros((*mask.shape[:-1], extra), dtype=mask.dtype)], -1)
    fuse = not need_weights and (dropout_p == 0.0 or not training)
    if fuse and batch_major and qkv.dtype.is_floating_point and (mask is None or not mask.requires_grad):
        out = _SelfAttention.apply(qkv, None if mask is None else mask._data, 1.0 / math.sqrt(hd), num_heads)[0]
        out = linear(out, out_proj_weight, out_proj_bias).transpose(0, 1)
        return (out if batched else out.squeeze(1)), None
    if qkv is not None:
        q, k, v = (t.reshape(*t.shape[:2], num_heads, hd).permute((0, 2, 1, 3) if batch_major else (1, 2, 0, 3))
                   for t in qkv.chunk(3, -1))
    if fuse and _fused(q, k, v, mask):
        out = _Attention.apply(q, k, v, None if mask is None else mask._data, 1.0 / math.sqrt(hd), batch_major)[0]
        if batch_major:
            out = linear(out.permute(0, 2, 1, 3).reshape(N, L, E), out_proj_weight, out_proj_bias).transpose(0, 1)
        else:
            out = linear(out.permute(2, 0, 1, 3).reshape(L, N, E), out_proj_weight, out_proj_bias)
        return (out if batched else out.squeeze(1)), None
    scores = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-2, -1)
    weights = softmax(_apply_mask(scores, mask, keep_when_true=False), -1)
    if dropout_p > 0.0 and training:
        weights = dropout(weights, dropout_p, True)
    out = (weights @ v).permute(2, 0, 1, 3).reshape(L, N, E)
    out = linear(out, out_proj_weight, out_proj_bias)
    if not need_weights:
        weights = None
    elif average_attn_weights:
        weights = weights.mean(1)
    if not batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights


def _batch_first_self_attention(x: Tensor, heads: int, in_proj_weight: Tensor, in_proj_bias, out_proj_weight: Tensor,
                                out_proj_bias, attn_mask: Tensor | None, is_causal: bool) -> Tensor | None:
    """A batch-first module's self-attention without weights or dropout on its (N, L, E) input as it is: what
    ``multi_head_attention_forward`` computes on the time-major view, without the four transposes (nodes) in and
    out. None where the general path must run: a mask other than None or one (L, L) constant of x's dtype or bool
    (``is_causal`` is only a hint about the mask), an input not laid out batch-first."""
    _, length, e = x.shape
    if not x.is_contiguous() or not x.dtype.is_floating_point or e % heads or in_proj_weight.shape != (3 * e, e):
        return None
    if attn_mask is None:
        if is_causal:
            return None
        excluded = None
    elif attn_mask.dim() == 2 and tuple(attn_mask.shape) == (length, length) and not attn_mask.requires_grad and \
            attn_mask.dtype in (x.dtype, bool_):
        excluded = attn_mask._data
    else:
        return None
    qkv = linear(x, in_proj_weight, in_proj_bias)
    out = _SelfAttention.apply(qkv, excluded, 1.0 / math.sqrt(e // heads), heads)[0]
    return linear(out, out_proj_weight, out_proj_bias)


def _extend_keys(k, v, N, heads, hd, bias_k, bias_v, add_zero_attn, static_k, static_v):
    """Keys and values as (N, heads, S, hd): projected or given (static_k/v), then with bias_k/bias_v and a
    zero key/value appended as torch's add_bias_kv and add_zero_attn do; also how many keys were appended."""
    if (bias_k is None) != (bias_v is None):
        raise AssertionError("multi_head_attention_forward: bias_k and bias_v must be given together")
    extra = int(bias_k is not None) + int(bool(add_zero_attn))
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key or value.")
        k = cat([k, bias_k.reshape(1, 1, -1).expand(1, N, k.shape[-1])])
        v = cat([v, bias_v.reshape(1, 1, -1).expand(1, N, v.shape[-1])])
    k = _split_heads(k, N, heads, hd) if static_k is None else _static(static_k, "key", N, heads, hd)
    v = _split_heads(v, N, heads, hd) if static_v is None else _static(static_v, "value", N, heads, hd)
    if add_zero_attn:
        k, v = (cat([t, zeros((N, heads, 1, hd), dtype=t.dtype)], 2) for t in (k, v))
    return k, v, extra


def _split_heads(t: Tensor, N: int, heads: int, hd: int) -> Tensor:
    """(S, N, E) as (N, heads, S, hd)."""
    return t.reshape(t.shape[0], N, heads, hd).permute(1, 2, 0, 3)


def _static(t: Tensor, name: str, N: int, heads: int, hd: int) -> Tensor:
    """A given static key or value, (N * heads, S, hd), as (N, heads, S, hd)."""
    if t.dim() != 3 or t.shape[0] != N * heads or t.shape[2] != hd:
        raise AssertionError(f"expecting static_{name[0]} of shape ({N * heads}, S, {hd}), but got "
                             f"{tuple(t.shape)}")
    return t.reshape(N, heads, t.shape[1], hd)


def _merge_masks(a: Tensor, b: Tensor) -> Tensor:
    """Combine two masks where True/-inf means excluded: bool masks by OR, otherwise as float additions."""
    if not a.dtype.is_floating_point and not b.dtype.is_floating_point:
        return a.logical_or(b)
    as_float = lambda m: m if m.dtype.is_floating_point else zeros(m.shape).masked_fill(m, float("-inf"))  # noqa: E731
    return as_float(a) + as_float(b)
