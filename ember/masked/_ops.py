"""torch.masked's functional API on strided ember tensors, composed from ember ops."""
from __future__ import annotations

import builtins
import math

import ember
from .. import _dtype
from .._tensor import Tensor

_SMALL_INTS = ("bool", "uint8", "int8", "int16", "int32")  # sum and prod accumulate these in int64


def _dims(dim, ndim: int) -> tuple:
    """``dim`` as a sorted tuple of non-negative dims; None and () mean every dim."""
    if dim is None or dim == ():
        return tuple(range(ndim))
    bound = builtins.max(ndim, 1)
    out = []
    for d in (dim,) if isinstance(dim, int) else dim:
        if d in out:  # as torch: (1, -1) passes here and fails in the reduction
            raise RuntimeError(f"dim={d} appears multiple times in the list of dims")
        if not -bound <= d < bound:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-bound}, {bound - 1}], "
                             f"but got {d})")
        out.append(d % bound)
    return tuple(sorted(out))


def _mask(input: Tensor, mask) -> Tensor:
    """The mask as a bool tensor of the input's shape (``mask=None``: all True)."""
    if mask is None:
        return ember.ones(input.shape, dtype=ember.bool)
    if tuple(mask.shape) != tuple(input.shape):
        if mask.ndim > input.ndim:
            raise IndexError("_input_mask expected broadcastable mask (got mask dimensionality higher than of "
                             f"the input): mask {list(mask.shape)}, input {list(input.shape)}")
        mask = ember.broadcast_to(mask, input.shape)
    return mask.to(dtype=ember.bool)


def _identity(op: str, input: Tensor) -> float | int:
    """The value that does not change ``op``'s result (what masked-out elements become)."""
    if op == "sum":
        return 0
    if op == "prod":
        return 1
    if input.dtype.is_floating_point:
        return -math.inf if op == "max" else math.inf
    info = ember.iinfo(input.dtype)
    return info.min if op == "max" else info.max


def _fill(input: Tensor, mask, value) -> Tensor:
    """``input`` with its masked-out elements replaced by ``value`` (kept in the input's dtype)."""
    if mask is None:
        return input
    return ember.where(_mask(input, mask), input, ember.tensor(value, dtype=input.dtype))


def _sum_dtype(input: Tensor, dtype):
    if dtype is not None:
        return dtype
    return ember.int64 if input.dtype.name in _SMALL_INTS else input.dtype


def sum(input: Tensor, dim=None, *, keepdim: bool | None = False, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Sum of the unmasked elements (0 for a fully masked-out slice)."""
    dims = _dims(dim, input.ndim)
    return ember.sum(_fill(input, mask, 0), dims, bool(keepdim), dtype=_sum_dtype(input, dtype))


def prod(input: Tensor, dim=None, *, keepdim: bool | None = False, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Product of the unmasked elements (1 for a fully masked-out slice)."""
    dims = _dims(dim, input.ndim)
    out = _fill(input, mask, 1).to(dtype=_sum_dtype(input, dtype))
    for d in reversed(dims):  # one dim at a time: prod takes a single dim
        out = out.prod(dim=d, keepdim=bool(keepdim))
    return out


def cumsum(input: Tensor, dim: int, *, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Cumulative sum along ``dim``, masked-out elements counting as 0."""
    dtype = input.dtype if dtype is None else dtype
    return ember.cumsum(_fill(input, mask, 0), _dims(dim, input.ndim)[0], dtype=dtype).to(dtype=dtype)


def cumprod(input: Tensor, dim: int, *, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Cumulative product along ``dim``, masked-out elements counting as 1."""
    dtype = input.dtype if dtype is None else dtype
    return ember.cumprod(_fill(input, mask, 1), _dims(dim, input.ndim)[0], dtype=dtype).to(dtype=dtype)


def amax(input: Tensor, dim=None, *, keepdim: bool | None = False, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Maximum of the unmasked elements (-inf, or the dtype's minimum, for a fully masked-out slice)."""
    filled = _fill(input, mask, _identity("max", input))
    return ember.amax(filled, _dims(dim, filled.ndim), bool(keepdim)).to(dtype=dtype or input.dtype)


def amin(input: Tensor, dim=None, *, keepdim: bool | None = False, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Minimum of the unmasked elements (inf, or the dtype's maximum, for a fully masked-out slice)."""
    filled = _fill(input, mask, _identity("min", input))
    return ember.amin(filled, _dims(dim, filled.ndim), bool(keepdim)).to(dtype=dtype or input.dtype)


def argmax(input: Tensor, dim: int | None = None, *, keepdim: bool | None = False, dtype=None,
           mask: Tensor | None = None) -> Tensor:
    """Index of the largest unmasked element; as torch, returned in ``dtype`` (default: the input's)."""
    filled = _fill(input, mask, _identity("max", input))
    return ember.argmax(filled, dim, bool(keepdim)).to(dtype=dtype or input.dtype)


def argmin(input: Tensor, dim: int | None = None, *, keepdim: bool | None = False, dtype=None,
           mask: Tensor | None = None) -> Tensor:
    """Index of the smallest unmasked element; as torch, returned in ``dtype`` (default: the input's)."""
    filled = _fill(input, mask, _identity("min", input))
    return ember.argmin(filled, dim, bool(keepdim)).to(dtype=dtype or input.dtype)


def _float_dtype(op: str, input: Tensor, dtype):
    source = "Optional" if dtype is not None else "Input"
    dtype = input.dtype if dtype is None else _dtype.as_dtype(dtype)
    if not dtype.is_floating_point:
        raise ValueError(f"{op}(): Could not infer output dtype. {source} dtype must be either a floating point "
                         f"or complex dtype. Got: ember.{dtype.name}")
    return dtype


def mean(input: Tensor, dim=None, *, keepdim: bool | None = False, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Mean of the unmasked elements (NaN for a fully masked-out slice: 0 / 0)."""
    dtype = _float_dtype("mean", input, dtype)
    dims = _dims(dim, input.ndim)
    count = _mask(input, mask).sum(dims, bool(keepdim))
    return sum(input, dim, keepdim=keepdim, dtype=dtype, mask=mask) / count


def median(input: Tensor, dim: int = -1, *, keepdim: bool = False, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Median of the unmasked elements along ``dim`` (NaN for a fully masked-out slice)."""
    dtype = input.dtype if dtype is None else dtype
    d = _dims(dim, input.ndim)[0]
    is_float = input.dtype.is_floating_point
    if not is_float:
        input = input.to(dtype=ember.float32)
    out = ember.nanmedian(_fill(input, mask, math.nan), d, keepdim).values
    if is_float:
        return out
    if ember.isnan(out).any():
        raise ValueError("masked median expects no fully masked out rows if dtype is not floating point")
    return out.to(dtype=dtype)


def logsumexp(input: Tensor, dim=None, *, keepdim: bool = False, dtype=None, mask: Tensor | None = None) -> Tensor:
    """``log(sum(exp(x)))`` over the unmasked elements (-inf for a fully masked-out slice)."""
    dims = _dims(dim, input.ndim)
    filled = _fill(input, mask, _identity("max", input))
    return ember.logsumexp(filled, dims, keepdim=keepdim).to(dtype=dtype or input.dtype)


def logaddexp(input: Tensor, other: Tensor, *, dtype=None, input_mask: Tensor | None = None,
              other_mask: Tensor | None = None) -> Tensor:
    """``log(exp(input) + exp(other))``, a masked-out element of either counting as -inf."""
    a = _fill(input, input_mask, _identity("max", input))
    b = _fill(other, other_mask, _identity("max", other))
    return ember.logaddexp(a, b).to(dtype=dtype or input.dtype)


def norm(input: Tensor, ord: float | None = 2.0, dim=None, *, keepdim: bool | None = False, dtype=None,
         mask: Tensor | None = None) -> Tensor:
    """Vector norm of the unmasked elements (0 for a fully masked-out slice; inf for ``ord=-inf``)."""
    filled = _fill(input, mask, math.inf if ord == -math.inf else 0)
    dims = _dims(dim, input.ndim) if input.ndim else None  # a 0-d input: vector_norm wants no dim at all
    return ember.linalg.vector_norm(filled, ord, dims, bool(keepdim), dtype=dtype or input.dtype)


def _std_var(input: Tensor, dim, unbiased, correction, keepdim, dtype, mask, root: bool) -> Tensor:
    """Variance (``root``: standard deviation) of the unmasked elements, with Bessel's ``correction``."""
    if unbiased is not None and correction is not None:
        raise AssertionError("Only one of unbiased and correction may be given")
    correction = float(correction if correction is not None else (1.0 if unbiased in (None, True) else 0.0))
    if dtype is None:
        dtype = input.dtype if input.dtype.is_floating_point else ember.float32
    dtype = _dtype.as_dtype(dtype)
    compute = dtype if dtype.is_floating_point else ember.float32
    dims = _dims(dim, input.ndim)
    inmask = _mask(input, mask)
    count = inmask.sum(dims, True)
    x = input - sum(input, dim, keepdim=True, dtype=dtype, mask=inmask) / count
    total = sum(x * x, dim, keepdim=keepdim, dtype=compute, mask=inmask)
    count = count.reshape(total.shape)
    if correction != 0:
        count = ember.clamp_min(count.to(dtype=compute) - correction, 0)
    out = (total / count).to(dtype=dtype)
    return ember.sqrt(out) if root else out


def var(input: Tensor, dim=None, unbiased: bool | None = None, *, correction: int | float | None = None,
        keepdim: bool | None = False, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Variance of the unmasked elements (NaN or inf where too few remain for the correction)."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, root=False)


def std(input: Tensor, dim=None, unbiased: bool | None = None, *, correction: int | None = None,
        keepdim: bool | None = False, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Standard deviation of the unmasked elements."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, root=True)


def softmax(input: Tensor, dim: int, *, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Softmax over the unmasked elements along ``dim``: 0 at masked-out ones, NaN for a fully masked-out slice."""
    filled = _fill(input, mask, _identity("max", input))
    return ember.nn.functional.softmax(filled, _dims(dim, input.ndim)[0], dtype=dtype or input.dtype)


def log_softmax(input: Tensor, dim: int, *, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Log-softmax over the unmasked elements along ``dim`` (-inf at masked-out ones)."""
    filled = _fill(input, mask, _identity("max", input))
    return ember.nn.functional.log_softmax(filled, _dims(dim, input.ndim)[0], dtype=dtype or input.dtype)


def softmin(input: Tensor, dim: int, *, dtype=None, mask: Tensor | None = None) -> Tensor:
    """Softmin over the unmasked elements along ``dim``."""
    filled = _fill(input, mask, _identity("min", input))
    return ember.nn.functional.softmin(filled, _dims(dim, input.ndim)[0], dtype=dtype or input.dtype)


def normalize(input: Tensor, ord: float, dim: int, *, eps: float = 1e-12, dtype=None,
              mask: Tensor | None = None) -> Tensor:
    """The unmasked elements divided by their ``ord``-norm along ``dim`` (masked-out ones become 0)."""
    dtype = input.dtype if dtype is None else dtype
    nrm = norm(input, ord, dim, keepdim=True, dtype=dtype, mask=mask)
    return _fill(input, mask, 0) / ember.clamp_min(nrm, eps)
