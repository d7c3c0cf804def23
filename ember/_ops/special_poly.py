"""torch.special's orthogonal polynomials P_n(x): Chebyshev (T, U, V, W and their shifted forms on [0, 1]),
Hermite (physicists' H and probabilists' He), Laguerre and Legendre.

As torch's: ``n`` is truncated to an integer and a negative (or non-finite) ``n`` gives 0; the values
at x = +-1 come from closed forms; inside (-1, 1) the Chebyshev polynomials of high degree come from
their trigonometric forms (cos(n t) with x = cos t), which stay accurate where the recurrence would
sum many terms; everywhere else the three-term recurrence runs in float64. torch does not
differentiate these functions, so their results never require grad.
"""
from __future__ import annotations

from .._backend import xp
from .special import plain_binary


def _degree(n):
    """torch casts n to int64: the fraction is dropped, and NaN/inf become negative."""
    ok = xp.isfinite(n) & (xp.abs(n) < 2.0 ** 62)
    return xp.where(ok, xp.trunc(xp.where(ok, n, -1.0)), -1.0).astype(xp.int64)


def _recurrence(x, n, p1, step):
    """p_n(x) from p_0 = 1, p_1 and ``step(k, x, p_{k-1}, p_k) = p_{k+1}``, for every element's own n."""
    out = xp.where(n == 0, 1.0, xp.where(n == 1, p1, 0.0))
    top = int(n.max(initial=0))
    prev, cur = xp.ones_like(x), p1
    for k in range(1, top):
        prev, cur = cur, step(k, x, prev, cur)
        out = xp.where(n == k + 1, cur, out)
    return out


def _chebyshev_step(k, x, prev, cur):
    return (x + x) * cur - prev


def _chebyshev(kind: str, trig_from: int):
    """T, U, V or W: closed forms at x = +-1, the trigonometric form for n > trig_from inside (-1, 1)."""
    first = {"t": lambda x: x, "u": lambda x: x + x, "v": lambda x: x + x - 1, "w": lambda x: x + x + 1}[kind]

    def at_ones(x, n):
        odd = n % 2 == 1
        if kind == "t":
            return xp.where((x > 0) | ~odd, 1.0, -1.0)
        if kind == "u":
            return xp.where((x > 0) | ~odd, n + 1.0, -(n + 1.0))
        if kind == "v":
            return xp.where(x > 0, 1.0, xp.where(odd, -(2 * n + 1.0), 2 * n + 1.0))
        return xp.where(x > 0, 2 * n + 1.0, xp.where(odd, -1.0, 1.0))

    def trig(x, n):
        t = xp.arccos(xp.clip(x, -1, 1))
        if kind == "t":
            return xp.cos(n * t)
        if kind == "u":
            return xp.sin((n + 1) * t) / xp.sin(t)
        if kind == "v":
            return xp.cos((n + 0.5) * t) / xp.cos(t / 2)
        return xp.sin((n + 0.5) * t) / xp.sin(t / 2)

    def fn(x, n):
        n = _degree(n)
        out = _recurrence(x, n, first(x), _chebyshev_step)
        inside = (xp.abs(x) < 1) & (n > trig_from)
        out = xp.where(inside, trig(x, n), out)
        out = xp.where(xp.abs(x) == 1, at_ones(x, n), out)
        return xp.where(n < 0, 0.0, out)
    return fn


def _shifted(fn):
    return lambda x, n: fn(x + x - 1, n)


_T, _U, _V, _W = _chebyshev("t", 6), _chebyshev("u", 8), _chebyshev("v", 8), _chebyshev("w", 8)


def _simple(first, step, at_ones=None, at_zero=None):
    """A family evaluated by its recurrence alone, with torch's closed forms at x = +-1 or x = 0."""
    def fn(x, n):
        n = _degree(n)
        out = _recurrence(x, n, first(x), step)
        if at_ones is not None:
            out = xp.where(xp.abs(x) == 1, xp.where((x > 0) | (n % 2 == 0), 1.0, -1.0), out)
        if at_zero is not None:
            out = xp.where(x == 0, 1.0, out)
        return xp.where(n < 0, 0.0, out)
    return fn


_H = _simple(lambda x: x + x, lambda k, x, p, q: (x + x) * q - 2 * k * p)
_HE = _simple(lambda x: x, lambda k, x, p, q: x * q - k * p)
_L = _simple(lambda x: 1 - x, lambda k, x, p, q: ((2 * k + 1 - x) * q - k * p) / (k + 1), at_zero=True)
_P = _simple(lambda x: x, lambda k, x, p, q: ((2 * k + 1) * x * q - k * p) / (k + 1), at_ones=True)

chebyshev_polynomial_t = plain_binary("chebyshev_polynomial_t", _T, "The Chebyshev polynomial T_n(x).")
chebyshev_polynomial_u = plain_binary("chebyshev_polynomial_u", _U, "The Chebyshev polynomial U_n(x).")
chebyshev_polynomial_v = plain_binary("chebyshev_polynomial_v", _V, "The Chebyshev polynomial V_n(x).")
chebyshev_polynomial_w = plain_binary("chebyshev_polynomial_w", _W, "The Chebyshev polynomial W_n(x).")
shifted_chebyshev_polynomial_t = plain_binary("shifted_chebyshev_polynomial_t", _shifted(_T),
                                              "T_n(2x - 1), the Chebyshev polynomial T shifted onto [0, 1].")
shifted_chebyshev_polynomial_u = plain_binary("shifted_chebyshev_polynomial_u", _shifted(_U),
                                              "U_n(2x - 1), the Chebyshev polynomial U shifted onto [0, 1].")
shifted_chebyshev_polynomial_v = plain_binary("shifted_chebyshev_polynomial_v", _shifted(_V),
                                              "V_n(2x - 1), the Chebyshev polynomial V shifted onto [0, 1].")
shifted_chebyshev_polynomial_w = plain_binary("shifted_chebyshev_polynomial_w", _shifted(_W),
                                              "W_n(2x - 1), the Chebyshev polynomial W shifted onto [0, 1].")
hermite_polynomial_h = plain_binary("hermite_polynomial_h", _H, "The physicists' Hermite polynomial H_n(x).")
hermite_polynomial_he = plain_binary("hermite_polynomial_he", _HE, "The probabilists' Hermite polynomial He_n(x).")
laguerre_polynomial_l = plain_binary("laguerre_polynomial_l", _L, "The Laguerre polynomial L_n(x).")
legendre_polynomial_p = plain_binary("legendre_polynomial_p", _P, "The Legendre polynomial P_n(x).")
