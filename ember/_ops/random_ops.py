"""torch's less common in-place random fillers (``cauchy_``, ``log_normal_``, ``geometric_``), beside
``uniform_``/``normal_``/``exponential_`` of ``ember.random``: each transforms double uniforms or normals as
torch's CPU kernel does, so a seed gives torch's values."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from ..random import Generator, _draw, _float_dtype, _gen


def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill with Cauchy samples of location ``median`` and scale ``sigma``."""
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    if not self.is_floating_point():
        raise RuntimeError("Cauchy distribution is a continuous probability distribution. dtype must be a floating "
                           f"point but you specified {self.dtype}")
    return _draw(self, lambda shape: median + sigma * np.tan(np.pi * (_gen(generator).random(shape) - 0.5)),
                 "cauchy_")


def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Generator | None = None) -> Tensor:
    """Fill with samples whose logarithm is normal with ``mean`` and ``std``."""
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    _float_dtype(self.dtype, "log_normal_")
    # one double normal per element, the pair's second sample kept for the next, as torch's serial kernel
    return _draw(self, lambda shape: np.exp(_gen(generator).normal(mean, std, shape, serial=True)), "log_normal_")


def geometric_(self: Tensor, p: float, *, generator: Generator | None = None) -> Tensor:
    """Fill with the number of Bernoulli(``p``) trials up to the first success (1, 2, ...)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    if self._data.dtype == np.bool_:
        raise NotImplementedError("\"geometric_cpu\" not implemented for 'Bool'")
    return _draw(self, lambda shape: np.ceil(np.log(_gen(generator).random(shape)) / np.log(1.0 - p)), "geometric_")


for _fn in (cauchy_, log_normal_, geometric_):
    setattr(Tensor, _fn.__name__, _fn)
