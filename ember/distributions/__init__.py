"""``torch.distributions``: parameterised probability distributions, sampling and KL divergences.

Every distribution has torch's constructor signature and its ``batch_shape`` / ``event_shape``
contract; ``log_prob``, ``entropy``, ``cdf`` and the moments are written with ember ops, so they
are differentiable with respect to the parameters. ``rsample`` (where present) draws
``f(parameters, noise)`` with the noise from ember's default generator (``ember.manual_seed``
makes it reproducible, and gives torch's numbers after ``torch.manual_seed`` with the same seed, Gamma,
Beta, Dirichlet, Chi2, StudentT, Poisson and Binomial included); the discrete ones have no ``rsample``.
"""
from . import constraints, transforms  # noqa: F401
from .constraints import Constraint  # noqa: F401
from .continuous import Beta, Chi2, Exponential, Gamma, Laplace, Normal, StudentT, Uniform
from .discrete import Bernoulli, Binomial, Categorical, Multinomial, OneHotCategorical, Poisson
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .multivariate import Dirichlet, MultivariateNormal
from .transformed import Independent, LogNormal, TransformedDistribution
from .transforms import (AffineTransform, ComposeTransform, ExpTransform, SigmoidTransform, TanhTransform,  # noqa: F401
                         Transform, identity_transform)

__all__ = ["Distribution", "Normal", "Uniform", "Laplace", "Exponential", "Gamma", "Chi2", "Beta", "StudentT",
           "Bernoulli", "Categorical",
           "OneHotCategorical", "Poisson", "Binomial", "Multinomial", "Dirichlet", "MultivariateNormal",
           "Independent", "TransformedDistribution", "LogNormal", "kl_divergence", "register_kl", "constraints",
           "transforms", "Transform", "ComposeTransform", "ExpTransform", "AffineTransform", "SigmoidTransform",
           "TanhTransform"]
