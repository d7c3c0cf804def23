"""Loss functions, as torch.nn.functional: each maps (input, target) to a per-element loss and reduces it.

Most are compositions of ember ops (so they need no backward of their own). Two are
fused primitives: ``nll_loss``'s pick of one log-probability per sample (an index
gather whose backward is a constant one-hot scale), and ``binary_cross_entropy``,
whose clamped logs would give a zero gradient where torch's formula does not.
"""
from __future__ import annotations

import math
import warnings

from ..._backend import xp
from ..._dtype import is_half

from ..._ops.common import _type_name
from ..._tensor import Tensor
from ...amp import autocast_mode as _amp
from ...autograd import function as _function
from ...autograd.function import Op
from ...autograd.grad_mode import state

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss",
           "margin_ranking_loss", "triplet_margin_loss", "soft_margin_loss", "hinge_embedding_loss",
           "gaussian_nll_loss", "poisson_nll_loss", "multi_margin_loss", "multilabel_margin_loss",
           "multilabel_soft_margin_loss", "triplet_margin_with_distance_loss"]


def _reduction(size_average, reduce, reduction: str) -> str:
    """The reduction named by the legacy ``size_average``/``reduce`` flags, when given."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='{}' instead.".format(
        ("mean" if size_average else "sum") if reduce else "none"))
    return ("mean" if size_average else "sum") if reduce else "none"


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _pointwise(input: Tensor, target: Tensor) -> Tensor:
    """``input - target``, warning (as torch) when the shapes differ and broadcasting decides."""
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", stacklevel=3)
    return input - target


# ----------------------------------------------------------------------------- regression
@_amp.fp32
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``(input - target)^2``."""
    d = _pointwise(input, target)
    loss = d * d
    return _reduce(loss if weight is None else loss * weight, _reduction(size_average, reduce, reduction))


@_amp.fp32
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|``."""
    loss = _pointwise(input, target).abs()
    return _reduce(loss if weight is None else loss * weight, _reduction(size_average, reduce, reduction))


def _quadratic_then_linear(d: Tensor, cut: float, linear_scale: float, quad_scale: float) -> Tensor:
    """``quad_scale * d^2 / 2`` for ``|d| < cut``, ``linear_scale * (|d| - cut/2)`` beyond."""
    from ... import where
    a = d.abs()
    return where(a < cut, (0.5 * quad_scale) * d * d, linear_scale * (a - 0.5 * cut))


@_amp.fp32
def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Squared error (divided by ``beta``) below ``beta``, absolute error above."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = _pointwise(input, target)
    loss = d.abs() if beta == 0 else _quadratic_then_linear(d, beta, 1.0, 1.0 / beta)
    return _reduce(loss, _reduction(size_average, reduce, reduction))


@_amp.fp32
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Squared error below ``delta``, ``delta``-scaled absolute error above."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    loss = _quadratic_then_linear(_pointwise(input, target), delta, delta, 1.0)
    return _reduce(loss if weight is None else loss * weight, reduction)


# ----------------------------------------------------------------------------- classification
class _NLL(Op):
    """Per-sample ``-weight[t] * logp[n, t]`` (0 where ``t == ignore_index``) for (N, C, *) input."""

    batching = "nll"

    @staticmethod
    def forward(logp, target, weight, ignore_index):
        picked, factor = _nll_parts(logp, target, weight, ignore_index)
        return -picked * factor

    @staticmethod
    def setup_context(ctx, inputs, output):
        logp, target, weight, ignore_index = inputs
        _, factor = _nll_parts(logp._data, target, weight, ignore_index)
        onehot = xp.zeros(logp.shape, dtype=logp._data.dtype)
        xp.put_along_axis(onehot, _safe(target, ignore_index)[:, None], -factor[:, None], axis=1)
        ctx.save_for_backward(Tensor._make(onehot))  # constant: d loss / d logp

    @staticmethod
    def backward(ctx, g):
        (scale,) = ctx.saved_tensors
        return g.unsqueeze(1) * scale, None, None, None


def _safe(target: xp.ndarray, ignore_index: int) -> xp.ndarray:
    """Targets with ignored entries replaced by class 0, so they can index."""
    return xp.where(target == ignore_index, 0, target)


def _nll_parts(logp: xp.ndarray, target: xp.ndarray, weight, ignore_index: int):
    """The picked log-probabilities and each sample's factor ``weight[t]`` (0 if ignored)."""
    t = _safe(target, ignore_index)
    picked = xp.take_along_axis(logp, t[:, None], axis=1)[:, 0]
    factor = (weight[t] if weight is not None else xp.ones(t.shape, dtype=logp.dtype)) * (target != ignore_index)
    return picked, factor.astype(logp.dtype)


_TARGET_DTYPES = (xp.dtype(xp.int64), xp.dtype(xp.uint8))  # torch's kernels take these two only


def _check_nll(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int) -> None:
    shape, tshape = input._data.shape, target._data.shape
    if not shape:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    if target._data.dtype not in _TARGET_DTYPES:
        raise RuntimeError(f"nll_loss: expected target dtype to be Long or Byte, but got {target.dtype}")
    batched = len(shape) >= 2
    if batched and shape[0] != (tshape[0] if tshape else -1):
        raise ValueError(f"Expected input batch_size ({shape[0]}) to match target batch_size "
                         f"({tshape[0] if tshape else 0}).")
    expected = shape[:1] + shape[2:] if batched else ()
    if tshape != expected:
        raise RuntimeError(f"Expected target size {list(expected)}, got {list(tshape)}")
    c = shape[1] if batched else shape[0]
    if weight is not None and weight.dtype != input.dtype:
        raise RuntimeError(f"nll_loss: expected scalar type {_type_name(input.dtype)} but found "
                           f"{_type_name(weight.dtype)} (the weight's)")
    if weight is not None and weight.shape != (c,):
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but got "
                           f"weight tensor of shape: {list(weight.shape)}")
    t = target._data
    if t.size and (t.min() < 0 or t.max() >= c):  # out of bounds, or ignored
        t = t[t != ignore_index]
        if t.size and (t.min() < 0 or t.max() >= c):
            bad = t[(t < 0) | (t >= c)][0]
            raise IndexError(f"Target {bad} is out of bounds.")


@_amp.fp32
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``input`` (N, C, *)."""
    if is_half(input._data.dtype):  # summed in float32 and rounded once, as torch's kernel
        w = None if weight is None else weight.float()
        return nll_loss(input.float(), target, w, size_average, ignore_index, reduce, reduction).to(input.dtype)
    reduction = _reduction(size_average, reduce, reduction)
    _check_nll(input, target, weight, ignore_index)
    unbatched = input.dim() == 1
    logp = input.unsqueeze(0) if unbatched else input
    t = target._data.reshape(1) if unbatched else target._data
    w = None if weight is None else weight._data.astype(input._data.dtype)
    loss = _NLL.apply(logp, t, w, ignore_index)
    if unbatched:
        loss = loss.reshape(())
    if reduction == "mean":
        total = float(_nll_parts(logp._data, t, w, ignore_index)[1].sum())
        # no counted target: torch's nan value, but zero (not nan) gradients
        return loss.sum() / total if total else loss.sum() + float("nan")
    return _reduce(loss, reduction)


_EXP_SAFE = 60.0


class _CrossEntropy(Op):
    """cross_entropy of (N, C) logits and class indices (no class weights, no smoothing) as one op. Forward
    makes exp(x - max) and its row sums and reads each target's log-probability from them (no full
    log_softmax); backward scales those exponentials into softmax minus the one-hot target: one pass over
    the logits where log_softmax's and nll_loss's nodes made five. Outputs: the loss, then the exponentials
    and their row sums (not differentiable) for backward."""

    differentiable_outputs = (0,)
    array_backward = True

    @staticmethod
    def forward(x, t, ignore_index, reduction):
        # logits within +-60: exp can neither overflow nor a row's sum vanish, so no row maxima to subtract
        # (NumPy's reduction along a short last axis and the subtraction cost (2048, 65) 145 us, min and max 17)
        z = x if -_EXP_SAFE <= x.min() and x.max() <= _EXP_SAFE else x - x.max(axis=1, keepdims=True)
        e = xp.exp(z)
        total = e @ xp.ones(x.shape[1], x.dtype)  # row sums as a matrix-vector product (BLAS: faster)
        keep = t != ignore_index
        kept = int(xp.count_nonzero(keep))
        rows = xp.arange(len(t))
        if kept == len(t):  # the common case: no target ignored
            losses = xp.log(total) - z[rows, t]
        else:
            losses = (xp.log(total) - z[rows, xp.where(keep, t, 0)]) * keep
        if reduction == "none":
            return losses, e, total
        loss = losses.sum(dtype=x.dtype)
        if reduction == "mean":
            loss = loss / kept if kept else x.dtype.type("nan")  # every target ignored: torch's nan
        return loss, e, total

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.t, ctx.ignore_index, ctx.reduction = inputs
        ctx.save_for_backward(x, Tensor._make(output[1]), Tensor._make(output[2]))

    @staticmethod
    def backward(ctx, g, *_):
        x, e, total = ctx.saved_tensors
        t, keep = ctx.t, ctx.t != ctx.ignore_index
        kept = int(xp.count_nonzero(keep))
        div = max(kept, 1) if ctx.reduction == "mean" else 1  # nothing kept: zero gradients, as torch
        if state.enabled:  # create_graph: the gradient as ops of x (differentiable again)
            from ..._ops.nn_math import softmax
            onehot = xp.zeros(x.shape, x._data.dtype)
            onehot[xp.arange(len(t))[keep], t[keep]] = 1
            scale = g * Tensor._make(keep.astype(x._data.dtype)) / div
            return (softmax(x, 1) - Tensor._make(onehot)) * (scale.unsqueeze(1) if scale.dim() else scale), \
                None, None, None
        wrap = Tensor._make if isinstance(g, Tensor) else (lambda a: a)
        g, e, total = (a._data if isinstance(a, Tensor) else a for a in (g, e, total))
        scale = (g * keep / div).astype(e.dtype)  # each row's share of the incoming gradient
        gx = e * (scale / total)[:, None]
        rows = xp.arange(len(t)) if kept == len(t) else xp.nonzero(keep)[0]
        gx[rows, t[rows]] -= scale[rows]
        return wrap(gx), None, None, None


@_amp.fp32
def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between logits ``input`` (N, C, *) and class indices or class probabilities.

    Computed through ``log_softmax`` (subtracting the max logit), so logits of any size are stable.
    """
    from .. import functional as F
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    cdim = 0 if input.dim() == 1 else 1
    c = input.shape[cdim]
    if (weight is None and label_smoothing == 0 and input.dim() == 2 and _function.transform is None
            and input._data.dtype in (xp.float32, xp.float64) and not target.is_floating_point() and input.numel()):
        _check_nll(input, target, None, ignore_index)
        return _CrossEntropy.apply(input, target._data, int(ignore_index), reduction)[0]
    logp = F.log_softmax(input, cdim)
    wshape = (c,) + (1,) * (input.dim() - cdim - 1)  # broadcasts a class weight over the class dim
    if target.is_floating_point():
        if target.shape != input.shape and cdim == 1 and target.dim() >= 1 and target.shape[0] != input.shape[0]:
            raise ValueError(f"cross_entropy: Expected input batch_size ({input.shape[0]}) to match target "
                             f"batch_size ({target.shape[0]}).")
        if target.shape != input.shape:
            raise RuntimeError(f"cross_entropy: expected target of shape {list(input.shape)} (class probabilities) "
                               f"but got {list(target.shape)}")
        if ignore_index >= 0:  # torch's check: a non-default index has no meaning for probabilities
            raise RuntimeError("cross_entropy: ignore_index is not supported for floating point target")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / c
        terms = logp * target if weight is None else logp * target * weight.reshape(wshape)
        loss = -terms.sum(cdim)
        if reduction == "mean":
            return loss.sum() / (input.numel() / c) if input.numel() else loss.sum() * float("nan")
        return _reduce(loss, reduction)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return nll
    terms = logp if weight is None else logp * weight.reshape(wshape)
    kept = Tensor._make((target._data != ignore_index).astype(input._data.dtype))
    smooth = -terms.sum(cdim) * kept
    if reduction == "mean":
        if weight is None:
            denom = float(kept._data.sum(dtype=xp.float64))  # not in bfloat16, whose sums stop at 256
        else:
            denom = float(weight._data[_safe(target._data, ignore_index)][target._data != ignore_index].sum(
                dtype=xp.float64))
        smooth = smooth.sum() / denom
    else:
        smooth = _reduce(smooth, reduction)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / c)


class _BCE(Op):
    """Elementwise ``-(t log x + (1 - t) log(1 - x))`` with each log clamped at -100, as torch."""

    @staticmethod
    def forward(x, t):
        with xp.errstate(divide="ignore"):
            return -(t * xp.maximum(xp.log(x), -100) + (1 - t) * xp.maximum(xp.log1p(-x), -100))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g):
        from ... import clamp
        x, t = ctx.saved_tensors
        gx = g * (x - t) / clamp((1 - x) * x, min=1e-12) if ctx.needs_input_grad[0] else None
        # torch leaves these logs unclamped: the target gradient is infinite at x = 0 or 1
        gt = g * ((1 - x).log() - x.log()) if ctx.needs_input_grad[1] else None
        return gx, gt


@_amp.fp32
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """Binary cross entropy between probabilities ``input`` and ``target`` (logs clamped at -100)."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    x = input._data
    if x.size and ((x < 0) | (x > 1) | xp.isnan(x)).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    loss = _BCE.apply(input, target.to(input.dtype))
    return _reduce(loss if weight is None else loss * weight, reduction)


@_amp.fp32
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross entropy in one stable expression: ``(1-t) x + w_t softplus(-x)``."""
    from .. import functional as F
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    # softplus(-x) = -log(sigmoid(x)) without overflow for large |x|
    neg_log_sig = F.softplus(-input)
    lw = 1 if pos_weight is None else (pos_weight - 1) * target + 1
    loss = (1 - target) * input + lw * neg_log_sig
    return _reduce(loss if weight is None else loss * weight, reduction)


@_amp.fp32
def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL divergence ``target * (log target - input)`` with ``input`` given as log-probabilities."""
    from ... import where
    reduction = _reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        zero = target == 0
        # t log t is 0 at t = 0 (and nan below 0, as torch's xlogy); the inner where keeps log away from 0
        loss = where(zero, 0.0, target * where(zero, 1.0, target).log()) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.dim() else loss.sum()
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- embedding / ranking
def _check_reduction(reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


@_amp.fp32
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` for target 1, ``max(0, cos(x1, x2) - margin)`` for target -1."""
    from ... import where
    reduction = _reduction(size_average, reduce, reduction)
    if input1.shape != input2.shape:
        raise RuntimeError(f"cosine_embedding_loss: input1 and input2 must have the same shape, got "
                           f"{list(input1.shape)} and {list(input2.shape)}")
    eps = 1e-12
    dot = (input1 * input2).sum(-1)
    cos = dot / ((input1 * input1).sum(-1) + eps).mul((input2 * input2).sum(-1) + eps).sqrt()
    zero = cos * 0
    loss = where(target == 1, 1 - cos, zero) + where(target == -1, (cos - margin).clamp(min=0), zero)
    return _reduce(loss, reduction)


@_amp.fp32
def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, -target * (x1 - x2) + margin)``."""
    reduction = _reduction(size_average, reduce, reduction)
    if not (input1.dim() == input2.dim() == target.dim()):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def _pairwise_distance(a: Tensor, b: Tensor, p: float, eps: float) -> Tensor:
    """``||a - b + eps||_p`` over the last dim."""
    d = (a - b + eps).abs()
    if p == math.inf:
        return d.amax(-1)
    return (d ** p).sum(-1) ** (1.0 / p)


@_amp.fp32
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, margin + d(anchor, positive) - d(anchor, negative))``."""
    from ... import minimum
    reduction = _reduction(size_average, reduce, reduction)
    if not (anchor.dim() == positive.dim() == negative.dim()):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.dim()}D, positive {positive.dim()}D, and negative "
                           f"{negative.dim()}D inputs")
    if margin <= 0:
        raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, _pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)


@_amp.fp32
def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """``log(1 + exp(-target * input))``."""
    from .. import functional as F
    return _reduce(F.softplus(-target * input), _reduction(size_average, reduce, reduction))


@_amp.fp32
def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """``input`` where target is 1, ``max(0, margin - input)`` where target is -1 (both terms elsewhere, as torch)."""
    from ... import where, zeros_like
    zero = zeros_like(input)  # not input * 0, which is nan at an infinite input
    loss = where(target != -1, input, zero) + where(target != 1, (margin - input).clamp(min=0), zero)
    return _reduce(loss, _reduction(size_average, reduce, reduction))


# ----------------------------------------------------------------------------- likelihood losses
def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under N(input, var): ``(log var + (input - target)^2 / var) / 2``.

    ``var`` may have the input's shape, or one dim fewer (or size 1 there) for one variance per vector;
    it is raised to ``eps`` in value only, so its gradient is not cut off.
    """
    from ... import ones_like
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = ones_like(input) * var
    elif bool((var._data < 0).any()):
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif input.dim() == var.dim() and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var + Tensor._make(xp.maximum(var._data, eps) - var._data)
    d = input - target
    loss = (var.log() + d * d / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


@_amp.fp32
def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under Poisson(rate): ``rate - target * log(rate)``.

    ``input`` is ``log(rate)`` when ``log_input``, else the rate itself (``eps`` keeps its log finite);
    ``full`` adds Stirling's approximation of ``log(target!)`` where ``target > 1``.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:  # written as torch's, so that the target's gradient (and its nan at 0) agree
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- multi-class margin losses
def _class_targets(input: Tensor, target: Tensor, op: str) -> tuple[Tensor, xp.ndarray]:
    """(N, C) input and (N,) class indices from batched or unbatched arguments."""
    if input.dim() > 2:
        raise RuntimeError(f"{op}: Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input.shape)}")
    x = input.reshape((1, -1)) if input.dim() < 2 else input
    t = target._data.reshape(-1)
    if t.shape[0] != x.shape[0] or target.dim() > 1:
        raise RuntimeError(f"{op}: target tensor should be 1-D with size equal to the number of input samples "
                           f"(batch size). Expected target size [{x.shape[0]}], but got {list(target.shape)}. "
                           f"Input has shape {list(input.shape)}.")
    if t.size and (t.min() < 0 or t.max() >= x.shape[1]):
        raise RuntimeError("target out of range")
    return x, t


@_amp.fp32
def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: ``sum_{i != y} max(0, margin - x[y] + x[i])^p / C`` (times ``weight[y]``)."""
    reduction = _reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    x, t = _class_targets(input, target, "multi_margin_loss")
    n, c = x.shape
    rows = xp.arange(n)
    picked = x[rows, t].unsqueeze(1)
    other = xp.ones((n, c), dtype=x._data.dtype)
    other[rows, t] = 0
    z = (x - picked + margin).clamp(min=0)
    z = z * z if p == 2 else z
    if weight is not None:
        z = z * weight[t].unsqueeze(1)
    loss = (z * Tensor._make(other)).sum(1) / c
    if input.dim() < 2:
        loss = loss.reshape(target.shape)
    return _reduce(loss, reduction)


@_amp.fp32
def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: ``sum_{j in y} sum_{i not in y} max(0, 1 - (x[j] - x[i])) / C``.

    Each row of the integer ``target`` lists its classes and ends at the first -1.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    if input.dim() > 2 or input.shape[-1:] == (0,):
        raise RuntimeError(f"multilabel_margin_loss: Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    if input.shape != target.shape:
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    x = input.reshape((1, -1)) if input.dim() < 2 else input
    t = target._data.reshape(x.shape)
    n, c = x.shape
    if t.size and (t.max() >= c or t.min() < -1):
        raise RuntimeError("argument #2 'target' is out of range")
    # count each listed class up to the row's first -1 (a class listed twice counts twice, as in torch)
    valid = xp.cumprod(t >= 0, axis=1).astype(bool)
    counts = xp.zeros((n, c), dtype=x._data.dtype)
    rows = xp.broadcast_to(xp.arange(n)[:, None], t.shape)
    xp.add.at(counts, (rows[valid], t[valid]), 1)
    not_target = (counts == 0).astype(x._data.dtype)
    pair = Tensor._make(counts[:, :, None] * not_target[:, None, :])  # (n, j, i)
    hinge = (1 - x.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0)
    loss = (hinge * pair).sum((1, 2)) / c
    if input.dim() < 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                                reduce=None, reduction: str = "mean") -> Tensor:
    """Per-class logistic loss ``-(t log sigmoid(x) + (1 - t) log sigmoid(-x))``, averaged over classes."""
    from .. import functional as F
    reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * F.logsigmoid(input) + (1 - target) * F.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    cdim = input.dim() - 1
    loss = loss.sum(cdim) / input.shape[cdim]
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """``max(0, margin + d(anchor, positive) - d(anchor, negative))`` for any distance ``d``
    (default: ``pairwise_distance``)."""
    from ... import minimum
    from .. import functional as F
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not (anchor.dim() == positive.dim() == negative.dim()):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.dim()}D, positive {positive.dim()}D, and negative "
                           f"{negative.dim()}D inputs")
    dist = F.pairwise_distance if distance_function is None else distance_function
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, dist(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)
