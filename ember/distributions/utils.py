"""Helpers shared by the distributions: broadcasting parameters, probs <-> logits, lazy attributes."""
from __future__ import annotations

import numbers

import numpy as np

import ember
from .._tensor import Tensor, Size


def broadcast_all(*values) -> tuple:
    """Turn numbers into tensors (of the first tensor's dtype, else the default) and broadcast them all."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    for v in values:
        if not isinstance(v, (Tensor, numbers.Number)):
            raise ValueError("Input arguments must all be instances of numbers.Number or Tensor.")
    dtype = tensors[0].dtype if tensors else ember.get_default_dtype()
    values = [v if isinstance(v, Tensor) else ember.tensor(v, dtype=dtype) for v in values]
    return tuple(ember.broadcast_tensors(*values))


def as_size(shape) -> Size:
    """``shape`` (a Size, tuple, list or int) as a ``Size``."""
    if isinstance(shape, numbers.Integral):
        return Size([int(shape)])
    return Size([int(s) for s in shape])


def broadcast_shape(*shapes) -> Size:
    return Size(np.broadcast_shapes(*[tuple(s) for s in shapes]))


def sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """Sum out the ``dim`` right-most dimensions."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def clamp_probs(probs: Tensor) -> Tensor:
    """Keep probabilities inside (0, 1) by the dtype's epsilon, so that their logs stay finite."""
    eps = ember.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Log-odds (binary) or log-probabilities (categorical) of ``probs``."""
    p = clamp_probs(probs)
    return p.log() - (-p).log1p() if is_binary else p.log()


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Probabilities from log-odds (binary: sigmoid) or unnormalised log-probabilities (softmax)."""
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def standard_normal(shape, dtype) -> Tensor:
    return ember.randn(tuple(shape), dtype=dtype)


def uniform(shape, dtype) -> Tensor:
    return ember.rand(tuple(shape), dtype=dtype)


def rng() -> np.random.Generator:
    """The default generator's NumPy stream (ember.manual_seed makes its draws reproducible)."""
    return ember.random.default_generator._rng


def from_array(a, dtype) -> Tensor:
    return Tensor._make(np.ascontiguousarray(np.asarray(a).astype(dtype.np)))


def _tril_mask(n: int, diag: int) -> Tensor:
    ar = ember.arange(n)
    return ar < ar.view(-1, 1) + (diag + 1)


def tril_matrix_to_vec(mat: Tensor, diag: int = 0) -> Tensor:
    """The entries on and below diagonal ``diag`` of the last two dims, row by row."""
    return mat[..., _tril_mask(mat.shape[-1], diag)]


def vec_to_tril_matrix(vec: Tensor, diag: int = 0) -> Tensor:
    """The inverse of :func:`tril_matrix_to_vec`: a square matrix, zero above diagonal ``diag``."""
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if round(n) - n > ember.finfo(vec.dtype).eps:
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    n = round(n)
    mask = _tril_mask(n, diag)
    flat = vec.new_zeros(tuple(vec.shape[:-1]) + (n * n,))
    index = mask.flatten().nonzero().squeeze(-1)
    return flat.index_add(-1, index, vec).reshape(tuple(vec.shape[:-1]) + (n, n))


euler_constant = 0.57721566490153286060  # the Euler-Mascheroni constant


def fmt(value: Tensor) -> str:
    """A parameter as torch prints it in messages: the number for 0-d tensors, else the tensor."""
    return str(value.item()) if value.dim() == 0 else str(value)


class lazy_property:
    """Computed on first access, then stored in the instance's ``__dict__`` (where ``expand`` finds it)."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with ember.enable_grad():
            value = self.fn(instance)
        instance.__dict__[self.__name__] = value
        return value
