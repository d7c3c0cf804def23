"""``torch.distributions``: parameterised probability distributions, sampling and KL divergences.

Every distribution has torch's constructor signature and its ``batch_shape`` / ``event_shape``
contract; ``log_prob``, ``entropy``, ``cdf`` and the moments are written with ember ops, so they
are differentiable with respect to the parameters. ``rsample`` (where present) draws
``f(parameters, noise)`` with the noise from ember's default generator (``ember.manual_seed``
makes it reproducible, and gives torch's numbers after ``torch.manual_seed`` with the same seed, Gamma,
Beta, Dirichlet, Chi2, StudentT, Poisson and Binomial included); the discrete ones have no ``rsample``.
"""
import sys as _sys
import types as _types

from . import constraints, transforms  # noqa: F401
from .constraints import Constraint  # noqa: F401
from .continuous import Beta, Chi2, Exponential, Gamma, Laplace, Normal, StudentT, Uniform
from .discrete import Bernoulli, Binomial, Categorical, Multinomial, OneHotCategorical, Poisson
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .multivariate import Dirichlet, MultivariateNormal
from .transformed import Independent, LogNormal, TransformedDistribution
from .transforms import (AbsTransform, AffineTransform, CatTransform, ComposeTransform,  # noqa: F401
                         CorrCholeskyTransform, CumulativeDistributionTransform, ExpTransform, IndependentTransform,
                         LowerCholeskyTransform, PositiveDefiniteTransform, PowerTransform, ReshapeTransform,
                         SigmoidTransform, SoftmaxTransform, SoftplusTransform, StackTransform,
                         StickBreakingTransform, TanhTransform, Transform, identity_transform)
from .exp_family import ExponentialFamily
from .univariate import (Cauchy, ContinuousBernoulli, FisherSnedecor, GeneralizedPareto, Gumbel, HalfCauchy,
                         HalfNormal, InverseGamma, Kumaraswamy, Pareto, VonMises, Weibull)
from .counts import Geometric, NegativeBinomial
from .relaxed import (ExpRelaxedCategorical, LogitRelaxedBernoulli, OneHotCategoricalStraightThrough,
                      RelaxedBernoulli, RelaxedOneHotCategorical)
from .structured import LKJCholesky, LogisticNormal, LowRankMultivariateNormal, MixtureSameFamily
from .wishart import Wishart
from . import constraint_registry, kl_extra  # noqa: F401  (kl_extra registers its KL pairs on import)
from .constraint_registry import biject_to, transform_to

__all__ = ["Distribution", "Normal", "Uniform", "Laplace", "Exponential", "Gamma", "Chi2", "Beta", "StudentT",
           "Bernoulli", "Categorical",
           "OneHotCategorical", "Poisson", "Binomial", "Multinomial", "Dirichlet", "MultivariateNormal",
           "Independent", "TransformedDistribution", "LogNormal", "kl_divergence", "register_kl", "constraints",
           "transforms", "Transform", "ComposeTransform", "ExpTransform", "AffineTransform", "SigmoidTransform",
           "TanhTransform", "AbsTransform", "CatTransform", "CorrCholeskyTransform",
           "CumulativeDistributionTransform", "IndependentTransform", "LowerCholeskyTransform",
           "PositiveDefiniteTransform", "PowerTransform", "ReshapeTransform", "SoftmaxTransform",
           "SoftplusTransform", "StackTransform", "StickBreakingTransform", "ExponentialFamily", "Cauchy",
           "ContinuousBernoulli", "FisherSnedecor", "GeneralizedPareto", "Gumbel", "HalfCauchy", "HalfNormal",
           "InverseGamma", "Kumaraswamy", "Pareto", "VonMises", "Weibull", "Geometric", "NegativeBinomial",
           "RelaxedBernoulli", "RelaxedOneHotCategorical", "OneHotCategoricalStraightThrough", "LKJCholesky",
           "LogisticNormal", "LowRankMultivariateNormal", "MixtureSameFamily", "Wishart", "biject_to", "transform_to"]

# torch's one-module-per-distribution layout, so ``from torch.distributions.normal import Normal`` runs unchanged
_SUBMODULES = {
    "bernoulli": ["Bernoulli"], "beta": ["Beta"], "binomial": ["Binomial"], "categorical": ["Categorical"],
    "cauchy": ["Cauchy"], "chi2": ["Chi2"], "continuous_bernoulli": ["ContinuousBernoulli"],
    "dirichlet": ["Dirichlet"], "exponential": ["Exponential"], "fishersnedecor": ["FisherSnedecor"],
    "gamma": ["Gamma"], "generalized_pareto": ["GeneralizedPareto"], "geometric": ["Geometric"],
    "gumbel": ["Gumbel"], "half_cauchy": ["HalfCauchy"], "half_normal": ["HalfNormal"],
    "independent": ["Independent"], "inverse_gamma": ["InverseGamma"], "kumaraswamy": ["Kumaraswamy"],
    "laplace": ["Laplace"], "lkj_cholesky": ["LKJCholesky"], "log_normal": ["LogNormal"],
    "logistic_normal": ["LogisticNormal"], "lowrank_multivariate_normal": ["LowRankMultivariateNormal"],
    "mixture_same_family": ["MixtureSameFamily"], "multinomial": ["Multinomial"],
    "multivariate_normal": ["MultivariateNormal"], "negative_binomial": ["NegativeBinomial"], "normal": ["Normal"],
    "one_hot_categorical": ["OneHotCategorical", "OneHotCategoricalStraightThrough"], "pareto": ["Pareto"],
    "poisson": ["Poisson"], "relaxed_bernoulli": ["RelaxedBernoulli", "LogitRelaxedBernoulli"],
    "relaxed_categorical": ["RelaxedOneHotCategorical", "ExpRelaxedCategorical"], "studentT": ["StudentT"],
    "transformed_distribution": ["TransformedDistribution"], "uniform": ["Uniform"], "von_mises": ["VonMises"],
    "weibull": ["Weibull"], "wishart": ["Wishart"],
}


def _install_submodules() -> None:
    for name, members in _SUBMODULES.items():
        module = _types.ModuleType(f"{__name__}.{name}", f"``torch.distributions.{name}``: {', '.join(members)}.")
        for member in members:
            setattr(module, member, globals()[member])
        module.__all__ = list(members)
        _sys.modules[module.__name__] = module
        globals()[name] = module


_install_submodules()
