"""Count distributions: Geometric and NegativeBinomial (sampled as torch's: the same numbers after the same seed)."""
from __future__ import annotations

import ember
import ember.nn.functional as F
from .._tensor import Tensor, Size
from . import constraints
from .continuous import Gamma
from .discrete import Bernoulli
from .distribution import Distribution
from .utils import broadcast_all, lazy_property

__all__ = ["Geometric", "NegativeBinomial"]


class _ProbsOrLogits(Distribution):
    """Parameterised by ``probs`` or by their log-odds ``logits`` (exactly one given; the other derived lazily)."""

    def _set_param(self, probs, logits, *others) -> tuple:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        name = "probs" if probs is not None else "logits"
        *others, param = broadcast_all(*others, probs if probs is not None else logits)
        setattr(self, name, param)
        return tuple(o.to(param.dtype) for o in others)

    _param = Bernoulli._param
    logits = Bernoulli.logits
    probs = Bernoulli.probs

    @property
    def param_shape(self) -> Size:
        return self._param.shape


class Geometric(_ProbsOrLogits):
    """The number of failures before the first success in Bernoulli(``probs``) trials."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        self._set_param(probs, logits)
        super().__init__(self._param.shape, validate_args=validate_args)
        if self._validate_args and probs is not None:
            p = self.probs
            valid = p > 0
            if not bool(valid.all()):
                raise ValueError(f"Expected parameter probs ({type(p).__name__} of shape {tuple(p.shape)}) of "
                                 f"distribution {self!r} to be positive but found invalid values:\n"
                                 f"{p.detach()[~valid]}")

    @property
    def mean(self) -> Tensor:
        return 1.0 / self.probs - 1.0

    @property
    def mode(self) -> Tensor:
        return ember.zeros_like(self.probs)

    @property
    def variance(self) -> Tensor:
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=Size()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        with ember.no_grad():
            u = ember.empty(shape, dtype=self.probs.dtype).uniform_(ember.finfo(self.probs.dtype).tiny, 1)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        probs = ember.where((probs == 1) & (value == 0), 0.0, probs)  # 0 * log(0) is 0 at the certain outcome
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self) -> Tensor:
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none") / self.probs


class NegativeBinomial(_ProbsOrLogits):
    """The number of successes before ``total_count`` failures in Bernoulli(``probs``) trials;
    sampled as a Poisson draw whose rate is a Gamma draw, as torch's."""

    arg_constraints = {"total_count": constraints.greater_than_eq(0), "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args: bool | None = None) -> None:
        (self.total_count,) = self._set_param(probs, logits, total_count)
        super().__init__(self._param.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.total_count * self.logits.exp()

    @property
    def mode(self) -> Tensor:
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self) -> Tensor:
        return self.mean / (-self.logits).sigmoid()

    @lazy_property
    def _gamma(self) -> Gamma:
        return Gamma(self.total_count, (-self.logits).exp(), validate_args=False)

    def sample(self, sample_shape=Size()) -> Tensor:
        with ember.no_grad():
            return ember.poisson(self._gamma.sample(sample_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        unnormalized = n * F.logsigmoid(-self.logits) + value * F.logsigmoid(self.logits)
        norm = -ember.lgamma(n + value) + ember.lgamma(1.0 + value) + ember.lgamma(n)
        return unnormalized - norm.masked_fill(n + value == 0.0, 0.0)
