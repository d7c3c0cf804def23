"""Fit the polynomial coefficients of ember's erf/erfc (``ember/_ops/_erf.py``); prints them.

Two pieces, each a near-minimax fit (iteratively reweighted least squares on Chebyshev nodes,
against mpmath at 40 digits):
- |x| < 0.75:  erf(x) = x * A(x^2);
- |x| >= 0.75: erfc(x) = t * exp(-x^2 + B(t)) with t = 1 / (1 + x/2), which maps [0.75, inf) onto
  (0, 0.727] and makes log(erfc(x) exp(x^2) / t) a smooth, bounded function of t.
The normal CDF of float32 inputs (GELU's gate) needs only absolute accuracy, so it uses the tail
form alone, fitted over all of [0, inf) (t in (0, 1]) with degree 11 and evaluated in float32.
GELU of float32 (and its derivative) takes Phi(-a) = phi(a) * Q(v), Q of degree 5 in v = 2 / (1 + 0.31 a),
fitted to the Mills ratio in absolute error weighted by phi(a) over all a >= 0 (in s = v - 1, printed in v).
Each polynomial is written in a variable s in [-1, 1] as monomial coefficients (low degree first),
for Horner's rule. Run: python tools/fit_erf.py  (needs mpmath, which sympy/torch bring).
"""
import mpmath as mp
import numpy as np
from numpy.polynomial import chebyshev as C

mp.mp.dps = 40
SPLIT, P = 0.75, 0.5


def fit(f, lo: float, hi: float, deg: int, n: int = 3000):
    """Monomial coefficients in s = (z - mid) / half of a near-minimax fit of f on [lo, hi]; max error."""
    s = np.cos(np.pi * (np.arange(n) + 0.5) / n)
    z = s * (hi - lo) / 2 + (hi + lo) / 2
    y = np.array([float(f(mp.mpf(float(v)))) for v in z])
    w = np.ones_like(y)
    for _ in range(40):
        c = C.chebfit(s, y, deg, w=w)
        err = C.chebval(s, c) - y
        w *= (np.abs(err) / np.abs(err).max()) ** 0.5 + 1e-4
    mono = C.cheb2poly(c)
    return mono, float(np.abs(np.polynomial.polynomial.polyval(s, mono) - y).max() / np.abs(y).min())


def small(u):
    return mp.erf(mp.sqrt(u)) / mp.sqrt(u) if u > 0 else 2 / mp.sqrt(mp.pi)


def large(t):
    x = (1 / t - 1) / P
    return mp.log(mp.erfc(x) * mp.exp(x * x) / t)


def fit_gate(p: float, deg: int, n: int = 3000):
    """Monomial coefficients in s of Q with phi(a) Q(s) ~ Phi(-a) (near-minimax absolute error), t = (s + 1) / 2 =
    1 / (1 + p a) over (0, 1); the largest error."""
    s = np.cos(np.pi * (np.arange(n) + 0.5) / n)
    a = [(2 / mp.mpf(float(v + 1)) - 1) / p for v in s]
    phi = np.array([float(mp.npdf(x)) for x in a])
    ratio = np.array([float(mp.ncdf(-x) / mp.npdf(x)) if mp.npdf(x) > 1e-300 else 0.0 for x in a])
    w = np.ones_like(s)
    for _ in range(60):
        c = C.chebfit(s, ratio, deg, w=w * phi)
        err = (C.chebval(s, c) - ratio) * phi
        w *= (np.abs(err) / np.abs(err).max()) ** 0.5 + 1e-4
    return [float(v) for v in C.cheb2poly(c)], float(np.abs(err).max())


if __name__ == "__main__":
    t0 = 1 / (1 + P * SPLIT)
    for label, deg_a, deg_b in (("F32", 6, 10), ("F64", 9, 22)):
        a, ea = fit(small, 0.0, SPLIT ** 2, deg_a)
        b, eb = fit(large, 0.0, t0, deg_b)
        print(f"# {label}: small-x piece rel. error {ea:.1e}, large-x piece (in the exponent) {eb:.1e}")
        print(f"_A_{label} = ({', '.join(repr(float(v)) for v in a)})")
        print(f"_B_{label} = ({', '.join(repr(float(v)) for v in b)})")
    b, _ = fit(large, 0.0, 1.0, 11)
    s = np.linspace(-1, 1, 2001)[1:]
    err = max(abs(float(np.polynomial.polynomial.polyval(v, b)) - float(large(mp.mpf((v + 1) / 2)))) for v in s)
    print(f"# CDF32: whole-range tail piece, absolute error in the exponent {err:.1e}")
    print(f"_B_CDF32 = ({', '.join(repr(float(v)) for v in b)})")
    # GELU (float32): the Mills ratio Phi(-a) / phi(a), a >= 0, in s = 2 t - 1, t = 1 / (1 + 0.31 a), in absolute
    # error once multiplied by phi(a) (all that GELU's gate needs)
    q, eq = fit_gate(0.31, 5)
    q = np.polynomial.Polynomial(q)(np.polynomial.Polynomial([-1, 1])).coef  # evaluated in v = s + 1: a pass less
    print(f"# GELU gate: absolute error {eq:.1e}")
    print(f"_Q_GATE32 = ({', '.join(repr(float(v)) for v in q)})")
