"""Distributions over vectors: Dirichlet and MultivariateNormal."""
from __future__ import annotations

import math

import ember
import ember.nn.functional as F
from .._tensor import Tensor, Size
from . import constraints
from .distribution import Distribution
from .exp_family import ExponentialFamily
from ..autograd.function import Op
from .utils import broadcast_shape, lazy_property, standard_normal

__all__ = ["Dirichlet", "MultivariateNormal"]


def dirichlet_mode(concentration: Tensor) -> Tensor:
    """The Dirichlet's mode; where every concentration is below 1, the vertex of the largest one."""
    cm1 = (concentration - 1).clamp(min=0)
    mode = cm1 / cm1.sum(-1, keepdim=True)
    vertex = F.one_hot(cm1.argmax(-1), cm1.shape[-1]).to(mode.dtype)
    return ember.where((concentration < 1).all(-1, keepdim=True), vertex, mode)


class _DirichletSample(Op):
    """A Dirichlet sample, differentiable in its concentration through each component's Beta marginal."""

    @staticmethod
    def forward(concentration):
        return ember._sample_dirichlet(Tensor._make(concentration))._data

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(Tensor._make(output), inputs[0])

    @staticmethod
    def backward(ctx, g):
        x, concentration = (t.detach() for t in ctx.saved_tensors)
        total = concentration.sum(-1, True).expand_as(concentration)
        return ember._dirichlet_grad(x, concentration, total) * (g - (x * g).sum(-1, True))


class Dirichlet(ExponentialFamily):
    """The Dirichlet distribution on the simplex, with ``concentration`` along the last dimension.

    ``rsample`` is torch's ``_sample_dirichlet`` (normalised gamma draws: the same numbers after the same
    seed), differentiable with torch's approximation of the reparameterised gradient.
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration: Tensor, validate_args: bool | None = None) -> None:
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        return dirichlet_mode(self.concentration)

    @property
    def variance(self) -> Tensor:
        c = self.concentration
        c0 = c.sum(-1, keepdim=True)
        return c * (c0 - c) / (c0.pow(2) * (c0 + 1))

    def rsample(self, sample_shape=Size()) -> Tensor:
        return _DirichletSample.apply(self.concentration.expand(tuple(self._extended_shape(sample_shape))))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return ember.xlogy(c - 1, value).sum(-1) + ember.lgamma(c.sum(-1)) - ember.lgamma(c).sum(-1)

    def entropy(self) -> Tensor:
        c = self.concentration
        k, c0 = c.shape[-1], c.sum(-1)
        return (ember.lgamma(c).sum(-1) - ember.lgamma(c0) - (k - c0) * ember.digamma(c0)
                - ((c - 1) * ember.digamma(c)).sum(-1))

    @property
    def _natural_params(self) -> tuple:
        return (self.concentration,)

    def _log_normalizer(self, x: Tensor) -> Tensor:
        return x.lgamma().sum(-1) - ember.lgamma(x.sum(-1))


def _tril_solve(L: Tensor, b: Tensor) -> Tensor:
    """``L^-1 b`` for lower-triangular ``L`` (batch dims broadcast); ``tril`` keeps the gradient lower-triangular."""
    L = L.tril()
    shape = tuple(broadcast_shape(L.shape[:-2], b.shape[:-2]))
    return ember.linalg.solve(L.expand(shape + tuple(L.shape[-2:])), b.expand(shape + tuple(b.shape[-2:])))


def batch_mahalanobis(L: Tensor, x: Tensor) -> Tensor:
    """The squared Mahalanobis distance ``x^T (L L^T)^-1 x`` for a Cholesky factor ``L``."""
    return _tril_solve(L, x.unsqueeze(-1)).squeeze(-1).pow(2).sum(-1)


class MultivariateNormal(Distribution):
    """The multivariate normal with mean ``loc`` and one of ``covariance_matrix``, ``precision_matrix``
    or ``scale_tril`` (a lower-triangular factor with positive diagonal, ``cov = L L^T``).

    Example:
        >>> m = MultivariateNormal(ember.zeros(2), ember.eye(2))
        >>> m.sample().shape
        ember.Size([2])
    """

    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: Tensor, covariance_matrix: Tensor | None = None, precision_matrix: Tensor | None = None,
                 scale_tril: Tensor | None = None, validate_args: bool | None = None) -> None:
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        name, matrix = next((n, m) for n, m in (("scale_tril", scale_tril), ("covariance_matrix", covariance_matrix),
                                                ("precision_matrix", precision_matrix)) if m is not None)
        if matrix.dim() < 2:
            raise ValueError(f"{name} matrix must be at least two-dimensional, with optional leading batch dimensions")
        batch_shape = broadcast_shape(matrix.shape[:-2], loc.shape[:-1])
        setattr(self, name, matrix.expand(tuple(batch_shape) + (-1, -1)))
        self.loc = loc.expand(tuple(batch_shape) + (-1,))
        super().__init__(batch_shape, self.loc.shape[-1:], validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = ember.linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = ember.linalg.cholesky(ember.linalg.inv(precision_matrix))

    def _full(self, m: Tensor) -> Tensor:
        return m.expand(tuple(self._batch_shape) + tuple(self._event_shape) * 2)

    @lazy_property
    def scale_tril(self) -> Tensor:
        return self._full(self._unbroadcasted_scale_tril)

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return self._full(L @ L.mT)

    @lazy_property
    def precision_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return self._full(ember.linalg.inv(L @ L.mT))

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        var = self._unbroadcasted_scale_tril.pow(2).sum(-1)
        return var.expand(tuple(self._batch_shape) + tuple(self._event_shape))

    def rsample(self, sample_shape=Size()) -> Tensor:
        eps = standard_normal(self._extended_shape(sample_shape), self.loc.dtype)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self) -> Tensor:
        return ember.diagonal(self._unbroadcasted_scale_tril, dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        m = batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self) -> Tensor:
        h = 0.5 * self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(tuple(self._batch_shape)) if len(self._batch_shape) else h

