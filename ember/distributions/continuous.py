"""Univariate continuous distributions: Normal, Uniform, Laplace, Exponential, Gamma, Beta."""
from __future__ import annotations

import math

import numpy as np

import ember
from .._tensor import Tensor, Size
from ..autograd.function import Op
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all, from_array, rng, standard_normal, uniform

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

__all__ = ["Normal", "Uniform", "Laplace", "Exponential", "Gamma", "Beta"]


class _LocScale(Distribution):
    """A distribution on the reals with location ``loc`` (its mean and mode) and scale ``scale``."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc


class Normal(_LocScale):
    """The normal (Gaussian) distribution with mean ``loc`` and standard deviation ``scale``.

    Example:
        >>> m = Normal(ember.tensor([0.0]), ember.tensor([1.0]))
        >>> m.sample().shape
        ember.Size([1])
    """

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale.pow(2)

    def rsample(self, sample_shape=Size()) -> Tensor:
        eps = standard_normal(self._extended_shape(sample_shape), self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log() - _LOG_SQRT_2PI

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + ember.erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value: Tensor) -> Tensor:
        return self.loc + self.scale * ember.erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self) -> Tensor:
        return 0.5 + _LOG_SQRT_2PI + self.scale.log()


class Uniform(Distribution):
    """Continuous uniform on the half-open interval ``[low, high)``."""

    has_rsample = True

    @property
    def arg_constraints(self) -> dict:
        return {"low": constraints.less_than(self.high), "high": constraints.greater_than(self.low)}

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    def __init__(self, low, high, validate_args: bool | None = None) -> None:
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return (self.high + self.low) / 2

    @property
    def mode(self) -> Tensor:
        return self.high * math.nan

    @property
    def stddev(self) -> Tensor:
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape=Size()) -> Tensor:
        u = uniform(self._extended_shape(sample_shape), self.low.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low <= value) & (value < self.high)
        return inside.to(self.low.dtype).log() - (self.high - self.low).log()

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value: Tensor) -> Tensor:
        return value * (self.high - self.low) + self.low

    def entropy(self) -> Tensor:
        return (self.high - self.low).log()


class Laplace(_LocScale):
    """The Laplace (double exponential) distribution with location ``loc`` and scale ``scale``."""

    @property
    def variance(self) -> Tensor:
        return 2 * self.scale.pow(2)

    @property
    def stddev(self) -> Tensor:
        return math.sqrt(2) * self.scale

    def rsample(self, sample_shape=Size()) -> Tensor:
        eps = ember.finfo(self.loc.dtype).eps
        # u on (-1, 1): -1 excluded so that log1p(-|u|) stays finite
        u = uniform(self._extended_shape(sample_shape), self.loc.dtype) * (2 - eps) + (eps - 1)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = value - self.loc
        return 0.5 - 0.5 * z.sign() * (-z.abs() / self.scale).expm1()

    def icdf(self, value: Tensor) -> Tensor:
        t = value - 0.5
        return self.loc - self.scale * t.sign() * (-2 * t.abs()).log1p()

    def entropy(self) -> Tensor:
        return 1 + (2 * self.scale).log()


class Exponential(Distribution):
    """The exponential distribution with rate ``rate`` (mean ``1 / rate``)."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args: bool | None = None) -> None:
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def mode(self) -> Tensor:
        return ember.zeros_like(self.rate)

    @property
    def stddev(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def variance(self) -> Tensor:
        return self.rate.pow(-2)

    def rsample(self, sample_shape=Size()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        e = from_array(rng().standard_exponential(tuple(shape)), self.rate.dtype)
        return e / self.rate

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value: Tensor) -> Tensor:
        return -(-value).log1p() / self.rate

    def entropy(self) -> Tensor:
        return 1.0 - self.rate.log()


def _dsample_dalpha(alpha: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dx/dalpha`` of a Gamma(alpha, 1) sample ``x`` held at fixed quantile: ``-(dP/dalpha) / pdf``.

    ``P(a, x) = sum_n exp((a + n) log x - x - lgamma(a + n + 1))``; each term's derivative in ``a`` is the
    term times ``log x - digamma(a + n + 1)``. The series runs past its peak (``n ~ x - a``) until the
    terms no longer change the sum.
    """
    a, x = alpha.astype(np.float64), x.astype(np.float64)
    with ember.no_grad():
        lg1 = ember.lgamma(Tensor._make(a + 1)).numpy()
        lg = ember.lgamma(Tensor._make(a)).numpy()
        psi = ember.digamma(Tensor._make(a + 1)).numpy()
    log_x = np.log(x)
    term = np.exp(a * log_x - x - lg1)
    total = term * (log_x - psi)
    active = np.ones(a.shape, bool)
    n = 0
    while active.any() and n < 100000:
        n += 1
        term = term * x / (a + n)
        psi = psi + 1 / (a + n)
        step = np.where(active, term * (log_x - psi), 0.0)
        total = total + step
        active &= (n < x - a + 1) | (np.abs(step) > 1e-17 * np.abs(total))
    return -total / np.exp((a - 1) * log_x - x - lg)


class _StandardGamma(Op):
    """A Gamma(alpha, 1) draw, differentiable in ``alpha`` by implicit reparameterisation."""

    @staticmethod
    def forward(alpha, x):
        return x

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], Tensor._make(output))

    @staticmethod
    def backward(ctx, g):
        alpha, x = ctx.saved_tensors
        return g * from_array(_dsample_dalpha(alpha.detach().numpy(), x.detach().numpy()), g.dtype), None


def _standard_gamma(alpha: Tensor, shape) -> Tensor:
    """Gamma(alpha, 1) samples of ``shape`` (``alpha`` broadcast), kept strictly positive."""
    alpha = alpha.expand(tuple(shape))
    dt = alpha.dtype
    draws = np.maximum(rng().standard_gamma(alpha.detach().numpy().astype(np.float64)), np.finfo(dt.np).tiny)
    return _StandardGamma.apply(alpha, from_array(draws, dt))


class Gamma(Distribution):
    """The gamma distribution with shape ``concentration`` and inverse scale ``rate``.

    ``rsample`` draws with NumPy's gamma sampler and differentiates through the draw implicitly
    (the sample's quantile is held fixed as the parameters move).
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=Size()) -> Tensor:
        x = _standard_gamma(self.concentration, self._extended_shape(sample_shape)) / self.rate
        return x.clamp(min=ember.finfo(x.dtype).tiny)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        c, r = self.concentration, self.rate
        return ember.xlogy(c, r) + ember.xlogy(c - 1, value) - r * value - ember.lgamma(c)

    def entropy(self) -> Tensor:
        c = self.concentration
        return c - self.rate.log() + ember.lgamma(c) + (1.0 - c) * ember.digamma(c)


class Beta(Distribution):
    """The beta distribution on [0, 1] with concentrations ``concentration1`` (alpha) and ``concentration0`` (beta).

    ``rsample`` is ``X / (X + Y)`` for reparameterised Gamma draws ``X``, ``Y`` (see :class:`Gamma`).
    """

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args: bool | None = None) -> None:
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    @property
    def _total(self) -> Tensor:
        return self.concentration1 + self.concentration0

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / self._total

    @property
    def mode(self) -> Tensor:
        from .multivariate import dirichlet_mode
        return dirichlet_mode(ember.stack([self.concentration1, self.concentration0], -1))[..., 0]

    @property
    def variance(self) -> Tensor:
        total = self._total
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=Size()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        x = _standard_gamma(self.concentration1, shape)
        x = x / (x + _standard_gamma(self.concentration0, shape))
        info = ember.finfo(x.dtype)
        return x.clamp(min=info.tiny, max=1 - info.eps)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return (ember.xlogy(a - 1, value) + ember.xlogy(b - 1, 1 - value)
                + ember.lgamma(a + b) - ember.lgamma(a) - ember.lgamma(b))

    def entropy(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        total = a + b
        log_beta = ember.lgamma(a) + ember.lgamma(b) - ember.lgamma(total)
        return (log_beta - (a - 1) * ember.digamma(a) - (b - 1) * ember.digamma(b)
                + (total - 2) * ember.digamma(total))
