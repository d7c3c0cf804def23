"""``biject_to`` and ``transform_to``: from a constraint to a transform that maps the reals onto it.

``biject_to(c)`` gives a bijection (for HMC-style samplers that need a log-Jacobian); ``transform_to(c)``
may be any onto map (``SoftmaxTransform`` for the simplex, say). Both are registries keyed by
the constraint's class: ``register(constraint, factory)`` adds or overrides an entry.
"""
from __future__ import annotations

import numbers

from . import constraints, transforms

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


class ConstraintRegistry:
    """Maps constraint classes to factories ``f(constraint) -> Transform``."""

    def __init__(self) -> None:
        self._registry: dict = {}

    def register(self, constraint, factory=None):
        """Register ``factory`` for ``constraint`` (an instance or a class); usable as a decorator."""
        if factory is None:
            return lambda factory: self.register(constraint, factory)
        if isinstance(constraint, constraints.Constraint):
            constraint = type(constraint)
        if not (isinstance(constraint, type) and issubclass(constraint, constraints.Constraint)):
            raise TypeError(f"Expected constraint to be either a Constraint subclass or instance, but got "
                            f"{constraint}")
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint) -> transforms.Transform:
        try:
            factory = self._registry[type(constraint)]
        except KeyError:
            raise NotImplementedError(f"Cannot transform {type(constraint).__name__} constraints") from None
        return factory(constraint)


biject_to = ConstraintRegistry()
transform_to = ConstraintRegistry()


def _both(*cs):
    def decorate(factory):
        for c in cs:
            biject_to.register(c, factory)
            transform_to.register(c, factory)
        return factory
    return decorate


@_both(constraints.real)
def _to_real(c):
    return transforms.identity_transform


@biject_to.register(constraints.independent)
def _biject_to_independent(c):
    return transforms.IndependentTransform(biject_to(c.base_constraint), c.reinterpreted_batch_ndims)


@transform_to.register(constraints.independent)
def _transform_to_independent(c):
    return transforms.IndependentTransform(transform_to(c.base_constraint), c.reinterpreted_batch_ndims)


# positive and nonnegative share greater_than's classes, so they map through exp + shift as torch's do
@_both(constraints.greater_than, constraints.greater_than_eq)
def _to_greater_than(c):
    return transforms.ComposeTransform([transforms.ExpTransform(), transforms.AffineTransform(c.lower_bound, 1)])


@_both(constraints.less_than(0.0))
def _to_less_than(c):
    return transforms.ComposeTransform([transforms.ExpTransform(), transforms.AffineTransform(c.upper_bound, -1)])


@_both(constraints.interval, constraints.half_open_interval)
def _to_interval(c):
    lo, hi = c.lower_bound, c.upper_bound
    if isinstance(lo, numbers.Number) and lo == 0 and isinstance(hi, numbers.Number) and hi == 1:
        return transforms.SigmoidTransform()
    return transforms.ComposeTransform([transforms.SigmoidTransform(), transforms.AffineTransform(lo, hi - lo)])


biject_to.register(constraints.simplex, lambda c: transforms.StickBreakingTransform())
transform_to.register(constraints.simplex, lambda c: transforms.SoftmaxTransform())
transform_to.register(constraints.lower_cholesky, lambda c: transforms.LowerCholeskyTransform())
transform_to.register(constraints.positive_definite, lambda c: transforms.PositiveDefiniteTransform())
transform_to.register(constraints.positive_semidefinite, lambda c: transforms.PositiveDefiniteTransform())
_both(constraints.corr_cholesky)(lambda c: transforms.CorrCholeskyTransform())


@biject_to.register(constraints.cat)
def _biject_to_cat(c):
    return transforms.CatTransform([biject_to(p) for p in c.cseq], c.dim, c.lengths)


@transform_to.register(constraints.cat)
def _transform_to_cat(c):
    return transforms.CatTransform([transform_to(p) for p in c.cseq], c.dim, c.lengths)


@biject_to.register(constraints.stack)
def _biject_to_stack(c):
    return transforms.StackTransform([biject_to(p) for p in c.cseq], c.dim)


@transform_to.register(constraints.stack)
def _transform_to_stack(c):
    return transforms.StackTransform([transform_to(p) for p in c.cseq], c.dim)
