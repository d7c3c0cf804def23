"""``ExponentialFamily``: densities ``p(x) = h(x) exp(<t(x), theta> - F(theta))``, whose entropy and KL follow
from the log-normaliser ``F`` by differentiation (Bregman divergences)."""
from __future__ import annotations

import ember
from .._tensor import Tensor
from .distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """Base class for exponential-family distributions: subclasses give ``_natural_params``,
    ``_log_normalizer(*params)`` and ``_mean_carrier_measure`` (``E[log h(x)]``)."""

    @property
    def _natural_params(self) -> tuple:
        raise NotImplementedError

    def _log_normalizer(self, *natural_params) -> Tensor:
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """``F(theta) - <theta, grad F(theta)> - E[log h(x)]``, with the gradient taken by autograd."""
        params = [p.detach().requires_grad_() for p in self._natural_params]
        with ember.enable_grad():
            log_norm = self._log_normalizer(*params)
            grads = ember.autograd.grad(log_norm.sum(), params, create_graph=True)
        result = log_norm - self._mean_carrier_measure
        for p, g in zip(params, grads):
            result = result - (p * g).reshape(tuple(self._batch_shape) + (-1,)).sum(-1)
        return result
