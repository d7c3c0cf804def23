"""torch's per-element CPU samplers (gamma, Poisson, binomial) and the reparameterised gradients it defines
for gamma and Dirichlet samples, one scalar at a time.

torch draws these element by element, each taking as many uniforms and normals as its rejection loop needs,
so the stream can't be cut into arrays ahead of time: they run as Python scalar loops. Arithmetic follows
torch's C++ types: double accumulators, and for float32 tensors the steps torch does in float are rounded to
float (``rd``), with the float libm functions (``logf``, ``log1pf``, ``powf``) where torch calls them, so that
float32 results and every accept/reject decision come out as torch's.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import os
import struct

import numpy as np


def _libm():
    """The C math library torch's kernels call (glibc's ``lgamma``, ``logf``, ...), else None."""
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    except OSError:
        return None
    for name, t in (("lgamma", ctypes.c_double), ("logf", ctypes.c_float), ("log1pf", ctypes.c_float),
                    ("powf", ctypes.c_float)):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = t, [t] * (2 if name == "powf" else 1)
    return lib


_LIBM = _libm()
if _LIBM is not None:
    _lgamma, _logf, _log1pf, _powf = _LIBM.lgamma, _LIBM.logf, _LIBM.log1pf, _LIBM.powf
else:  # without the C library: the double functions rounded to float (rarely a last-bit difference)
    _lgamma = math.lgamma
    _logf = lambda v: float(np.float32(math.log(v)))  # noqa: E731
    _log1pf = lambda v: float(np.float32(math.log1p(v)))  # noqa: E731
    _powf = lambda a, b: float(np.float32(math.pow(a, b)))  # noqa: E731


def _pow(a: float, b: float) -> float:
    """C's ``pow``: inf on overflow and nan on a domain error, where Python's raises."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:  # C: a pole (0 to a negative power) is inf, a negative base to a fraction nan
        return math.inf if a == 0 else math.nan


def _div(a: float, b: float) -> float:
    """C's division: a zero divisor gives +-inf (nan for 0/0), where Python's raises."""
    try:
        return a / b
    except ZeroDivisionError:
        return math.nan if a == 0 or a != a else math.copysign(math.inf, a) * math.copysign(1.0, b)


def _log(v: float) -> float:
    """C's ``log``: -inf at 0 and nan below, where Python's raises."""
    return math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan)


def _floor(v: float) -> float:
    """C's ``floor``: inf and nan pass through, where Python's raises."""
    return float(math.floor(v)) if math.isfinite(v) else v


def _int64(v: float) -> int:
    """C's cast of a double to int64_t on x86: what doesn't fit (inf, nan, beyond 2^63) becomes -2^63."""
    return int(v) if -2.0 ** 63 <= v < 2.0 ** 63 else -(1 << 63)


_FLOAT = struct.Struct("<f")


def _f32(v: float) -> float:
    """``v`` rounded to float (an operation torch does in float: exact from the double result)."""
    try:
        return _FLOAT.unpack(_FLOAT.pack(v))[0]
    except OverflowError:  # struct refuses what float can't hold; the cast gives +-inf
        return float(np.float32(v))


def _f64(v: float) -> float:
    return v


def rounding(dtype: np.dtype):
    """The rounding of torch's ``scalar_t`` arithmetic for ``dtype`` (float for float32, none for float64)."""
    return _f64 if np.dtype(dtype).itemsize == 8 else _f32


class Draws:
    """torch's scalar draws from a ``_Stream``: ``uniform_real_distribution<double>`` (53 bits of one
    random64) and ``normal_distribution<double>`` (Box-Muller, its second sample cached in the generator),
    read ahead in blocks; leaving the ``with`` block gives back the read-ahead that was not used."""

    def __init__(self, rng, expect: int = 64) -> None:
        if not _ruled[0]:  # inside vmap the generator's wrapper rules here on whether this op may draw
            rng.bits  # noqa: B018
        rng = getattr(rng, "rng", rng)  # ... and then the normal cache is the stream's own, not the wrapper's
        self.rng, self.block, self.buf, self.pos, self.mark = rng, max(64, min(int(expect), 1 << 16)), [], 0, None

    def __enter__(self) -> "Draws":
        return self

    def __exit__(self, *exc) -> None:
        if self.mark is not None and self.pos < len(self.buf):
            self.rng.bits.state = self.mark
            self.rng.words(2 * self.pos)

    def uniform(self) -> float:
        if self.pos == len(self.buf):
            self.mark = self.rng.bits.state
            self.buf, self.pos = self.rng.unit(self.block, 53).tolist(), 0
            self.block = min(2 * self.block, 1 << 16)
        self.pos += 1
        return self.buf[self.pos - 1]

    def normal(self) -> float:
        rng = self.rng
        if rng.normal_cache is not None:
            z, rng.normal_cache = rng.normal_cache, None
            return z
        u1, u2 = self.uniform(), self.uniform()
        r, theta = math.sqrt(-2.0 * math.log1p(-u2)), 2.0 * math.pi * u1
        rng.normal_cache = r * math.sin(theta)
        return r * math.cos(theta)


# ----------------------------------------------------------------------------- vmap
_ruled = [False]  # a sampler runs on a whole batch that vmap_rule has ruled on: its draws need no other check


def vmap_rule(sampler):
    """The batching rule of a sampler with tensor parameters, as torch.func.vmap's for random ops.

    randomness="different": one call on the physical batch (batch dims in front, expanded where a parameter is
    not batched), so every sample draws its own values, in the order torch draws them; "same" refuses a
    batched parameter (as torch does) and draws once for an unbatched one; "error" refuses every draw, with
    the message of any random op.
    """
    @functools.wraps(sampler)
    def op(*args, **kwargs):
        from .func import _vmap as v  # here: ember.func imports the ops, which import the samplers
        if not v._levels or _ruled[0]:
            return sampler(*args, **kwargs)
        if any(r == "error" for _, _, r in v._levels):
            v._VmapRandom(None).bits  # noqa: B018  (the generator wrapper's refusal, even for a user's generator)
        batched = {lv for a in args if isinstance(a, v.Tensor) for lv in v._levels_of(a)}
        if any(r == "same" and lv in batched for lv, _, r in v._levels):
            raise RuntimeError("Vmap does not currently support same randomness with a batched tensor input. "
                               "Please file an issue with functorch")
        levels = tuple(lv for lv, _, r in v._levels if lv in batched or r == "different")
        if not levels:  # "same" at every level: one draw serves the whole batch
            return sampler(*args, **kwargs)
        rank = max(a.ndim for a in args if isinstance(a, v.Tensor))
        with v._fw.below(v._apply):
            phys = [v._align(a, levels, rank, expand=True) if isinstance(a, v.Tensor) else a for a in args]
            v._seen[0], _ruled[0] = False, True
            try:
                out = sampler(*phys, **kwargs)
            finally:
                v._seen[0], _ruled[0] = False, False
        return v._wrap(out, levels)
    return op


# ----------------------------------------------------------------------------- samplers
_THIRD_F = _f32(1.0 / 3.0)  # torch writes 1.0f / 3.0f: a float constant
_C0331_F = _f32(0.0331)


def gamma(alpha: float, draws: Draws, rd=_f64) -> float:
    """A Gamma(alpha, 1) draw by Marsaglia and Tsang's squeeze-and-reject; alpha < 1 is boosted to
    alpha + 1 and scaled by ``U^(1/alpha)``."""
    scale = 1.0
    if alpha < 1.0:
        if alpha == 0.0:
            return 0.0
        scale *= _pow(1.0 - draws.uniform(), rd(1.0 / alpha))
        alpha = rd(alpha + 1.0)
    d = rd(alpha - _THIRD_F)
    c = 1.0 / math.sqrt(9.0 * d) if d > 0 else math.nan  # nan for a negative or nan alpha, as C's sqrt
    while True:
        while True:
            x = draws.normal()
            y = 1.0 + c * x
            if not y <= 0:  # a nan y leaves too, as torch's loop
                break
        v = y * y * y
        u = 1.0 - draws.uniform()
        xx = x * x
        if u < 1.0 - _C0331_F * xx * xx or _log(u) < 0.5 * xx + d * (1.0 - v + math.log(v)):
            return scale * d * v


def poisson(lam: float, draws: Draws) -> float:
    """A Poisson(lam) draw in double: Hoermann's transformed rejection (PTRS) from lam = 10, else the product
    of uniforms until it falls to exp(-lam)."""
    if lam >= 10:
        slam, loglam = math.sqrt(lam), math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            u = draws.uniform() - 0.5
            v = draws.uniform()
            us = 0.5 - abs(u)
            k = _int64(_floor((_div(2 * a, us) + b) * u + lam + 0.43))
            if us >= 0.07 and v <= vr:
                return k
            if k < 0 or (us < 0.013 and v > us):
                continue
            if _log(v) + math.log(invalpha) - math.log(_div(a, us * us) + b) <= -lam + k * loglam - _lgamma(k + 1.0):
                return k
    if lam == 0:
        return 0
    k, prod, limit = 0, 1.0, math.exp(-lam)
    while True:
        prod *= draws.uniform()
        if prod <= limit:
            return k
        k += 1


_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983, 0.02079067210376509, 0.0166446911898211,
         0.0138761288230707, 0.0118967099458917, 0.0104112652619720, 0.00925546218271273, 0.00833056343336287)


def _stirling_tail(k: float) -> float:
    """log k! minus Stirling's approximation of it: a table to 9, then its asymptotic series."""
    if k <= 9:
        return _TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


def _binomial_inversion(n: float, p: float, draws: Draws, rd) -> float:
    """Count geometric waiting times (each ceil(log U / log(1 - p))) until they pass n."""
    logq = _log1pf(-p) if rd is _f32 else math.log1p(-p)
    total, k = 0.0, 0.0
    while True:
        g = _log(draws.uniform()) / logq
        total += math.ceil(g) if g < math.inf else g
        if total > n:
            return k
        k = rd(k + 1)


@functools.lru_cache(maxsize=256)
def _btrs_setup(n: float, p: float, rd) -> tuple:
    """BTRS's constants for one (n, p): tensors often repeat a pair, so they are kept."""
    stddev = rd(math.sqrt(rd(rd(n * p) * rd(1 - p))))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * p
    r = rd(p / rd(1 - p))
    m = _floor(rd(rd(n + 1) * p))
    # the terms of the acceptance bound that don't depend on the draw
    lead = (m + 0.5) * math.log((m + 1) / (r * (n - m + 1)))
    return (a, b, rd(n * p) + 0.5, 0.92 - 4.2 / b, r, (2.83 + 5.1 / b) * stddev, lead, rd(n + 1), n - m + 1,
            _stirling_tail(m), _stirling_tail(n - m))


def _btrs(n: float, p: float, draws: Draws, rd) -> float:
    """Hoermann's transformed rejection with squeeze (BTRS) for n * p >= 10, p <= 1/2."""
    a, b, c, v_r, r, alpha, lead, n1, nm1, tail_m, tail_nm = _btrs_setup(n, p, rd)
    while True:
        u = draws.uniform() - 0.5
        v = draws.uniform()
        us = 0.5 - abs(u)
        k = rd(_floor((_div(2 * a, us) + b) * u + c))
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v = _log(v * alpha / (_div(a, us * us) + b))
        nk1 = rd(rd(n - k) + 1)
        bound = (lead + n1 * math.log(nm1 / nk1) + (k + 0.5) * math.log(r * nk1 / rd(k + 1))
                 + tail_m + tail_nm - _stirling_tail(k) - _stirling_tail(rd(n - k)))
        if v <= bound:
            return k


def binomial(n: float, p: float, draws: Draws, rd=_f64) -> float:
    """A Binomial(n, p) draw: BTRS where the mean of the rarer outcome is 10 or more, else inversion."""
    if n <= 0.0 or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return n
    if p <= 0.5:
        return (_btrs if rd(n * p) >= 10.0 else _binomial_inversion)(n, p, draws, rd)
    if p > 0.5:
        q = rd(1.0 - p)
        return rd(n - (_btrs if rd(n * q) >= 10.0 else _binomial_inversion)(n, q, draws, rd))
    return math.nan


# ----------------------------------------------------------------------------- reparameterised gradients
# Element-wise formulas, so computed on arrays: the arithmetic is IEEE either way, and the transcendental
# functions go through ``_map`` to the C library one element at a time, so each value is torch's exactly.
# ``f32``: the tensor is float32, and the steps torch does in ``scalar_t`` are rounded to float (``_r``).
_PSI_10 = 2.25175258906672110764
_F1E17 = _f32(1.0e17)
_PSI_SERIES = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
               -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
               8.33333333333333333333E-2)


def _exp(v: float) -> float:
    """C's ``exp``: inf on overflow, where Python's raises."""
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _map(fn, *arrays) -> np.ndarray:
    """A C math function of each element (libm's values, bit for bit, where NumPy's SIMD loops may differ)."""
    arrays = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in arrays))
    out = [fn(*values) for values in zip(*(a.ravel().tolist() for a in arrays))]
    return np.array(out, np.float64).reshape(arrays[0].shape)


def _rounder(f32: bool):
    """Rounding to torch's ``scalar_t`` on arrays: to float for a float32 tensor, else none."""
    return (lambda a: np.asarray(a, np.float64).astype(np.float32).astype(np.float64)) if f32 else np.asarray


def _digamma(x: np.ndarray, f32: bool = False) -> np.ndarray:
    """torch's ``digamma_one`` for x >= 0: recur up to 10, then the asymptotic series (steps on x in scalar_t)."""
    r = _rounder(f32)
    x = np.array(x, np.float64)
    zero, result = x == 0, np.zeros_like(x)
    low = x < 10
    while low.any():
        result[low] -= r(1 / x[low])
        x[low] = r(x[low] + 1)
        low = x < 10
    z = 1.0 / r(x * x)
    poly = np.zeros_like(x)
    for coef in _PSI_SERIES:
        poly = poly * z + coef
    y = np.where(x < _F1E17, z * poly, 0.0)
    out = r(result + _map(_logf if f32 else _log, x) - r(0.5 / x) - y)
    return np.where(zero, math.inf, np.where(x == 10, r(result + _PSI_10), out))


_F08, _F09, _F11 = _f32(0.8), _f32(0.9), _f32(1.1)
_GAMMA_UV = ((0.16009398, -0.094634809, 0.025146376, -0.0030648343, 1, 0.32668115, 0.10406089, 0.0014179084),
             (0.53487893, 0.1298071, 0.065735949, -0.0015649758, 0.16639465, 0.020070113, -0.0035938915,
              -0.00058392623),
             (0.040121004, -0.0065914022, -0.0026286047, -0.0013441777, 0.017050642, -0.0021309326,
              0.00085092367, -1.5247877e-07))


def standard_gamma_grad(alpha: np.ndarray, x: np.ndarray, f32: bool = False) -> np.ndarray:
    """d x / d alpha for Gamma(alpha, 1) samples x held at their quantiles, in double as torch's (for either
    dtype): a Taylor series for x < 0.8, Rice's saddle-point expansion for alpha > 8, else a rational fit in
    log x/alpha and log alpha."""
    out = np.empty(x.shape)
    small = x < _F08
    big = ~small & (alpha > 8.0)
    near = big & (_F09 * alpha <= x) & (x <= _F11 * alpha)
    far, rest = big & ~near, ~small & ~big
    a, v = alpha[small], x[small]
    numer, denom = np.ones_like(v), a
    s1, s2 = numer / denom, numer / (denom * denom)
    for i in range(1, 6):
        numer = numer * (-v / i)
        denom = denom + 1
        s1, s2 = s1 + numer / denom, s2 + numer / (denom * denom)
    pow_x_alpha = _map(_pow, v, a)
    pdf = _map(_pow, v, a - 1) * _map(_exp, -v)
    cdf = pow_x_alpha * s1
    grad = -((_map(_log, v) - _digamma(a)) * cdf - pow_x_alpha * s2) / pdf
    out[small] = np.where(np.isnan(grad), 0.0, grad)
    a, v = alpha[near], x[near]
    numer_1 = 1 + 24 * a * (1 + 12 * a)
    numer_2 = 1440 * (a * a) + 6 * v * (53 - 120 * v) - 65 * v * v / a + a * (107 + 3600 * v)
    out[near] = numer_1 * numer_2 / (1244160 * (a * a) * (a * a))
    a, v = alpha[far], x[far]
    denom = np.sqrt(8 * a)
    term2, log_ratio = denom / (a - v), _map(_log, v / a)
    term3 = _map(_pow, v - a - a * log_ratio, -1.5)
    term1 = log_ratio * np.where(v < a, term2 - term3, term2 + term3) - np.sqrt(2 / a) * (a + v) / ((a - v) * (a - v))
    stirling = 1 + 1 / (12 * a) * (1 + 1 / (24 * a))
    out[far] = -stirling * (v * term1) / denom
    a, v = alpha[rest], x[rest]
    u, w = _map(_log, v / a), _map(_log, a)
    cv = [c0 + u * (c1 + u * c2) for c0, c1, c2 in zip(*_GAMMA_UV)]
    p = cv[0] + w * (cv[1] + w * (cv[2] + w * cv[3]))
    q = cv[4] + w * (cv[5] + w * (cv[6] + w * cv[7]))
    out[rest] = _map(_exp, p / q)
    return out


def _beta_grad_alpha_small(x, alpha, beta, f32: bool) -> np.ndarray:
    """d x / d alpha of Beta(alpha, beta) samples near 0: a Taylor series in x (in scalar_t)."""
    r = _rounder(f32)
    factor = r(r(_digamma(alpha, f32) - _digamma(r(alpha + beta), f32)) - _map(_logf if f32 else _log, x))
    numer = np.ones_like(x)
    series = r(r(numer / alpha) * r(factor + r(1 / alpha)))
    for i in range(1, 11):
        numer = r(numer * r(r(r(i - beta) * x) / i))
        denom = r(alpha + i)
        series = r(series + r(r(numer / denom) * r(factor + r(1 / denom))))
    out = r(r(x * _map(_powf if f32 else _pow, r(1 - x), -beta)) * series)
    return np.where(np.isnan(out), 0.0, out)


def _beta_grad_beta_small(x, alpha, beta, f32: bool) -> np.ndarray:
    """d x / d beta of Beta(alpha, beta) samples near 0 (in scalar_t)."""
    r = _rounder(f32)
    factor = r(_digamma(r(alpha + beta), f32) - _digamma(beta, f32))
    numer, betas, dbetas, series = np.ones_like(x), np.ones_like(x), np.zeros_like(x), r(factor / alpha)
    for i in range(1, 9):
        numer = r(numer * r(-x / i))
        dbetas = r(r(dbetas * r(beta - i)) + betas)
        betas = r(betas * r(beta - i))
        series = r(series + r(r(numer / r(alpha + i)) * r(dbetas + r(factor * betas))))
    out = r(-_map(_powf if f32 else _pow, r(1 - x), r(1 - beta)) * series)
    return np.where(np.isnan(out), 0.0, out)


def _beta_grad_alpha_mid(x, alpha, beta) -> np.ndarray:
    """d x / d alpha of Beta samples for large alpha and beta: Rice's saddle-point expansion (in double)."""
    total = alpha + beta
    mean = alpha / total
    std = np.sqrt(alpha * beta / (total + 1)) / total
    # the expansion's singularity at the mean, expanded away
    poly = 47 * x * (beta * beta) * (beta * beta) + alpha * (
        (43 + 20 * (16 + 27 * beta) * x) * (beta * beta) * beta + alpha * (
            3 * (59 + 180 * beta - 90 * x) * (beta * beta) + alpha * (
                (453 + 1620 * beta * (1 - x) - 455 * x) * beta + alpha * (
                    8 * (1 - x) * (135 * beta - 11)))))
    prefactor_num = (1 + 12 * alpha) * (1 + 12 * beta) / (total * total)
    prefactor_den = 12960 * alpha * alpha * alpha * beta * beta * (1 + 12 * total)
    at_mean = prefactor_num / (1 - x) * poly / prefactor_den
    prefactor = -x / np.sqrt(2 * alpha * beta / total)
    stirling = ((1 + 1 / (12 * alpha) + 1 / (288 * alpha * alpha)) * (1 + 1 / (12 * beta) + 1 / (288 * beta * beta))
                / (1 + 1 / (12 * total) + 1 / (288 * total * total)))
    term1_num = 2 * (alpha * alpha) * (x - 1) + alpha * beta * (x - 1) - x * (beta * beta)
    axbx = alpha * (x - 1) + beta * x
    term1 = term1_num / (np.sqrt(2 * alpha / beta) * _map(_pow, total, 1.5) * axbx * axbx)
    log_a = _map(_log, alpha / (total * x))
    term2 = 0.5 * log_a
    term3 = np.sqrt(8 * alpha * beta / total) / (beta * x + alpha * (x - 1))
    term4 = _map(_pow, beta * _map(_log, beta / (total * (1 - x))) + alpha * log_a, -1.5)
    away = stirling * prefactor * (term1 + term2 * (term3 + np.where(x < mean, term4, -term4)))
    return np.where((mean - 0.1 * std <= x) & (x <= mean + 0.1 * std), at_mean, away)


# coefficients of torch's rational correction: [numerator, denominator][power of u][power of a][power of b]
_DIRICHLET_PQ = (
    (((1.003668233, -0.01061107488, -0.0657888334, 0.01201642863),
      (0.6336835991, -0.3557432599, 0.05486251648, -0.001465281033),
      (-0.03276231906, 0.004474107445, 0.002429354597, -0.0001557569013)),
     ((0.221950385, -0.3187676331, 0.01799915743, 0.01074823814),
      (-0.2951249643, 0.06219954479, 0.01535556598, 0.001550077057),
      (0.02155310298, 0.004170831599, 0.001292462449, 6.976601077e-05)),
     ((-0.05980841433, 0.008441916499, 0.01085618172, 0.002319392565),
      (0.02911413504, 0.01400243777, -0.002721828457, 0.000751041181),
      (0.005900514878, -0.001936558688, -9.495446725e-06, 5.385558597e-05))),
    (((1, -0.02924021934, -0.04438342661, 0.007285809825),
      (0.6357567472, -0.3473456711, 0.05454656494, -0.002407477521),
      (-0.03301322327, 0.004845219414, 0.00231480583, -0.0002307248149)),
     ((0.5925320577, -0.1757678135, 0.01505928619, 0.000564515273),
      (0.1014815858, -0.06589186703, 0.01272886114, -0.0007316646956),
      (-0.007258481865, 0.001096195486, 0.0003934994223, -4.12701925e-05)),
     ((0.06469649321, -0.0236701437, 0.002902096474, -5.896963079e-05),
      (0.001925008108, -0.002869809258, 0.0008000589141, -6.063713228e-05),
      (-0.0003477407336, 6.959756487e-05, 1.097287507e-05, -1.650964693e-06))))


def dirichlet_grad(x: np.ndarray, alpha: np.ndarray, total: np.ndarray, f32: bool = False) -> np.ndarray:
    """The reparameterised gradient of Dirichlet samples' components x in their own concentrations alpha
    (``total`` the sum of all), divided by 1 - x: torch's ``dirichlet_grad_one``, as the Beta(alpha,
    total - alpha) marginal's, by whichever approximation fits where x lies."""
    r = _rounder(f32)
    beta, beta_ = r(total - alpha), total - alpha
    boundary = r(r(total * x) * r(1 - x))
    near_0 = (x <= 0.5) & (boundary < 2.5)
    near_1 = ~near_0 & (x >= 0.5) & (boundary < 0.75)
    mid = ~near_0 & ~near_1 & (alpha > 6) & (beta > 6)
    rest = ~near_0 & ~near_1 & ~mid
    out = np.empty(x.shape)
    out[near_0] = _beta_grad_alpha_small(x[near_0], alpha[near_0], beta[near_0], f32)
    out[near_1] = -_beta_grad_beta_small(r(1 - x[near_1]), beta[near_1], alpha[near_1], f32)
    out[mid] = r(_beta_grad_alpha_mid(x[mid], alpha[mid], beta_[mid]))
    v, a, t = x[rest], alpha[rest], total[rest]
    u = _map(_log, v)
    la = _map(_log, a) - u
    lb = _map(_log, t) - la
    pq = [np.zeros_like(v), np.zeros_like(v)]
    for k in range(2):
        for i, pow_u in enumerate((1, u, u * u)):
            for j, pow_a in enumerate((1, la, la * la)):
                c = _DIRICHLET_PQ[k][i][j]
                pq[k] = pq[k] + pow_u * pow_a * (c[0] + lb * (c[1] + lb * (c[2] + lb * c[3])))
    approx = v * r(_digamma(r(t), f32) - _digamma(r(a), f32)) / beta_[rest]
    out[rest] = r(pq[0] / pq[1] * approx)
    return out


# ----------------------------------------------------------------------------- torch's sum over a row
@functools.cache
def _lanes() -> int:
    """Doubles in one vector of torch's CPU kernels: 8 where it runs its AVX512 build (as ATEN_CPU_CAPABILITY
    says, else as the CPU's flags allow), else 4."""
    capability = os.environ.get("ATEN_CPU_CAPABILITY", "").lower()
    if capability:
        return 8 if capability.startswith("avx512") else 4
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return 4
    return 8 if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags else 4


def _multi_row_sum(rows: list) -> list:
    """Four running sums over ``rows`` (each four items), cascaded in levels so that long rows keep their
    accuracy: torch's ``multi_row_sum``."""
    size, levels = len(rows), 4
    power = max(4, (size - 1).bit_length() // levels if size > 1 else 0)
    step, mask = 1 << power, (1 << power) - 1
    acc = [[0.0] * 4 for _ in range(levels)]
    i = 0
    while i + step <= size:
        for _ in range(step):
            acc[0] = [a + r for a, r in zip(acc[0], rows[i])]
            i += 1
        for j in range(1, levels):
            acc[j] = [a + b for a, b in zip(acc[j], acc[j - 1])]
            acc[j - 1] = [0.0] * 4
            if i & (mask << (j * power)):
                break
    for row in rows[i:]:
        acc[0] = [a + r for a, r in zip(acc[0], row)]
    for j in range(1, levels):
        acc[0] = [a + b for a, b in zip(acc[0], acc[j])]
    return acc[0]


def _row_sum(items: list):
    """torch's ``row_sum``: four interleaved partial sums over whole groups of four, the rest onto the first."""
    whole = len(items) // 4
    partial = _multi_row_sum([items[4 * i:4 * i + 4] for i in range(whole)])
    for item in items[4 * whole:]:
        partial[0] = partial[0] + item
    for k in range(1, 4):
        partial[0] = partial[0] + partial[k]
    return partial[0]


def row_sums(a: np.ndarray) -> np.ndarray:
    """Sums over the last dim of double ``a`` in torch's order (its CPU sum kernel on contiguous rows):
    vectors of ``_lanes()`` summed by ``_row_sum``, then the leftover items, then the vector's lanes."""
    rows, lanes = a.reshape(-1, a.shape[-1]), _lanes()
    k = rows.shape[1]
    if k < lanes:
        out = _row_sum([rows[:, j] for j in range(k)]) if k else np.zeros(rows.shape[0])
    else:
        whole = k // lanes
        vector = _row_sum([rows[:, lanes * i:lanes * (i + 1)] for i in range(whole)])
        out = np.zeros(rows.shape[0])
        for j in range(whole * lanes, k):
            out = out + rows[:, j]
        for j in range(lanes):
            out = out + vector[:, j]
    return np.asarray(out, np.float64).reshape(a.shape[:-1] + (1,))
