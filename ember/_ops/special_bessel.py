"""torch.special's Bessel-type functions: J0, J1, Y0, Y1, the modified K0, K1 (and their scaled forms),
I0, I1, the spherical j0 and the Airy function Ai. torch does not differentiate them.

Methods, each where it converges fast and loses no digits to cancellation:
- J, Y: power series below 1; Miller's backward recurrence for J_n up to 20, normalised by
  J0 + 2 (J2 + J4 + ...) = 1, with Y0 and Y1 from their Neumann series in the same J_n; Hankel's
  asymptotic series from 20 on (its smallest term is about e^-2x there).
- K: power series up to 2; beyond, the trapezoidal rule on e^x K_nu(x) = int_0^inf exp(-x (cosh t - 1))
  cosh(nu t) dt, whose integrand is analytic in a strip and decays doubly exponentially, so the rule
  converges geometrically (its step shrinks like 1/sqrt(x), where the integrand narrows).
- Ai: for x >= 3/2, Ai(x) = sqrt(x/3) K_{1/3}(2/3 x^{3/2}) / pi by the same integral; down to -10, Taylor
  steps of the equation Ai'' = x Ai from Ai(0) and Ai'(0); below, the oscillatory asymptotic series.
"""
from __future__ import annotations

import math

from .._backend import xp
from .special import _i0_np, _i1_np, plain_unary

_EULER = 0.5772156649015329
_TWO_OVER_PI = 2 / math.pi


def _log_series(q, sign: float, terms: int = 25):
    """The four power series of the order-0 and order-1 Bessel functions, in u = sign * q:
    sum u^k / k!^2, sum u^k / (k! (k+1)!), and the same two weighted by H_k and by psi(k+1) + psi(k+2)."""
    t0, t1 = xp.ones_like(q), xp.ones_like(q)
    s0, s1, h0, h1 = t0.copy(), t1.copy(), xp.zeros_like(q), (1 - 2 * _EULER) * t1
    harmonic = 0.0
    for k in range(1, terms):
        t0 = t0 * sign * q / (k * k)
        t1 = t1 * sign * q / (k * (k + 1))
        harmonic += 1 / k
        s0 += t0
        s1 += t1
        h0 += harmonic * t0
        h1 += (2 * harmonic + 1 / (k + 1) - 2 * _EULER) * t1
    return s0, s1, h0, h1


def _j_y_series(a):
    """(J0, J1, Y0, Y1) at 0 < a < 1 from their power series in -a^2 / 4."""
    j0, j1, h0, h1 = _log_series(a * a / 4, -1.0, 20)
    j1 *= a / 2
    log_half = xp.log(a / 2)
    y0 = _TWO_OVER_PI * ((log_half + _EULER) * j0 - h0)
    y1 = -_TWO_OVER_PI / a + _TWO_OVER_PI * log_half * j1 - a / (2 * math.pi) * h1
    return j0, j1, y0, y1


def _j_y_miller(a, top: int = 60):
    """(J0, J1, Y0, Y1) at 1 <= a < 20 from J_n by Miller's backward recurrence."""
    j = xp.zeros((top + 2,) + a.shape)
    j[top] = 1e-250
    for n in range(top, 0, -1):
        j[n - 1] = 2 * n / a * j[n] - j[n + 1]
    k = xp.arange(1, top // 2)
    sign = (-1.0) ** k
    norm = j[0] + 2 * j[2:top:2].sum(0)
    s0 = (sign[:, None] / k[:, None] * j[2 * k]).sum(0)
    s1 = (sign[:, None] / k[:, None] * (j[2 * k - 1] - j[2 * k + 1])).sum(0)
    j0, j1 = j[0] / norm, j[1] / norm
    log_term = xp.log(a / 2) + _EULER
    y0 = _TWO_OVER_PI * (log_term * j0 - 2 * s0 / norm)
    y1 = _TWO_OVER_PI * (log_term * j1 - j0 / a + s1 / norm)
    return j0, j1, y0, y1


def _hankel_pq(a, nu: int, terms: int = 30):
    """Hankel's P and Q for order nu at a >= 20."""
    mu = 4 * nu * nu
    p, q, term = xp.ones_like(a), xp.zeros_like(a), xp.ones_like(a)
    for k in range(1, terms):
        term = term * (mu - (2 * k - 1) ** 2) / (k * 8 * a)
        if k % 2:
            q += term * (-1) ** (k // 2)
        else:
            p += term * (-1) ** (k // 2)
    return p, q


def _j_y_large(a):
    """(J0, J1, Y0, Y1) at a >= 20: sqrt(2 / pi a) (P cos chi - Q sin chi), chi = a - (nu/2 + 1/4) pi."""
    amp = xp.sqrt(_TWO_OVER_PI / a)
    c, s = xp.cos(a) / math.sqrt(2), xp.sin(a) / math.sqrt(2)
    p0, q0 = _hankel_pq(a, 0)
    p1, q1 = _hankel_pq(a, 1)
    cos0, sin0, cos1, sin1 = c + s, s - c, s - c, -(s + c)
    return (amp * (p0 * cos0 - q0 * sin0), amp * (p1 * cos1 - q1 * sin1),
            amp * (p0 * sin0 + q0 * cos0), amp * (p1 * sin1 + q1 * cos1))


def _j_y(x):
    """(J0, J1, Y0, Y1) of |x|, each region by its method."""
    a = xp.abs(x)
    out = [xp.full_like(a, xp.nan) for _ in range(4)]
    for lo, hi, method in ((0, 1, _j_y_series), (1, 20, _j_y_miller), (20, xp.inf, _j_y_large)):
        sel = (a >= lo) & (a < hi) & (a > 0)  # inf stays NaN, as torch's
        if sel.any():
            for o, v in zip(out, method(a[sel])):
                o[sel] = v
    zero = a == 0
    out[0][zero], out[1][zero], out[2][zero], out[3][zero] = 1.0, 0.0, -xp.inf, -xp.inf
    return out


def _bessel_j0(x):
    return _j_y(x)[0]


def _bessel_j1(x):
    return xp.sign(x) * _j_y(x)[1]


def _bessel_y(order: int):
    def fn(x):
        return xp.where(x < 0, xp.nan, _j_y(x)[2 + order])
    return fn


def _k_scaled_integral(x, nu: float, points: int = 24):
    """e^x K_nu(x) for x >= 1 by the trapezoidal rule on int_0^inf exp(-x (cosh t - 1)) cosh(nu t) dt."""
    h = xp.minimum(0.2, 0.5 / xp.sqrt(x))[:, None]
    t = h * xp.arange(points)
    # 2 sinh^2(t/2) is cosh t - 1 without cancellation; clamping the exponent where the integrand is
    # already negligible keeps exp out of its slow underflowing path
    f = xp.exp(xp.maximum(-2 * x[:, None] * xp.sinh(t / 2) ** 2, -60.0)) * xp.cosh(nu * t)
    return h[:, 0] * (f.sum(1) - f[:, 0] / 2)


def _k_series(x):
    """(K0, K1) at 0 < x <= 2 from the series in x^2 / 4 with I0, I1 and digamma at the integers."""
    i0, i1, h0, h1 = _log_series(x * x / 4, 1.0)
    log_half = xp.log(x / 2)
    return -(log_half + _EULER) * i0 + h0, 1 / x + log_half * i1 * x / 2 - x / 4 * h1


def _k(order: int, scaled: bool):
    """K_order(x) or e^x K_order(x): NaN below 0, inf at 0, 0 at inf."""
    def fn(x):
        out = xp.full_like(x, xp.nan)
        small = (x > 0) & (x <= 2)
        if small.any():
            xs = x[small]
            out[small] = _k_series(xs)[order] * (xp.exp(xs) if scaled else 1)
        big = (x > 2) & (x < xp.inf)
        if big.any():
            xb = x[big]
            out[big] = _k_scaled_integral(xb, order) * (1 if scaled else xp.exp(-xb))
        out[x == 0] = xp.inf
        out[x == xp.inf] = 0.0
        return out
    return fn


def _spherical_j0(x):
    """sin(x) / x, by its Taylor series near 0; 0 at +-inf, as torch's."""
    with xp.errstate(invalid="ignore", divide="ignore"):
        out = xp.sin(x) / x
    x2 = x * x
    series, term = xp.ones_like(x), xp.ones_like(x)
    for k in range(1, 8):
        term = term * -x2 / ((2 * k) * (2 * k + 1))
        series += term
    out = xp.where(xp.abs(x) < 0.5, series, out)
    return xp.where(xp.isinf(x), 0.0, out)


_AI0 = 1 / (3 ** (2 / 3) * math.gamma(2 / 3))
_AIP0 = -1 / (3 ** (1 / 3) * math.gamma(1 / 3))


def _airy_taylor(x, step: float = 1.0, terms: int = 36):
    """Ai(x) for moderate x: Taylor steps of Ai'' = x Ai from 0, equal steps of at most ``step`` per element."""
    steps = max(1, math.ceil(float(xp.abs(x).max(initial=0)) / step))
    h = x / steps
    y, dy, c = xp.full_like(x, _AI0), xp.full_like(x, _AIP0), xp.zeros_like(x)
    for _ in range(steps):
        # y(c + h) = sum_k a_k h^k with a_0 = y(c), a_1 = y'(c), a_{k+2} = (c a_k + a_{k-1}) / ((k+1)(k+2))
        am1, a0, a1 = xp.zeros_like(x), y, dy
        y_new, dy_new, hk = y + dy * h, dy.copy(), h.copy()
        for k in range(terms):
            a2 = (c * a0 + am1) / ((k + 1) * (k + 2))
            dy_new += (k + 2) * a2 * hk
            hk = hk * h
            y_new += a2 * hk
            am1, a0, a1 = a0, a1, a2
        y, dy, c = y_new, dy_new, c + h
    return y


def _airy_negative(x, terms: int = 50):
    """Ai(x) for x <= -10 from the oscillatory asymptotic series in zeta = 2/3 |x|^{3/2}."""
    z = -x
    zeta = 2 / 3 * z * xp.sqrt(z)
    p, q, u = xp.ones_like(z), xp.zeros_like(z), 1.0
    power = xp.ones_like(z)
    for k in range(1, terms):
        u *= (6 * k - 5) * (6 * k - 3) * (6 * k - 1) / ((2 * k - 1) * 216 * k)
        power = power / zeta
        if k % 2:
            q += (-1) ** (k // 2) * u * power
        else:
            p += (-1) ** (k // 2) * u * power
    phase = zeta - math.pi / 4
    return (xp.cos(phase) * p + xp.sin(phase) * q) / (math.sqrt(math.pi) * xp.sqrt(xp.sqrt(z)))


def _airy_ai(x):
    out = xp.full_like(x, xp.nan)
    pos = (x >= 1.5) & (x < 110)  # beyond, Ai(x) < e^-(2/3 x^1.5) underflows
    if pos.any():
        xp_ = x[pos]
        zeta = 2 / 3 * xp_ * xp.sqrt(xp_)
        out[pos] = xp.sqrt(xp_ / 3) / math.pi * _k_scaled_integral(zeta, 1 / 3) * xp.exp(-zeta)
    out[(x >= 110) & (x < xp.inf)] = 0.0
    mid = (x > -10) & (x < 1.5)
    if mid.any():
        out[mid] = _airy_taylor(x[mid])
    neg = (x <= -10) & (x > -xp.inf)
    if neg.any():
        out[neg] = _airy_negative(x[neg])
    return out


bessel_j0 = plain_unary("bessel_j0", _bessel_j0, "The Bessel function of the first kind of order 0.")
bessel_j1 = plain_unary("bessel_j1", _bessel_j1, "The Bessel function of the first kind of order 1.")
bessel_y0 = plain_unary("bessel_y0", _bessel_y(0), "The Bessel function of the second kind of order 0.")
bessel_y1 = plain_unary("bessel_y1", _bessel_y(1), "The Bessel function of the second kind of order 1.")
modified_bessel_i0 = plain_unary("modified_bessel_i0", _i0_np, "The modified Bessel function I0.")
modified_bessel_i1 = plain_unary("modified_bessel_i1", _i1_np, "The modified Bessel function I1.")
modified_bessel_k0 = plain_unary("modified_bessel_k0", _k(0, False), "The modified Bessel function K0.")
modified_bessel_k1 = plain_unary("modified_bessel_k1", _k(1, False), "The modified Bessel function K1.")
scaled_modified_bessel_k0 = plain_unary("scaled_modified_bessel_k0", _k(0, True), "``exp(x) * K0(x)``.", arg="x")
scaled_modified_bessel_k1 = plain_unary("scaled_modified_bessel_k1", _k(1, True), "``exp(x) * K1(x)``.", arg="x")
spherical_bessel_j0 = plain_unary("spherical_bessel_j0", _spherical_j0, "``sin(x) / x``, the spherical Bessel j0.",
                                  arg="x")
airy_ai = plain_unary("airy_ai", _airy_ai, "The Airy function Ai(x).", arg="x")
