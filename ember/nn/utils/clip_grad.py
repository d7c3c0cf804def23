"""Gradient clipping, as torch.nn.utils: rescale or clamp ``.grad`` in place."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from ..._tensor import Tensor

_NONFINITE = ("The total norm of order {} for gradients from `parameters` is non-finite, so it cannot be clipped. "
              "To disable this error and scale the gradients by the non-finite norm anyway, set "
              "`error_if_nonfinite=False`")


def _as_list(tensors) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters, op: str = "linalg_vector_norm") -> list[Tensor]:
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if any(not isinstance(g, Tensor) for g in grads):  # torch has no sparse kernel for the op either
        raise NotImplementedError(f"Could not run 'aten::{op}' with arguments from the 'SparseCPU' backend: "
                                  "gradient clipping of a sparse gradient (Embedding(sparse=True))")
    return grads


def _norm(a: np.ndarray, norm_type: float):
    """The p-norm of all elements of ``a``, in ``a``'s dtype."""
    a = np.abs(a.reshape(-1))
    if norm_type == math.inf:
        return a.max(initial=0).astype(a.dtype)
    if norm_type == -math.inf:
        return a.min(initial=np.inf).astype(a.dtype)
    if norm_type == 0:
        return (a != 0).sum().astype(a.dtype)
    if norm_type == 2:
        return np.sqrt((a * a).sum(dtype=a.dtype))
    return ((a ** norm_type).sum(dtype=a.dtype) ** (1.0 / norm_type)).astype(a.dtype)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The ``norm_type``-norm of all the given tensors together, as if concatenated into one vector."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor([0.0]).reshape(())  # a 0-d zero of the default dtype (torch.Tensor takes no bare number)
    norms = [_norm(t._data, norm_type) for t in tensors]
    dt = np.result_type(*[t._data.dtype for t in tensors])
    total = _norm(np.asarray(norms, dtype=dt), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(_NONFINITE.format(norm_type))
    return Tensor._make(np.asarray(total, dtype=dt))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor, foreach=None) -> None:
    """Scale gradients by ``max_norm / (total_norm + 1e-6)`` when that is below 1."""
    coef = min(float(max_norm) / (float(total_norm) + 1e-6), 1.0)
    for g in _grads(parameters):
        g._data *= np.asarray(coef, dtype=g._data.dtype)
        g._version += 1


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Rescale the gradients so that their total ``norm_type``-norm is at most ``max_norm``.

    Args:
        parameters: tensors (or one tensor) whose ``.grad`` is clipped.
        max_norm: the largest allowed total norm.
        norm_type: the p of the norm; ``inf`` for the largest absolute value. Default: 2.
        error_if_nonfinite: raise if the total norm is nan or inf. Default: False.

    Returns:
        The total norm before clipping, as a tensor.

    Example::

        >>> loss.backward()
        >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    parameters = _as_list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """Deprecated alias of :func:`clip_grad_norm_`."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place."""
    v = float(clip_value)
    for g in _grads(parameters, "clamp_min_"):
        np.clip(g._data, -v, v, out=g._data)
        g._version += 1
