"""Special functions: log-gamma, digamma and polygamma, Hurwitz zeta, the incomplete gamma functions,
erfcx, modified Bessel functions (the rest of torch.special: ``special_bessel.py``, ``special_poly.py``).

Each forward is our own NumPy evaluation in float64 (recurrence to move the argument where an
asymptotic series converges fast, reflection for negative arguments), cast back to the input's
dtype; each backward is the next function of the family, so higher derivatives come for free.
"""
from __future__ import annotations

import inspect
import math

from .. import _dtype
from .._backend import xp
from .._tensor import Tensor
from ..autograd.function import Op
from ..autograd.grad_mode import no_grad
from . import _erf
from .common import FUNCTIONS, need_tensor, register, write_out
from .elementwise import arr, binary, const, unary, where

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
# Bernoulli numbers B_2, B_4, ..., B_20 (the asymptotic series of log-gamma and its derivatives)
_B2K = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798, -174611 / 330]


def _f64(fn):
    """Evaluate ``fn`` on a flat float64 copy of the input and return the input's shape and dtype."""
    def wrapped(x, *args):
        with xp.errstate(invalid="ignore", over="ignore"):
            out = fn(x.astype(xp.float64).reshape(-1), *args)
            return out.astype(x.dtype).reshape(x.shape)
    return wrapped


def _f64_pair(fn):
    """Two-input :func:`_f64`: ``fn`` on flat float64 copies of the broadcast operands, in their dtype."""
    def wrapped(a, b):
        dt = (a if isinstance(a, xp.ndarray) else b).dtype
        x, y = xp.broadcast_arrays(xp.asarray(a, xp.float64), xp.asarray(b, xp.float64))
        with xp.errstate(all="ignore"):
            return xp.asarray(fn(x.reshape(-1), y.reshape(-1)), dt).reshape(x.shape)
    return wrapped


def _published(name: str, call, params: tuple, doc: str):
    """``call`` under torch's parameter names and ``out=``, recording no autograd history (torch's
    results of these functions do not require grad)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    sig = inspect.Signature([inspect.Parameter(p, kind) for p in params]
                            + [inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None)])

    def f(*args, **kwargs) -> Tensor:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"special_{name}(): {e}") from None
        out = bound.arguments.pop("out", None)
        with no_grad():
            result = call(*bound.arguments.values())
        return write_out(f"special_{name}", result, out)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    f.__signature__ = sig
    return f


def plain_unary(name: str, fn, doc: str, arg: str = "input"):
    """A one-input torch.special function torch does not differentiate, from its float64 NumPy ``fn``."""
    op = unary(name, _f64(fn), _not_differentiable(name), method=False, function=False, inplace=False, doc=doc)

    def call(x):
        need_tensor(x, f"special_{name}", arg)
        return op(x)
    return _published(name, call, (arg,), doc)


def plain_binary(name: str, fn, doc: str):
    """``fn(x, n)`` as :func:`plain_unary` (Tensor or number first, Tensor or number second, not both numbers)."""
    op = binary(name, _f64_pair(fn), _not_differentiable(name), _not_differentiable(name), float_only=True,
                number_input=True, method=False, function=False, inplace=None, doc=doc)
    return _published(name, op, ("x", "n"), doc)


def _not_differentiable(name: str):
    def bwd(*args):
        raise NotImplementedError(f"the derivative for '{name}' is not implemented.")
    return bwd


def _shift_up(x, lo: float, step):
    """Move every element up by 1 until it reaches ``lo``; returns the moved values and sum of ``step(z)``."""
    z, acc = x.copy(), xp.zeros_like(x)
    todo = xp.flatnonzero(z < lo)
    while todo.size:
        zt = z[todo]
        acc[todo] += step(zt)
        z[todo] = zt + 1
        todo = todo[z[todo] < lo]
    return z, acc


def _lgamma_pos(x):
    """log|Gamma(x)| for x > 0: recurrence up to 10, then Stirling's series; between 1/2 and 7/2, around
    log Gamma's roots 1 and 2, the Taylor series of log Gamma(1 + a) (plus log(1 + a), log(2 + a) about
    2 and 3), which keeps the relative accuracy the sum of logarithms loses there."""
    with xp.errstate(divide="ignore"):
        z, logs = _shift_up(x, 10.0, lambda z: xp.log(z))
    inv, inv2 = 1 / z, 1 / (z * z)
    series = xp.zeros_like(z)
    for k in range(len(_B2K) - 1, -1, -1):
        series = series * inv2 + _B2K[k] / ((2 * k + 2) * (2 * k + 1))
    out = (z - 0.5) * xp.log(z) - z + _HALF_LOG_2PI + series * inv - logs
    near = (x > 0.5) & (x < 3.5)
    xn = x[near]
    base = xp.floor(xn + 0.5)  # 1, 2 or 3
    a = xn - base  # exact
    taylor = xp.zeros_like(a)
    for c in _LGAMMA1[::-1]:
        taylor = (taylor + c) * a
    out[near] = taylor + xp.where(base >= 2, xp.log1p(a), 0.0) + xp.where(base == 3, xp.log(2 + a), 0.0)
    return out


def _lgamma_np(x):
    out = xp.empty_like(x)
    pos = x > 0
    out[pos] = _lgamma_pos(x[pos])
    neg = ~pos & ~xp.isnan(x)
    xn = x[neg]
    with xp.errstate(divide="ignore"):  # Gamma has poles at 0, -1, -2, ...: log|Gamma| is +inf there
        out[neg] = xp.log(math.pi / xp.abs(xp.sin(math.pi * xn))) - _lgamma_pos(1 - xn)
    out[neg & (x == xp.floor(x))] = xp.inf
    out[xp.isnan(x)] = xp.nan
    out[x == xp.inf] = xp.inf
    return out


def _digamma_pos(x):
    with xp.errstate(divide="ignore"):
        z, recips = _shift_up(x, 10.0, lambda z: 1 / z)
    inv2 = 1 / (z * z)
    series = xp.zeros_like(z)
    for k in range(len(_B2K) - 1, -1, -1):
        series = series * inv2 + _B2K[k] / (2 * k + 2)
    return xp.log(z) - 0.5 / z - series * inv2 - recips


def _digamma_np(x):
    out = xp.empty_like(x)
    pos = x >= 0  # digamma(0) is -inf, as torch's
    out[pos] = _digamma_pos(x[pos])
    neg = x < 0
    xn = x[neg]
    with xp.errstate(divide="ignore", invalid="ignore"):
        out[neg] = _digamma_pos(1 - xn) - math.pi / xp.tan(math.pi * xn)
    out[neg & (x == xp.floor(x))] = xp.nan
    out[xp.isnan(x)] = xp.nan
    root = xp.abs(x - _PSI_ROOT[0]) < 0.25  # near digamma's positive root the sums above cancel
    a = (x[root] - _PSI_ROOT[0]) - _PSI_ROOT[1]
    taylor = xp.zeros_like(a)
    for c in _PSI_TAYLOR[::-1]:
        taylor = (taylor + c) * a
    out[root] = taylor
    return out


def _trigamma_np(x, like):
    """polygamma(1, x): reflection below 1/2, recurrence up to 10, then the asymptotic series.

    As torch's, the reflection's sin(pi x) takes pi x rounded to the input's precision (``like``):
    near the poles that rounding decides the float32 value (torch's float32 result there is off the
    true one by up to ~1e-5), and at negative integers it gives torch's huge finite values."""
    out = xp.empty_like(x)
    low = x < 0.5
    arg = (xp.asarray(math.pi, like.dtype) * like.reshape(-1)[low]).astype(xp.float64)
    with xp.errstate(divide="ignore"):
        out[low] = (math.pi / xp.sin(arg)) ** 2 - _trigamma_pos(1 - x[low])
    out[~low] = _trigamma_pos(x[~low])
    return out


def _trigamma_pos(x):
    with xp.errstate(divide="ignore"):
        z, head = _shift_up(xp.where(xp.isnan(x), xp.inf, x), 10.0, lambda z: 1 / (z * z))
    inv2 = 1 / (z * z)
    series = xp.zeros_like(z)
    for k in range(len(_B2K) - 1, -1, -1):
        series = series * inv2 + _B2K[k]
    out = head + 1 / z + inv2 / 2 + series * inv2 / z
    out[xp.isnan(x)] = xp.nan
    return out


def _zeta_np(s, q):
    """The Hurwitz zeta function sum_k (q + k)^-s: direct sum up to max(10, 2s), then Euler-Maclaurin.

    torch's domain: inf at s = 1 and at integer q <= 0, NaN for s < 1 and for q <= 0 with s not an
    integer (q^-s is not real there)."""
    out = xp.full_like(s, xp.nan)
    pole = (s == 1) | ((q <= 0) & (q == xp.floor(q)) & (s > 1))
    ok = (s > 1) & (q > 0) | (s > 1) & (q < 0) & (s == xp.floor(s)) & ~pole
    ok &= xp.isfinite(s) & xp.isfinite(q)
    sv, z = s[ok], q[ok].copy()
    acc, done = xp.zeros_like(z), xp.zeros(z.shape, bool)
    lo = xp.maximum(10.0, 2 * sv)  # once z >= s the Euler-Maclaurin corrections fall like (s / 2 pi z)^2j
    todo = xp.flatnonzero(z < lo)
    while todo.size:
        term = z[todo] ** -sv[todo]
        acc[todo] += term
        done[todo] |= xp.abs(term) <= 1e-18 * xp.abs(acc[todo])  # the rest cannot matter
        z[todo] += 1
        todo = todo[(z[todo] < lo[todo]) & ~done[todo]]
    zs = z ** -sv
    tail = z * zs / (sv - 1) + zs / 2
    fac = sv * zs / z  # s (s+1) ... (s+2j-2) z^(-s-2j+1), divided by (2j)! as it goes
    for j, b in enumerate(_B2K, start=1):
        tail += b * fac / math.factorial(2 * j)
        fac *= (sv + 2 * j - 1) * (sv + 2 * j) / (z * z)
    out[ok] = acc + xp.where(done, 0.0, tail)
    out[pole] = xp.inf
    si = s == xp.inf  # sum of q^-inf: only the first term can survive
    out[si & (q > 0)] = xp.where(q[si & (q > 0)] < 1, xp.inf, xp.where(q[si & (q > 0)] == 1, 1.0, xp.nan))
    return out


# log Gamma(1 + a) = -gamma a + sum_k>=2 (-1)^k zeta(k) a^k / k, |a| <= 1/2: coefficients of a, a^2, ...
_LGAMMA1 = [-0.5772156649015329] + [(-1) ** k * z / k for k, z in
                                    zip(range(2, 56), _zeta_np(xp.arange(2.0, 56.0), xp.ones(54)))]


def _polygamma_np(x, n: int):
    """The n-th derivative of digamma for n >= 2: (-1)^(n+1) n! zeta(n + 1, x), as torch's."""
    return (-1.0) ** (n + 1) * math.factorial(n) * _zeta_np(xp.full_like(x, n + 1.0), x)


# digamma's positive root as a float64 pair, and digamma's Taylor coefficients psi^(k)(root) / k! about it
_PSI_ROOT = (1.4616321449683622, 9.549995429965697e-17)  # mpmath.findroot(mpmath.digamma, 1.46)
_PSI_TAYLOR = [_trigamma_pos(xp.array([_PSI_ROOT[0]]))[0]] + [
    _polygamma_np(xp.array([_PSI_ROOT[0]]), k)[0] / math.factorial(k) for k in range(2, 28)]


def _float(t: Tensor) -> Tensor:
    return t if _dtype.is_float(t._data.dtype) else t.to(_dtype.get_default_dtype())


class Polygamma(Op):
    @staticmethod
    def forward(x, n):
        if n == 0:
            return _f64(_digamma_np)(x)
        if n == 1:
            return _f64(_trigamma_np)(x, x)
        return _f64(_polygamma_np)(x, n)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.n = inputs[1]
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * Polygamma.apply(x, ctx.n + 1), None


digamma = unary("digamma", _f64(_digamma_np), lambda x, y, g: g * Polygamma.apply(x, 1),
                doc="The logarithmic derivative of the gamma function.")
lgamma = unary("lgamma", _f64(_lgamma_np), lambda x, y, g: g * digamma(x),
               doc="``log|Gamma(x)|`` elementwise.")


@register(method=False)
def polygamma(n: int, input: Tensor) -> Tensor:
    """The ``n``-th derivative of digamma (``polygamma(0, x)`` is ``digamma(x)``)."""
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma.apply(_float(input), int(n))


Tensor.polygamma = lambda self, n: polygamma(n, self)
Tensor.polygamma.__doc__ = "The ``n``-th derivative of digamma."


def _polygamma_(self: Tensor, n: int) -> Tensor:
    return polygamma(n, self)


from .common import inplace_method  # noqa: E402

Tensor.polygamma_ = inplace_method(_polygamma_, "polygamma_")


@register(inplace="mvlgamma_")
def mvlgamma(input: Tensor, p: int) -> Tensor:
    """The multivariate log-gamma function of dimension ``p``."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    input = _float(input)  # torch 2.13 no longer checks x > (p - 1) / 2: inf/NaN come out instead
    out = lgamma(input)
    for i in range(1, p):
        out = out + lgamma(input - i / 2)
    return out + p * (p - 1) / 4 * math.log(math.pi)


# ----------------------------------------------------------------------------- modified Bessel functions
def _bessel_i_scaled(x, nu: int):
    """``exp(-|x|) I_nu(|x|)`` for nu in {0, 1}: power series up to 30, Hankel's asymptotic series beyond."""
    a = xp.abs(x)
    out = xp.empty_like(a)
    small = a <= 30
    s = a[small]
    q = s * s / 4
    term = xp.ones_like(s) if nu == 0 else s / 2
    total = term.copy()
    for k in range(1, 90):
        term = term * q / (k * (k + nu))
        total += term
    out[small] = total * xp.exp(-s)
    b = a[~small]
    term, total = xp.ones_like(b), xp.ones_like(b)
    for k in range(1, 30):
        term = term * -(4 * nu * nu - (2 * k - 1) ** 2) / (k * 8 * b)
        total += term
    out[~small] = total / xp.sqrt(2 * math.pi * b)
    out[xp.isnan(x)] = xp.nan
    return out


def _i0e_np(x):
    return _bessel_i_scaled(x, 0)


def _i1e_np(x):
    return xp.sign(x) * _bessel_i_scaled(x, 1)


def _i0_np(x):
    return _bessel_i_scaled(x, 0) * xp.exp(xp.abs(x))  # NaN at +-inf, as torch's


def _i1_np(x):
    return xp.sign(x) * _bessel_i_scaled(x, 1) * xp.exp(xp.abs(x))


def _over_x(y: Tensor, x: Tensor) -> Tensor:
    """``y / x`` for I_1-like ``y`` (odd, y'(0) = 1/2): 1/2 at x = 0, finite in both branches."""
    zero = const(x._data == 0)
    return where(zero, 0.5, y / where(zero, 1.0, x))


i0 = unary("i0", _f64(_i0_np), lambda x, y, g: g * i1(x),
           doc="The modified Bessel function of the first kind, order 0.")
i1 = unary("i1", _f64(_i1_np), lambda x, y, g: g * (i0(x) - _over_x(i1(x), x)), method=False, function=False,
           inplace=False, doc="The modified Bessel function of the first kind, order 1.")
i0e = unary("i0e", _f64(_i0e_np), lambda x, y, g: g * (i1e(x) - x.sign() * i0e(x)), method=False, function=False,
            inplace=False, doc="``exp(-|x|) * i0(x)``.")
i1e = unary("i1e", _f64(_i1e_np), lambda x, y, g: g * (i0e(x) - i1e(x) * x.sign() - _over_x(i1e(x), x)),
            method=False, function=False, inplace=False, doc="``exp(-|x|) * i1(x)``.")


# ----------------------------------------------------------------------------- torch.special's compositions
def _xlog1py_np(x, y):
    dt = (x if isinstance(x, xp.ndarray) else y).dtype
    with xp.errstate(divide="ignore", invalid="ignore"):
        out = xp.asarray(x * xp.log1p(y), dt)
    return xp.where((xp.asarray(x) == 0) & ~xp.isnan(y), xp.zeros_like(out), out)


xlog1py = binary("xlog1py", _xlog1py_np, lambda a, b, y, g: g * xlog1py(const(arr(a) != 0), b),
                 lambda a, b, y, g: g * a / (b + 1), float_only=True, method=False, function=False, inplace=None,
                 doc="``input * log1p(other)``, and 0 where ``input`` is 0 (unless ``other`` is NaN).")


def entr(input: Tensor) -> Tensor:
    """``-x * log(x)`` elementwise: 0 at 0, -inf below 0."""
    input = _float(input)
    pos = const(input._data > 0)
    safe = where(pos, input, 1.0)
    return where(pos, -safe * safe.log(), where(const(input._data == 0), 0.0, -math.inf))


def ndtr(input: Tensor) -> Tensor:
    """The standard normal cumulative distribution function."""
    return FUNCTIONS["erfc"](_float(input) * -math.sqrt(0.5)) * 0.5


def ndtri(input: Tensor) -> Tensor:
    """The inverse of :func:`ndtr`."""
    return FUNCTIONS["erfinv"](_float(input) * 2 - 1) * math.sqrt(2)


# ----------------------------------------------------------------------------- zeta, incomplete gamma, erfcx
zeta = binary("zeta", _f64_pair(_zeta_np), _not_differentiable("zeta"), lambda s, q, y, g: g * -s * zeta(s + 1, q),
              float_only=True, number_input=True, method=False, function=False, inplace=None,
              doc="The Hurwitz zeta function ``sum_k (other + k) ** -input``.")


def _log1pmx(t):
    """log(1 + t) - t without cancellation for small t."""
    out = xp.log1p(t) - t
    small = xp.abs(t) < 0.3
    ts = t[small]
    acc, term = xp.zeros_like(ts), ts.copy()
    for k in range(2, 40):
        term = term * -ts  # (-1)^(k+1) t^k
        acc += term / k
    out[small] = acc
    return out


def _log_prefactor(a, x):
    """log(x^a e^-x / Gamma(a + 1)); for large a through Stirling's series, as a log1pmx((x - a) / a) term
    that carries no cancellation of the large a log x and lgamma(a + 1)."""
    with xp.errstate(divide="ignore", invalid="ignore"):
        out = a * xp.log(x) - x - _lgamma_np(a + 1)
        big = a >= 10
        ab, xb = a[big], x[big]
        inv, inv2, corr = 1 / ab, 1 / (ab * ab), xp.zeros_like(ab)
        for k in range(len(_B2K) - 1, -1, -1):
            corr = corr * inv2 + _B2K[k] / ((2 * k + 2) * (2 * k + 1))
        out[big] = ab * _log1pmx((xb - ab) / ab) - 0.5 * xp.log(2 * math.pi * ab) - corr * inv
    return out


def _igamma_pair(a, x):
    """(P(a, x), Q(a, x)), the regularized lower and upper incomplete gamma functions.

    The series of P (x < a + 1) or the continued fraction of Q (x >= a + 1) gives the smaller one;
    the other is its complement. torch's values at the edges: NaN for a < 0, x < 0, a = x = 0 and
    a = x = inf; P = 1 for a = 0 < x and x = inf; P = 0 for x = 0 < a and a = inf."""
    p, q = xp.full_like(a, xp.nan), xp.full_like(a, xp.nan)
    ok = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
    av, xv = a[ok], x[ok]
    pre = _log_prefactor(av, xv)
    ser = xv < av + 1
    # P = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n))
    sa, sx = av[ser], xv[ser]
    total, term = xp.ones_like(sa), xp.ones_like(sa)
    todo = xp.arange(sa.size)
    for n in range(1, 100000):
        if not todo.size:
            break
        term[todo] *= sx[todo] / (sa[todo] + n)
        total[todo] += term[todo]
        todo = todo[term[todo] > 1e-17 * total[todo]]
    small = xp.exp(pre[ser]) * total
    # Q = x^a e^-x / Gamma(a) / (x + 1 - a - 1 (1 - a) / (x + 3 - a - 2 (2 - a) / ...)), by modified Lentz
    ca, cx = av[~ser], xv[~ser]
    b = cx + 1 - ca
    c, d = xp.full_like(b, 1e300), 1 / b
    h = d.copy()
    todo = xp.arange(b.size)
    for n in range(1, 100000):
        if not todo.size:
            break
        an = -n * (n - ca[todo])
        b[todo] += 2
        dn = an * d[todo] + b[todo]
        dn = xp.where(dn == 0, 1e-300, dn)
        cn = b[todo] + an / c[todo]
        cn = xp.where(cn == 0, 1e-300, cn)
        d[todo] = 1 / dn
        c[todo] = cn
        delta = cn * d[todo]
        h[todo] *= delta
        todo = todo[xp.abs(delta - 1) > 1e-16]
    large = xp.exp(pre[~ser]) * ca * h  # Gamma(a + 1) = a Gamma(a)
    pv, qv = xp.empty_like(av), xp.empty_like(av)
    pv[ser], qv[ser] = small, 1 - small
    qv[~ser], pv[~ser] = large, 1 - large
    p[ok], q[ok] = pv, qv
    for cond, pval in (((a == 0) & (x > 0), 1.0), ((x == 0) & (a > 0), 0.0),
                       (xp.isinf(x) & xp.isfinite(a) & (a >= 0), 1.0),
                       ((a == xp.inf) & xp.isfinite(x) & (x >= 0), 0.0)):
        p[cond], q[cond] = pval, 1 - pval
    p[(a == 0) & (x == 0)] = q[(a == 0) & (x == 0)] = xp.nan
    return p, q


def _igamma_dx(a, x):
    """d/dx P(a, x) = x^(a-1) e^-x / Gamma(a)."""
    return ((a - 1) * x.log() - x - lgamma(a)).exp()


igamma = binary("igamma", _f64_pair(lambda a, x: _igamma_pair(a, x)[0]), _not_differentiable("igamma: input"),
                lambda a, x, y, g: g * _igamma_dx(a, x), float_only=True, tensors_only=True, inplace="igamma_",
                doc="The regularized lower incomplete gamma function P(input, other).")
igammac = binary("igammac", _f64_pair(lambda a, x: _igamma_pair(a, x)[1]), _not_differentiable("igammac: input"),
                 lambda a, x, y, g: g * -_igamma_dx(a, x), float_only=True, tensors_only=True, inplace="igammac_",
                 doc="The regularized upper incomplete gamma function Q(input, other) = 1 - P(input, other).")


def _erfcx_np(x):
    """exp(x^2) erfc(x), from the fits of ``_erf``: past 0.75 their tail form t exp(B(t)) is erfcx itself;
    inside, exp(x^2) (1 - erf(x)); below -0.75, 2 exp(x^2) - erfcx(-x)."""
    a = xp.abs(x)
    t = 1 / (1 + _erf._P * a)
    tail = t * xp.exp(_erf._horner(_erf._B_F64, t * (2 / _erf._T0) - 1))
    inner = xp.exp(x * x) * (1 - x * _erf._horner(_erf._A_F64, x * x * (2 / _erf._SPLIT ** 2) - 1))
    out = xp.where(a < _erf._SPLIT, inner, tail)
    return xp.where(x <= -_erf._SPLIT, 2 * xp.exp(x * x) - tail, out)


erfcx = unary("erfcx", _f64(_erfcx_np), lambda x, y, g: g * (2 * x * erfcx(x) - 2 / math.sqrt(math.pi)),
              method=False, function=False, inplace=False,
              doc="The scaled complementary error function ``exp(x^2) erfc(x)``.")

from . import special_bessel, special_poly  # noqa: E402,F401  (the rest of torch.special)
