"""Special functions: log-gamma, digamma and polygamma, modified Bessel functions.

Each forward is our own NumPy evaluation in float64 (recurrence to move the argument where an
asymptotic series converges fast, reflection for negative arguments), cast back to the input's
dtype; each backward is the next function of the family, so higher derivatives come for free.
"""
from __future__ import annotations

import math

from .. import _dtype
from .._backend import xp
from .._tensor import Tensor
from ..autograd.function import Op
from .common import FUNCTIONS, register
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
    """log|Gamma(x)| for x > 0: recurrence up to 10, then Stirling's series."""
    with xp.errstate(divide="ignore"):
        z, logs = _shift_up(x, 10.0, lambda z: xp.log(z))
    inv, inv2 = 1 / z, 1 / (z * z)
    series = xp.zeros_like(z)
    for k in range(len(_B2K) - 1, -1, -1):
        series = series * inv2 + _B2K[k] / ((2 * k + 2) * (2 * k + 1))
    return (z - 0.5) * xp.log(z) - z + _HALF_LOG_2PI + series * inv - logs


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
    return out


def _polygamma_np(x, n: int):
    """The n-th derivative of digamma (n >= 1): recurrence up to 20 + n, then its asymptotic series."""
    sign, fact = (-1.0) ** (n + 1), math.factorial(n)
    with xp.errstate(divide="ignore", over="ignore"):
        z, head = _shift_up(xp.where(xp.isnan(x), xp.inf, x), 20.0 + n, lambda z: 1 / z ** (n + 1))
        series = math.factorial(n - 1) / z ** n + fact / (2 * z ** (n + 1))
        for k, b in enumerate(_B2K, start=1):
            series = series + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) / z ** (2 * k + n)
    out = sign * (fact * head + series)
    out[xp.isnan(x)] = xp.nan
    return out


def _float(t: Tensor) -> Tensor:
    return t if t._data.dtype.kind == "f" else t.to(_dtype.get_default_dtype())


class Polygamma(Op):
    @staticmethod
    def forward(x, n):
        return _f64(_digamma_np)(x) if n == 0 else _f64(_polygamma_np)(x, n)

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
