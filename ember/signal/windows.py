"""Window functions, as ``torch.signal.windows``: each returns a 1-D tensor of ``M`` samples.

``sym=True`` gives the symmetric window (filter design); ``sym=False`` the periodic one (spectral
analysis), which is the symmetric window of ``M + 1`` samples without its last one. Values are
computed in float64 and rounded once to the requested dtype.
"""
from __future__ import annotations

import math

from .._backend import xp
from .. import _dtype
from .._ops.conversion import strided
from .._tensor import Tensor
from .._factories import _finish

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
           "hamming", "hann", "kaiser", "nuttall"]


def _check(name: str, M: int, dtype, layout) -> _dtype.dtype:
    """torch's common checks; the dtype the window will have."""
    dtype = _dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype)
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not strided:
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    if dtype.name not in ("float32", "float64"):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: ember.{dtype.name}")
    return dtype


def _make(values, dtype: _dtype.dtype, device, requires_grad: bool) -> Tensor:
    return _finish(xp.asarray(values, dtype=xp.float64).astype(dtype.np), requires_grad, device)


def _span(M: int, sym: bool) -> int:
    """The denominator that places the samples: ``M - 1`` (symmetric) or ``M`` (periodic)."""
    return M - 1 if sym else M


def general_cosine(M: int, *, a, sym: bool = True, dtype=None, layout=strided, device=None,
                   requires_grad: bool = False) -> Tensor:
    """A sum of cosines ``sum_i (-1)^i a[i] cos(2 pi i n / N)``."""
    dtype = _check("general_cosine", M, dtype, layout)
    if M <= 1:
        return _make(xp.ones(M), dtype, device, requires_grad)
    if not isinstance(a, (list, tuple)):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    phase = 2 * math.pi * xp.arange(M) / _span(M, sym)
    w = sum((-1) ** i * c * xp.cos(i * phase) for i, c in enumerate(a))
    return _make(w, dtype, device, requires_grad)


def general_hamming(M: int, *, alpha: float = 0.54, sym: bool = True, dtype=None, layout=strided, device=None,
                    requires_grad: bool = False) -> Tensor:
    """``alpha - (1 - alpha) cos(2 pi n / N)``."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def hamming(M: int, *, sym: bool = True, dtype=None, layout=strided, device=None,
            requires_grad: bool = False) -> Tensor:
    """The Hamming window (general_hamming with alpha 0.54)."""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def hann(M: int, *, sym: bool = True, dtype=None, layout=strided, device=None,
         requires_grad: bool = False) -> Tensor:
    """The Hann window (general_hamming with alpha 0.5)."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M: int, *, sym: bool = True, dtype=None, layout=strided, device=None,
             requires_grad: bool = False) -> Tensor:
    """The Blackman window (three cosine terms)."""
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def nuttall(M: int, *, sym: bool = True, dtype=None, layout=strided, device=None,
            requires_grad: bool = False) -> Tensor:
    """Nuttall's minimum four-term Blackman-Harris window."""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dtype,
                          layout=layout, device=device, requires_grad=requires_grad)


def bartlett(M: int, *, sym: bool = True, dtype=None, layout=strided, device=None,
             requires_grad: bool = False) -> Tensor:
    """The triangular window ``1 - |2n / N - 1|``."""
    dtype = _check("bartlett", M, dtype, layout)
    if M <= 1:
        return _make(xp.ones(M), dtype, device, requires_grad)
    return _make(1 - xp.abs(2 * xp.arange(M) / _span(M, sym) - 1), dtype, device, requires_grad)


def cosine(M: int, *, sym: bool = True, dtype=None, layout=strided, device=None,
           requires_grad: bool = False) -> Tensor:
    """The sine window ``sin(pi (n + 1/2) / M)`` (periodic: over ``M + 1``)."""
    dtype = _check("cosine", M, dtype, layout)
    width = M + 1 if not sym and M > 1 else M
    return _make(xp.sin(math.pi * (xp.arange(M) + 0.5) / max(width, 1)), dtype, device, requires_grad)


def _center(M: int, sym: bool) -> float:
    return (M if not sym and M > 1 else M - 1) / 2.0


def exponential(M: int, *, center: float | None = None, tau: float = 1.0, sym: bool = True, dtype=None,
                layout=strided, device=None, requires_grad: bool = False) -> Tensor:
    """The Poisson window ``exp(-|n - center| / tau)``."""
    dtype = _check("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    c = _center(M, sym) if center is None else center
    return _make(xp.exp(-xp.abs(xp.arange(M) - c) / tau), dtype, device, requires_grad)


def gaussian(M: int, *, std: float = 1.0, sym: bool = True, dtype=None, layout=strided, device=None,
             requires_grad: bool = False) -> Tensor:
    """The Gaussian window ``exp(-(n - c)^2 / (2 std^2))`` centred on the window."""
    dtype = _check("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    return _make(xp.exp(-0.5 * ((xp.arange(M) - _center(M, sym)) / std) ** 2), dtype, device, requires_grad)


def kaiser(M: int, *, beta: float = 12.0, sym: bool = True, dtype=None, layout=strided, device=None,
           requires_grad: bool = False) -> Tensor:
    """The Kaiser window ``I0(beta sqrt(1 - (2n / N - 1)^2)) / I0(beta)``."""
    dtype = _check("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    if M <= 1:
        return _make(xp.ones(M), dtype, device, requires_grad)
    r = 2 * xp.arange(M) / _span(M, sym) - 1
    # rounding can push |r| a hair past 1 at the ends: clip so the root stays real
    x = beta * xp.sqrt(xp.clip(1 - r * r, 0, None))
    with xp.errstate(invalid="ignore"):
        w = _i0(x, dtype.np) / _i0(xp.asarray(beta, dtype=xp.float64), dtype.np)
    return _finish(w, requires_grad, device)


def _i0(x, dt):
    """I0 in dtype ``dt`` as torch's kernel gives it: infinite wherever ``exp(x)`` overflows there, so that in
    float32 a large beta gives NaN (inf / inf) in the middle of the window and zeros at its ends."""
    with xp.errstate(over="ignore", invalid="ignore"):
        return xp.where(xp.isinf(xp.exp(x.astype(dt))), xp.inf, xp.i0(x)).astype(dt)
