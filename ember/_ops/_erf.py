"""erf and erfc at NumPy's elementwise speed: two fitted polynomials and one exp per element.

- |x| < 0.75:  erf(x) = x * A(x^2);
- |x| >= 0.75: erfc(|x|) = t * exp(-x^2 + B(t)) with t = 1 / (1 + |x|/2). In t the large-x tail
  [0.75, inf) becomes (0, 0.727], and the exponent's correction B is smooth and bounded there.
The coefficients come from ``tools/fit_erf.py`` (near-minimax fits against mpmath); each polynomial
runs in a variable s in [-1, 1]. float32 inputs use low-degree fits (relative error ~1e-9 before
the final rounding, so results are within an ulp of the true value); float64 inputs use longer ones
(~1e-14). Work is done in float64 on cache-sized blocks, split between ember's threads.

GELU's gate, the normal CDF 0.5 * (1 + erf(x / sqrt(2))), needs only absolute accuracy (it lies in
[0, 1] and multiplies x), so for float32 it takes the tail form alone, fitted over all of [0, inf),
and runs in float32: about a third of the passes, each half the bytes.

GELU itself (float32) comes from ``gelu``, which gives x * Phi(x) and, for backward, its derivative
Phi(x) + x * phi(x) from one exp: Phi(-|x|) = phi(x) * Q(v), with Q a degree-5 polynomial in
v = 2 / (1 + 0.31 |x|), which maps [0, inf) onto (0, 2]. Q is fitted to the Mills ratio in absolute
error weighted by phi (1.9e-8; degree 6 with 0.28 gave 5e-9, both far under float32's rounding of the
gate): the product only needs absolute accuracy, and phi's decay tames Q's error where the ratio itself
is hard to fit (large |x|). Q is fitted in s = v - 1 (in [-1, 1]) and evaluated in v, which saves a
pass. 25 passes of NumPy, the exp the dearest, over blocks of 128K elements: each NumPy call costs about
a microsecond, so smaller blocks that stay in cache measured slower (1M elements 5.4 -> 4.5 ms).
"""
from __future__ import annotations

from .._backend import parallel_map, xp

_SPLIT, _P = 0.75, 0.5
_T0 = 1 / (1 + _P * _SPLIT)
_BLOCK = 16384
_LOG_HALF = -0.6931471805599453
_INV_SQRT_2PI = 0.3989422804014327

# python tools/fit_erf.py
_A_F32 = (1.0309528156004795, -0.08960376728677329, 0.007314485254185342, -0.000480871056890698,
          2.5991563621679282e-05, -1.1894096860866381e-06, 4.6898479510427114e-08)
_B_F32 = (-0.8508364892807777, 0.46354773027414153, 0.04217227441872853, -0.0118067666558594,
          -0.005164649552174682, 0.0005924854160160025, 0.0007085554152575567, -3.696809724181257e-05,
          -0.00010396133959124137, 2.817308810872934e-06, 1.1443816078174747e-05)
_A_F64 = (1.0309528156012624, -0.08960376710910233, 0.007314485234588513, -0.0004808724779999556,
          2.5991645172766004e-05, -1.1865685381049897e-06, 4.678552389926292e-08, -1.6216314948523611e-09,
          5.021888111781565e-11, -1.4733142630337433e-12)
_B_F64 = (-0.8508364904696945, 0.4635477360085363, 0.04217235803913897, -0.011806898744076113,
          -0.005165607309146919, 0.0005933393291047304, 0.0007126129994183749, -3.928470454327889e-05,
          -0.00011191341979031587, 5.820060646915682e-06, 1.9034189076318073e-05, -1.9229880743729895e-06,
          -3.2874931062199106e-06, 6.637724541135919e-07, 5.375688504873377e-07, -1.948404381942074e-07,
          -8.333826952723732e-08, 4.64948950971313e-08, 1.6369171014455012e-08, -8.246506047684501e-09,
          -4.373836225834437e-09, 8.201466701007549e-10, 7.156892868332443e-10)

_B_CDF32 = (-0.6717940900557217, 0.6726431349975963, 0.0473437978751075, -0.046893193840952085,
            -0.009879245264259066, 0.008806081226259397, 0.0017917677547947604, -0.002282020587042188,
            -0.00022515812152085275, 0.0005666164160168322, 6.856883013500409e-06, -8.455646732478048e-05)

_B_HALF_CDF32 = (_B_CDF32[0] + _LOG_HALF,) + _B_CDF32[1:]   # log(1/2) folded in: h = erfc / 2

# python tools/fit_erf.py: Phi(-a) / phi(a) for a >= 0, in v = 2 / (1 + 0.31 a), absolute error of phi(a)
# times it 1.9e-8
_Q_GATE32 = (0.024040547509278087, 0.052406328958242154, 0.2579288628200223, -0.12992697208835538,
             0.09281198937619842, -0.011025953921106318)
_GATE_P = 0.31
_LOG_INV_SQRT_2PI = -0.9189385332046727
_SIGN_BIT32 = xp.int32(-2 ** 31)


def _horner(coef: tuple, s):
    acc = xp.full_like(s, coef[-1])
    for c in coef[-2::-1]:
        acc *= s
        acc += c
    return acc


def _horner_from(coef: tuple, s):
    """Horner's rule into a new array, without a pass to fill it with the leading coefficient."""
    acc = s * coef[-1]
    acc += coef[-2]
    for c in coef[-3::-1]:
        acc *= s
        acc += c
    return acc


def _gelu32_block(y, d, x) -> None:
    """y = x * Phi(x) and (into d, unless None) Phi(x) + x * phi(x), in float32 and in place."""
    a = xp.abs(x)
    phi = a * -0.5
    phi *= a
    phi += _LOG_INV_SQRT_2PI
    phi = xp.exp(phi, out=phi)                    # the normal density at x
    a += 1 / _GATE_P
    s = xp.divide(2 / _GATE_P, a, out=a)
    cdf = _horner_from(_Q_GATE32, s)
    cdf *= phi                                    # Phi(-|x|)
    # Phi(x) = 1/2 -+ (1/2 - Phi(-|x|)) by the sign of x, rounded as torch's 0.5 * (1 + erf); the sign
    # goes on as a bit (NumPy's copysign costs as much as five multiplications)
    xp.subtract(0.5, cdf, out=cdf)
    sign = xp.bitwise_and(x.view(xp.int32), _SIGN_BIT32, out=s.view(xp.int32))
    xp.bitwise_or(cdf.view(xp.int32), sign, out=cdf.view(xp.int32))
    cdf += 0.5
    xp.multiply(x, cdf, out=y)
    if d is not None:
        xp.multiply(x, phi, out=d)
        d += cdf


def gelu(x, grad: bool):
    """(x * Phi(x), and with ``grad`` its derivative Phi(x) + x * phi(x), else None) of a float array,
    same dtype; float16/bfloat16 computed in float32 and rounded once, as torch's."""
    if x.dtype == xp.float64:
        cdf = normal_cdf(x)
        with xp.errstate(all="ignore"):  # -inf * 0 is torch's nan
            d = xp.exp(x * x * -0.5) * (x * _INV_SQRT_2PI) + cdf if grad else None
            return xp.asarray(x * cdf), d
    x32 = x.astype(xp.float32, order="C", copy=False)
    y = xp.empty(x32.shape, xp.float32)
    d = xp.empty(x32.shape, xp.float32) if grad else None
    with xp.errstate(all="ignore"):
        if grad:
            parallel_map(_gelu32_block, y, d, x32, piece=8 * _BLOCK)
        else:
            parallel_map(lambda o, v: _gelu32_block(o, None, v), y, x32, piece=8 * _BLOCK)
    if x.dtype != xp.float32:
        y, d = y.astype(x.dtype), (None if d is None else d.astype(x.dtype))
    return y, d


def _pieces(x, scale: float):
    """(|z|, the small-x value z*A(z^2) without sign, erfc(|z|) from the tail fit) for z = x*scale."""
    a_coef, b_coef = (_A_F32, _B_F32) if x.dtype.itemsize <= 4 else (_A_F64, _B_F64)
    a = xp.abs(x, dtype=xp.float64)
    if scale != 1:
        a *= scale
    u = a * a
    small = a * _horner(a_coef, u * (2 / _SPLIT ** 2) - 1)
    t = 1 / (1 + _P * a)
    tail = _horner(b_coef, t * (2 / _T0) - 1)
    tail -= u
    tail = xp.exp(tail, out=tail)
    tail *= t
    return a, small, tail


def _erf_block(out, x, scale: float = 1.0, affine: bool = False) -> None:
    with xp.errstate(all="ignore"):
        a, small, tail = _pieces(x, scale)
        r = xp.where(a < _SPLIT, small, 1 - tail)
        r = xp.copysign(r, x, out=r)
        if affine:  # 0.5 * (1 + erf): the normal CDF, for GELU
            r += 1
            r *= 0.5
        out[...] = r


def _cdf32_block(out, x, scale: float) -> None:
    a = xp.abs(x)
    a *= scale
    t = a * _P
    t += 1
    t = xp.reciprocal(t, out=t)
    s = t * 2
    s -= 1
    h = _horner(_B_HALF_CDF32, s)
    a *= a
    h -= a
    h = xp.exp(h, out=h)
    h *= t                                   # h = erfc(|z|) / 2 = the CDF at -|x|
    xp.subtract(0.5, h, out=h)
    xp.copysign(h, x, out=h)                 # the CDF is 1/2 -+ (1/2 - h), by the sign of x
    xp.add(h, 0.5, out=out)


def _erfc_block(out, x) -> None:
    with xp.errstate(all="ignore"):
        a, small, tail = _pieces(x, 1.0)
        r = xp.where(a < _SPLIT, 1 - small, tail)
        out[...] = xp.where(x < 0, 2 - r, r)


def _run(block, x, **kw):
    if not x.flags.c_contiguous:
        x = x.copy()
    out = xp.empty(x.shape, x.dtype if x.dtype.kind == "f" else xp.float64)
    parallel_map(lambda o, v: block(o, v, **kw), out, x, piece=_BLOCK)
    return out


def erf(x):
    """erf of a float array, same dtype."""
    return _run(_erf_block, x)


def erfc(x):
    """erfc of a float array, same dtype."""
    return _run(_erfc_block, x)


def normal_cdf(x, scale: float = 0.7071067811865476):
    """0.5 * (1 + erf(x * scale)): the standard normal CDF at x (GELU's gate)."""
    if x.dtype == xp.float32:
        with xp.errstate(all="ignore"):
            return _run(_cdf32_block, x, scale=scale)
    return _run(_erf_block, x, scale=scale, affine=True)
