"""Connectionist temporal classification loss (Graves et al., 2006), as torch.nn.functional.ctc_loss.

Each target is extended with blanks (``b l1 b l2 ... lL b``) and the probability of all alignments is
summed in log space by the forward (alpha) recursion, one time step at a time, vectorized over the batch
and the extended positions. The gradient is torch's: with beta the backward recursion,
``exp(log_probs) - exp(logsumexp_{s: l'_s = c}(alpha + beta) + nll - log_probs)``, which is the
gradient for log_probs that come from a log_softmax (torch's kernel computes exactly that, and so do we
to give the same numbers). As in torch, this gradient is not differentiable again.
"""
from __future__ import annotations

from ..._backend import xp
from ..._tensor import Tensor
from ...amp import autocast_mode as _amp
from ...autograd.function import Op

__all__ = ["ctc_loss"]

_NEG_INF = -xp.inf


def _logsumexp(*terms):
    """Elementwise log(sum(exp(terms))), -inf where every term is -inf."""
    m = terms[0]
    for t in terms[1:]:
        m = xp.maximum(m, t)
    safe = xp.where(xp.isfinite(m), m, 0.0)
    with xp.errstate(divide="ignore"):
        return safe + xp.log(sum(xp.exp(t - safe) for t in terms))


def _shifted(a, k: int):
    """a[..., s - k] along the last axis (k > 0 from below, k < 0 from above), -inf where out of range."""
    out = xp.full_like(a, _NEG_INF)
    if k > 0:
        out[..., k:] = a[..., :-k]
    else:
        out[..., :k] = a[..., -k:]
    return out


def _alpha(lp, ext, skip):
    """Log forward variables (T, N, S') and the emissions: the log prob of each extended label at each time."""
    T, N = lp.shape[:2]
    rows = xp.arange(N)[:, None]
    emit = lp[:, rows, ext]
    alpha = xp.full(emit.shape, _NEG_INF, dtype=lp.dtype)
    alpha[0, :, :2] = emit[0, :, :2]
    for t in range(1, T):
        prev = alpha[t - 1]
        alpha[t] = emit[t] + _logsumexp(prev, _shifted(prev, 1), xp.where(skip, _shifted(prev, 2), _NEG_INF))
    return alpha, emit


def _beta(emit, skip, in_len, ends):
    """Log backward variables (T, N, S'), each including the emission at its own time."""
    T, N = emit.shape[:2]
    beta = xp.full(emit.shape, _NEG_INF, dtype=emit.dtype)
    skip_up = xp.zeros_like(skip)  # s -> s + 2 allowed: the step s - 2 -> s of the forward recursion
    skip_up[:, :-2] = skip[:, 2:]
    n = xp.arange(N)
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            nxt = beta[t + 1]
            beta[t] = emit[t] + _logsumexp(nxt, _shifted(nxt, -1), xp.where(skip_up, _shifted(nxt, -2), _NEG_INF))
        last = n[in_len - 1 == t]
        for s in (ends[last], ends[last] - 1):
            ok = s >= 0
            beta[t, last[ok], s[ok]] = emit[t, last[ok], s[ok]]
    return beta


def _nll(alpha, in_len, tgt_len):
    """Each sample's negative log likelihood (N,): its paths end at time in_len - 1 on the last label or blank."""
    n = xp.arange(alpha.shape[1])
    last = alpha[in_len - 1, n]  # (N, S')
    end = 2 * tgt_len
    final = _logsumexp(last[n, end], xp.where(tgt_len > 0, last[n, xp.maximum(end - 1, 0)], _NEG_INF))
    # no time steps: only the empty target has an alignment
    return (-xp.where(in_len > 0, final, xp.where(tgt_len == 0, 0.0, _NEG_INF))).astype(alpha.dtype)


class CTCLoss(Op):
    """Per-sample negative log likelihood (N,) of the targets; infinite ones zeroed with ``zero_infinity``."""

    @staticmethod
    def forward(lp, ext, skip, in_len, tgt_len, zero_infinity):
        nll = _nll(_alpha(lp, ext, skip)[0], in_len, tgt_len)
        return xp.where(xp.isinf(nll), 0.0, nll).astype(lp.dtype) if zero_infinity else nll

    @staticmethod
    def setup_context(ctx, inputs, output):
        lp, ext, skip, in_len, tgt_len, ctx.zero_infinity = inputs
        ctx.arrays = (ext, skip, in_len, tgt_len)
        ctx.save_for_backward(lp)

    @staticmethod
    def backward(ctx, g):
        (lp,) = ctx.saved_tensors
        return CTCLossGrad.apply(g, lp, *ctx.arrays, ctx.zero_infinity), None, None, None, None, None


class CTCLossGrad(Op):
    """torch's CTC gradient for log_probs (T, N, C), scaled per sample by the incoming gradient (N,)."""

    @staticmethod
    def forward(g, lp, ext, skip, in_len, tgt_len, zero_infinity):
        T, N, C = lp.shape
        alpha, emit = _alpha(lp, ext, skip)
        nll = _nll(alpha, in_len, tgt_len)
        beta = _beta(emit, skip, in_len, 2 * tgt_len)
        valid = xp.arange(ext.shape[1]) <= 2 * tgt_len[:, None]  # (N, S'): real extended positions
        ab = xp.where(valid, alpha + beta, _NEG_INF)
        # lcab[t, n, c]: log of the summed alpha * beta over the positions of class c (a scaled one-hot sum)
        m = ab.max(-1, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0.0)
        onehot = (ext[:, :, None] == xp.arange(C)) & valid[:, :, None]  # (N, S', C)
        with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            total = xp.einsum("tns,nsc->tnc", xp.exp(ab - m), onehot.astype(lp.dtype))
            lcab = xp.log(total) + m
            grad = xp.exp(lp) - xp.exp(lcab + nll[None, :, None] - lp)
        grad = xp.where((xp.arange(T)[:, None] < in_len)[:, :, None], grad, 0.0)
        if zero_infinity:
            grad = xp.where(xp.isinf(nll)[None, :, None], 0.0, grad)
        return (grad * g[None, :, None]).astype(lp.dtype, copy=False)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("ctc_loss: the derivative of ctc_loss's backward is not implemented (nor is it in torch)")


def _lengths(v, op: str, name: str):
    arr = v._data if isinstance(v, Tensor) else xp.asarray(v)
    if arr.dtype.kind not in "iu" and arr.size:
        raise RuntimeError(f"{op}: {name} must be integers, got {arr.dtype}")
    return arr.astype(xp.int64).reshape(-1)


@_amp.fp32
def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """CTC loss of log_probs (T, N, C) (or (T, C)) against targets (N, S) padded, or concatenated 1-D.

    ``reduction='mean'`` divides each sample's loss by its target length, then averages over the batch.
    """
    op = "ctc_loss"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    batched = log_probs.dim() == 3
    if log_probs.dim() not in (2, 3):
        raise RuntimeError(f"{op}: expected log_probs to be 2-D (T, C) or 3-D (T, N, C), got {list(log_probs.shape)}")
    if not log_probs.is_floating_point():
        raise RuntimeError(f"{op}: expected floating point log_probs, got {log_probs.dtype}")
    lp = log_probs if batched else log_probs.unsqueeze(1)
    T, N, C = lp.shape
    tg = targets._data if isinstance(targets, Tensor) else xp.asarray(targets)
    # torch casts targets of any dtype to int64 (float labels from torch.Tensor(list) are common in scripts)
    tg = tg.astype(xp.int64)
    if not batched:
        tg = tg.reshape(1, -1)
    in_len, tgt_len = _lengths(input_lengths, op, "input_lengths"), _lengths(target_lengths, op, "target_lengths")
    if in_len.size != N:
        raise RuntimeError(f"{op}: input_lengths must be of size batch_size ({N}), got {in_len.size}")
    if tgt_len.size != N:
        raise RuntimeError(f"{op}: target_lengths must be of size batch_size ({N}), got {tgt_len.size}")
    if not 0 <= blank < C:
        raise RuntimeError(f"{op}: blank must be in label range [0, {C}), got {blank}")
    if (in_len < 0).any() or (in_len > T).any():
        raise RuntimeError(f"{op}: Expected input_lengths to have value at most {T} (and at least 0), but got "
                           f"{in_len.tolist()}")
    if (tgt_len < 0).any():
        raise RuntimeError(f"{op}: Expected target_lengths to be non-negative, got {tgt_len.tolist()}")
    L = int(tgt_len.max(initial=0))
    if tg.ndim == 1:  # concatenated targets
        if tg.size < tgt_len.sum():
            raise RuntimeError(f"{op}: targets has {tg.size} elements, fewer than the {int(tgt_len.sum())} the "
                               "target_lengths sum to")
        starts = xp.concatenate([[0], xp.cumsum(tgt_len)[:-1]]).astype(xp.int64)
        pos = starts[:, None] + xp.arange(L)
        labels = xp.where(xp.arange(L) < tgt_len[:, None], tg[xp.minimum(pos, max(tg.size - 1, 0))], blank)
    else:
        if tg.shape[1] < L:
            raise RuntimeError(f"{op}: Expected tensor to have size at least {L} at dimension 1, but got size "
                               f"{tg.shape[1]} for argument #2 'targets' (while checking arguments for ctc_loss)")
        labels = xp.where(xp.arange(L) < tgt_len[:, None], tg[:, :L], blank)
    labels = labels.reshape(N, L).astype(xp.int64)
    if ((labels < 0) | (labels >= C)).any():
        raise RuntimeError(f"{op}: target labels must be in [0, {C})")
    ext = xp.full((N, 2 * L + 1), blank, dtype=xp.int64)
    ext[:, 1::2] = labels
    # a label may follow the previous label directly (skipping the blank) unless the two are equal
    skip = xp.zeros(ext.shape, dtype=bool)
    skip[:, 3::2] = labels[:, 1:] != labels[:, :-1]
    nll = CTCLoss.apply(lp, ext, skip, in_len, tgt_len, bool(zero_infinity))
    if not batched:
        nll = nll.reshape(())
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    divisor = Tensor._make(xp.maximum(tgt_len, 1).astype(lp._data.dtype).reshape(nll.shape))
    return (nll / divisor).mean()
