"""Normalization layers: batch, layer, group and RMS norm.

Each standardizes over some dims with one fused op and then applies its affine map with ordinary
ops. The fused op matters: written as a chain of mean/sub/pow/rsqrt ops, the standardization
would keep five intermediates alive and its backward would run a dozen elementwise passes, where
the closed form ``rstd * (g - mean(g) - xhat * mean(g * xhat))`` needs three.
"""
from __future__ import annotations

import math
import numbers

from ... import _backend
from ..._backend import xp
from ..._dtype import is_half
from ..._tensor import Tensor
from ...autograd import function as _function
from ...autograd.function import Op
from ...autograd.grad_mode import state, no_grad
from .basic import _add_rows, _wide

__all__ = ["batch_norm", "layer_norm", "group_norm", "rms_norm", "instance_norm", "local_response_norm"]


class Standardize(Op):
    """xhat = (x - mean) * rstd over ``dims`` (or x * rstd, the RMS form, when not ``center``).

    Also returns the mean and biased variance (mean square for RMS), which batch norm's running
    statistics need, and the reciprocal standard deviation; they are not differentiable outputs.
    """

    batching = "dims"
    differentiable_outputs = (0,)

    @staticmethod
    def forward(x, dims, eps, center):
        if center:
            mean = x.mean(axis=dims, keepdims=True)
            xc = x - mean
            var = (xc * xc).mean(axis=dims, keepdims=True)
        else:
            mean, xc = xp.zeros((), x.dtype), x
            var = (x * x).mean(axis=dims, keepdims=True)
        rstd = 1.0 / xp.sqrt(var + eps)
        return xc * rstd, mean, var, rstd

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.dims, ctx.eps, ctx.center = inputs
        ctx.save_for_backward(x, Tensor._make(output[0]), Tensor._make(output[3]))

    @staticmethod
    def backward(ctx, g, *_):
        x, xhat, rstd = ctx.saved_tensors
        if state.enabled:
            # create_graph: rebuild xhat and rstd from x with differentiable ops, so that the
            # gradient below is itself differentiable in x
            xhat, rstd = _standardize_ops(x, ctx.dims, ctx.eps, ctx.center)
        dims = ctx.dims
        gx = g - (g * xhat).mean(dims, keepdim=True) * xhat
        if ctx.center:
            gx = gx - g.mean(dims, keepdim=True)
        return gx * rstd, None, None, None


def _standardize_ops(x: Tensor, dims, eps: float, center: bool):
    """The standardization written with ordinary differentiable ops (for double backward)."""
    xc = x - x.mean(dims, keepdim=True) if center else x
    rstd = ((xc * xc).mean(dims, keepdim=True) + eps).rsqrt()
    return xc * rstd, rstd


def _standardized_affine_grads(g: Tensor, x: Tensor, w, dims, param_dims, eps: float, has_bias: bool) -> tuple:
    """The gradients of ``standardize(x over dims) * w + b`` in x, w and b as differentiable ops of x and w
    (the fused norms' backward under create_graph); ``w`` broadcasts against x, ``param_dims`` are the dims
    its gradient sums over."""
    xhat, rstd = _standardize_ops(x, dims, eps, True)
    gxh = g if w is None else g * w
    gx = (gxh - gxh.mean(dims, keepdim=True) - xhat * (gxh * xhat).mean(dims, keepdim=True)) * rstd
    param_sum = (lambda t: t.sum(param_dims)) if param_dims else (lambda t: t)  # sum over () would sum all
    return gx, None if w is None else param_sum(g * xhat), param_sum(g) if has_bias else None


def _affine(y: Tensor, weight, bias, shape) -> Tensor:
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _check_float(op: str, input: Tensor) -> None:
    if not input.is_floating_point():
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype}")


# ----------------------------------------------------------------------------- batch norm
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1) of (N, C, *) by batch statistics (training) or running statistics.

    In training, running_mean/running_var (when given) are updated in place with ``momentum``,
    running_var with the unbiased batch variance, as torch does.
    """
    _check_float("batch_norm", input)
    if is_half(input._data.dtype):  # as layer_norm; the running statistics keep their dtype
        return batch_norm(input.float(), running_mean, running_var, *_f32(weight, bias), training, momentum,
                          eps).to(input.dtype)
    if training and eps <= 0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if input.ndim < 1:
        raise ValueError(f"Expected 1D or higher input (got {input.ndim}D input)")
    c = input.shape[1] if input.ndim > 1 else 0  # torch sees no channels in a 1-D input
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"batch_norm: expected {name} to have {c} elements (the input's channels), but "
                               f"got {name} of size {list(t.shape)} for input of size {list(input.shape)}")
    if input.ndim == 1:  # only an empty one gets here
        return input * 1
    shape = (1, c) + (1,) * (input.ndim - 2)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode")
        # fold the running statistics into one scale and shift: two passes over the input
        scale = (running_var + eps).rsqrt()
        if weight is not None:
            scale = scale * weight
        shift = -running_mean * scale
        if bias is not None:
            shift = shift + bias
        if _function.transform is None and scale.dtype == shift.dtype == input.dtype and not (state.enabled and any(
                t is not None and t._requires_grad for t in (input, running_mean, running_var, weight, bias))):
            return Tensor._make(_scale_shift(input._data, scale._data, shift._data))  # nothing recorded
        return input * scale.reshape(shape) + shift.reshape(shape)
    n = input.numel() // c
    if n <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{list(input.shape)}")
    if _function.transform is None and input._data.dtype in (xp.float32, xp.float64) and all(
            t is None or t._data.dtype == input._data.dtype for t in (weight, bias)):
        y, mean, var, _ = _BatchNorm.apply(input, weight, bias, float(eps))
    else:  # (under vmap or forward AD, the composition: its ops have batching rules and tangents)
        dims = (0, *range(2, input.ndim))
        xhat, mean, var, _ = Standardize.apply(input, dims, float(eps), True)
        y = _affine(xhat, weight, bias, shape)
    if running_mean is not None or running_var is not None:
        with no_grad():
            _update(running_mean, mean, momentum)
            _update(running_var, var * (n / (n - 1)), momentum)
    return y


def _channel_sums(a):
    """Per-channel sums of an (N, C, S) array: a matrix-vector product over each row of S (BLAS sums rows
    several times faster than NumPy's reduction over axes 0 and 2), then over the batch."""
    n, c, s = a.shape
    return _backend.matmul(a.reshape(n * c, s), xp.ones((s, 1), a.dtype)).reshape(n, c).sum(0)


def _channel_dots(a, b):
    """Per-channel sums of a * b over (N, C, S) arrays, without the product's array: one dot per row."""
    return (a[:, :, None, :] @ b[:, :, :, None]).reshape(a.shape[:2]).sum(0)


def _over_batch(fn, n: int, work: int):
    """``fn(a, b)`` on slices of the batch, split between ember's threads (with BLAS held to one thread
    each: the sums are products) when ``work``, the elements its passes touch, pays for it; its partial
    results (a tuple of per-channel sums) are added in batch order, so that a run with a given thread
    count is reproducible."""
    parts = {}

    def run(a: int, b: int) -> None:
        parts[a] = fn(a, b)
    # the passes are memory-bound, sums included (matrix-vector products): elements weigh as GRAIN, not
    # as a product's multiply-adds (GRAIN_MATMUL), which had left (128, 32, 28, 28)'s mean on one thread
    _backend.parallel_for(run, n, work * (_backend.GRAIN_MATMUL // _backend.GRAIN), blas=True)
    keys = sorted(parts)
    totals = parts[keys[0]]
    for key in keys[1:] if totals is not None else ():
        for total, part in zip(totals, parts[key]):
            total += part  # (fresh arrays of per-channel sums: added in place)
    return totals


def _per_channel(v, s: int):
    """A per-channel vector as a (C, S) array: (N, C, S) arithmetic with it runs one contiguous loop
    per image, where a (C, 1) operand makes NumPy run a short inner loop per row, about twice slower."""
    return xp.repeat(v, s).reshape(-1, s)


def _scale_shift(x, scale, shift):
    """x * scale + shift per channel of (N, C, *) (evaluation's batch norm), the batch split between
    ember's threads: the same two roundings as the composition, one output array instead of two."""
    n, c = x.shape[:2]
    x3 = x.reshape(n, c, -1)
    s = x3.shape[2]
    y = xp.empty(x3.shape, x.dtype)
    k, k0 = _per_channel(scale, s), _per_channel(shift, s)

    def run(a: int, b: int) -> None:
        xp.multiply(x3[a:b], k, out=y[a:b])
        y[a:b] += k0
    _backend.parallel_for(run, n, 2 * x.size)
    return y.reshape(x.shape)


class _BatchNorm(Op):
    """batch_norm in training with its affine map as one op: y = (x - mean) * rstd * w + b per channel
    of (N, C, *). Backward is torch's closed form ``w * rstd * (g - mean(g) - xhat * mean(g * xhat))``
    in five passes instead of the dozen of Standardize, a multiplication and an addition; it keeps only
    x (as torch does) and recomputes x - mean. Outputs: the result, then the batch mean and biased variance
    (not differentiable) for the running statistics, and rstd for backward."""

    differentiable_outputs = (0,)
    array_backward = True

    @staticmethod
    def forward(x, w, b, eps):
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, -1)
        s = x3.shape[2]
        count = n * s
        mean = _over_batch(lambda a, b: (_channel_sums(x3[a:b]),), n, x.size)[0] / count
        y = xp.empty_like(x3)
        m = _per_channel(mean, s)

        def center(a: int, b: int):
            xp.subtract(x3[a:b], m, out=y[a:b])
            return (_channel_dots(y[a:b], y[a:b]),)
        var = _over_batch(center, n, 2 * x.size)[0] / count
        rstd = 1.0 / xp.sqrt(var + eps)
        scale = _per_channel(rstd if w is None else rstd * w, s)
        shift = None if b is None else _per_channel(b, s)

        def affine(a: int, b: int) -> None:
            y[a:b] *= scale
            if shift is not None:
                y[a:b] += shift
        _over_batch(affine, n, 2 * x.size)
        return y.reshape(x.shape), mean, var, rstd

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, b, ctx.eps = inputs
        ctx.has_bias = b is not None
        ctx.save_for_backward(x, w, Tensor._make(output[1]), Tensor._make(output[3]))

    @staticmethod
    def backward(ctx, g, *_):
        x, w, mean, rstd = ctx.saved_tensors
        if state.enabled:  # create_graph: the gradients as ops of x, w (differentiable)
            dims = (0, *range(2, x.dim()))
            w_full = None if w is None else w.reshape((1, -1) + (1,) * (x.dim() - 2))
            return (*_standardized_affine_grads(g, x, w_full, dims, dims, ctx.eps, ctx.has_bias), None)
        wrap = Tensor._make if isinstance(g, Tensor) else (lambda a: a)
        g, x, mean, rstd, w = (t._data if isinstance(t, Tensor) else t for t in (g, x, mean, rstd, w))
        n, c = x.shape[:2]
        g3 = g.reshape(n, c, -1)
        s = g3.shape[2]
        x3, m = x.reshape(g3.shape), _per_channel(mean, s)
        gx = xp.empty_like(g3)  # x - mean first, then the gradient in place

        def center(a: int, b: int):
            xp.subtract(x3[a:b], m, out=gx[a:b])
            return _channel_sums(g3[a:b]), _channel_dots(g3[a:b], gx[a:b])
        sum_g, sum_gxc = _over_batch(center, n, 3 * g.size)
        sum_gxhat = sum_gxc * rstd
        scale = rstd if w is None else rstd * w
        k1 = _per_channel(-scale * rstd * sum_gxhat / (n * s), s)
        k0 = _per_channel(scale * sum_g / (n * s), s)
        k = _per_channel(scale, s)

        def grad(a: int, b: int) -> None:
            gx[a:b] *= k1
            gx[a:b] -= k0
            gx[a:b] += g3[a:b] * k
        _over_batch(grad, n, 4 * g.size)
        gw = None if w is None else wrap(sum_gxhat.astype(w.dtype, copy=False))
        gb = wrap(sum_g) if ctx.has_bias else None
        return wrap(gx.reshape(g.shape)), gw, gb, None


def _update(buf: Tensor | None, batch_stat: Tensor, momentum: float) -> None:
    """buf <- (1 - momentum) * buf + momentum * batch_stat, in place."""
    if buf is None:
        return
    stat = batch_stat._data.reshape(-1).astype(buf._data.dtype, copy=False)
    buf._data *= 1 - momentum
    buf._data += momentum * stat
    buf._version += 1


# ----------------------------------------------------------------------------- layer, group and RMS norm
def _normalized_dims(op: str, input: Tensor, normalized_shape) -> tuple:
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*{''.join(f', {s}' for s in shape)}], but got input of size{list(input.shape)}")
    return shape, tuple(range(input.ndim - k, input.ndim))


def _check_affine(op: str, shape: tuple, weight, bias) -> None:
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"{op}: expected {name} of shape {list(shape)}, but got {list(t.shape)}")


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` dims, then scale and shift elementwise."""
    _check_float("layer_norm", input)
    if is_half(input._data.dtype):  # computed in float32 and rounded once, as torch's kernel
        return layer_norm(input.float(), normalized_shape, *_f32(weight, bias), eps).to(input.dtype)
    shape, dims = _normalized_dims("layer_norm", input, normalized_shape)
    _check_affine("layer_norm", shape, weight, bias)
    if _function.transform is None and input.numel() and input._data.dtype in (xp.float32, xp.float64) and all(
            t is None or t._data.dtype == input._data.dtype for t in (weight, bias)):
        return _LayerNorm.apply(input, weight, bias, len(shape), float(eps))[0]
    # (under vmap or forward AD, the composition: its ops have batching rules and tangents)
    xhat = Standardize.apply(input, dims, float(eps), True)[0]
    return _affine(xhat, weight, bias, shape)


# rows of a layer norm taken at a time, and shared between ember's threads: smaller blocks (to keep the passes in
# cache) measured no faster here, each pass costing its NumPy calls' overhead
_ROW_BLOCK_ELEMENTS = 1 << 17


def _row_block(n: int) -> int:
    return max(1, _ROW_BLOCK_ELEMENTS // max(n, 1))


class _LayerNorm(Op):
    """layer_norm with its affine map as one op, over the trailing ``k`` dims: row statistics and the weight
    and bias gradients are matrix-vector products, and backward is one formula instead of the nodes of
    Standardize, a multiplication and an addition. Outputs: the result, then xhat and rstd (as (rows, n)
    and (rows,), not differentiable) for backward."""

    differentiable_outputs = (0,)
    array_backward = True

    @staticmethod
    def forward(x, w, b, k, eps):
        n = math.prod(x.shape[x.ndim - k:])
        x2 = x.reshape(-1, n)
        xhat, y, rstd = xp.empty(x2.shape, x.dtype), xp.empty(x2.shape, x.dtype), xp.empty(len(x2), x.dtype)
        mean_of = xp.full(n, 1 / n, x.dtype)

        def rows(i: int, j: int) -> None:
            xh, yb = xhat[i:j], y[i:j]
            xp.subtract(x2[i:j], (x2[i:j] @ mean_of)[:, None], out=xh)
            r = xp.multiply(xh, xh, out=yb) @ mean_of  # (y's block as scratch)
            r += eps
            r = xp.divide(1.0, xp.sqrt(r, out=r), out=rstd[i:j])
            xh *= r[:, None]
            if w is not None:
                xw, ww = _wide(xh, w.reshape(-1))  # (rows joined: NumPy's broadcast loops restart at every row)
                xp.multiply(xw, ww, out=yb.reshape(xw.shape))
            else:
                yb[...] = xh
            if b is not None:
                _add_rows(yb, b.reshape(-1))
        _backend.parallel_blocks(rows, len(x2), _row_block(n), 6 * x2.size)
        return y.reshape(x.shape), xhat, rstd

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, b, ctx.k, ctx.eps = inputs
        ctx.has_bias = b is not None
        ctx.save_for_backward(x, w, Tensor._make(output[1]), Tensor._make(output[2]))

    @staticmethod
    def backward(ctx, g, *_):
        x, w, xhat, rstd = ctx.saved_tensors
        if state.enabled:  # create_graph: the gradients as ops of x, w (differentiable)
            dims = tuple(range(x.dim() - ctx.k, x.dim()))
            lead = tuple(range(x.dim() - ctx.k))
            return (*_standardized_affine_grads(g, x, w, dims, lead, ctx.eps, ctx.has_bias), None, None)
        wrap = Tensor._make if isinstance(g, Tensor) else (lambda a: a)
        g, xhat, rstd, w = (t._data if isinstance(t, Tensor) else t for t in (g, xhat, rstd, w))
        g2 = g.reshape(xhat.shape)
        n = xhat.shape[1]
        gx = xp.empty(xhat.shape, xhat.dtype)
        # the rows' means of g w and of g w xhat, as products with w / n: no g w array to make first
        mean_w = xp.full(n, 1 / n, xhat.dtype) if w is None else w.reshape(-1) / n
        partial = {}  # per block: the column sums of g * xhat and of g, added in block order below

        def rows(i: int, j: int) -> None:
            gb, xh, r, out = g2[i:j], xhat[i:j], rstd[i:j], gx[i:j]
            t = gb * xh
            ones = xp.ones(j - i, t.dtype)
            partial[i] = (ones @ t, ones @ gb)
            m1, m2 = t @ mean_w, gb @ mean_w
            if w is None:
                xp.multiply(gb, r[:, None], out=out)
            else:
                gwide, ww = _wide(gb, w.reshape(-1))
                xp.multiply(gwide, ww, out=out.reshape(gwide.shape))
                out *= r[:, None]
            xp.multiply(xh, (m1 * r)[:, None], out=t)
            out -= t
            out -= (m2 * r)[:, None]
        _backend.parallel_blocks(rows, len(g2), _row_block(n), 6 * g2.size)
        sums = [partial[i] for i in sorted(partial)]
        col_gxhat, col_g = sums[0]
        for pg, pb in sums[1:]:
            col_gxhat += pg
            col_g += pb
        gw = None if w is None else wrap(col_gxhat.reshape(w.shape))
        gb = wrap(col_g.reshape(w.shape if w is not None else xhat.shape[1:])) if ctx.has_bias else None
        return wrap(gx.reshape(g.shape)), gw, gb, None, None


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) over the trailing dims, times weight; eps defaults to the dtype's epsilon."""
    _check_float("rms_norm", input)
    if input._data.dtype.itemsize == 2:  # half and bfloat16 in float32 (and its epsilon), rounded once, as torch
        return rms_norm(input.float(), normalized_shape, *_f32(weight), eps).to(input.dtype)
    shape, dims = _normalized_dims("rms_norm", input, normalized_shape)
    _check_affine("rms_norm", shape, weight, None)
    eps = float(xp.finfo(input._data.dtype).eps) if eps is None else float(eps)
    xhat = Standardize.apply(input, dims, eps, False)[0]
    return _affine(xhat, weight, None, shape)


def _f32(*tensors) -> list:
    """The given (optional) affine tensors in float32."""
    return [None if t is None else t.float() for t in tensors]


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalize (N, C, *) over groups of C/num_groups channels (and all spatial positions), then per-channel affine."""
    _check_float("group_norm", input)
    if is_half(input._data.dtype):  # as layer_norm
        return group_norm(input.float(), num_groups, *_f32(weight, bias), eps).to(input.dtype)
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(input.shape)} and num_groups={num_groups}")
    _check_affine("group_norm", (c,), weight, bias)
    grouped = input.reshape((n, num_groups, -1))
    xhat = Standardize.apply(grouped, (2,), float(eps), True)[0].reshape(tuple(input.shape))
    return _affine(xhat, weight, bias, (c,) + (1,) * (input.ndim - 2))


# ----------------------------------------------------------------------------- instance norm, local response norm
def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel of each sample of (N, C, *) over its spatial dims, then per-channel affine.

    With ``use_input_stats`` the running statistics (when given) are updated in place with the batch
    average of the per-instance mean and unbiased variance; without it, they normalize instead.
    """
    _check_float("instance_norm", input)
    if is_half(input._data.dtype):  # as batch_norm
        return instance_norm(input.float(), running_mean, running_var, *_f32(weight, bias), use_input_stats, momentum,
                             eps).to(input.dtype)
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher input to instance_norm (got {input.ndim}D input)")
    c = input.shape[1]
    shape = (c,) + (1,) * (input.ndim - 2)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    dims = tuple(range(2, input.ndim))
    n = int(xp.prod(input.shape[2:]))
    if n <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(input.shape)}")
    xhat, mean, var, _ = Standardize.apply(input, dims, float(eps), True)
    if running_mean is not None or running_var is not None:
        with no_grad():
            _update(running_mean, mean.mean(0), momentum)
            _update(running_var, var.mean(0) * (n / (n - 1)), momentum)
    return _affine(xhat, weight, bias, shape)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """``x / (k + alpha * mean of x^2 over size neighbouring channels)^beta`` for (N, C, *)."""
    from .. import functional as F
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = input * input
    # zero-pad the channel dim and sum the ``size`` shifted windows: the window mean counts the padding
    pads = [0, 0] * (input.ndim - 2) + [size // 2, (size - 1) // 2]
    padded = F.pad(sq, pads)
    window = padded.narrow(1, 0, c)
    for j in range(1, size):
        window = window + padded.narrow(1, j, c)
    mean = window / size if input.is_floating_point() else window // size  # torch's int64 average truncates
    div = (mean * alpha + k) ** beta
    return input / div
