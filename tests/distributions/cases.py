"""The distributions under test: how to build each one (in ember or torch), its parameters and test values.

Each case builds the same distribution from either library (``lib.distributions``), from NumPy
parameters, so that one test body compares every method with torch 2.13.0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class Case:
    name: str
    make: Callable            # make(D, p) -> distribution; D = lib.distributions, p = dict of lib tensors
    params: Callable          # params(rng) -> dict of float64 arrays
    value: Callable           # value(rng, params) -> array inside the support, shape sample + batch + event
    grad: tuple = ()          # parameters whose gradients are compared
    cdf: bool = False         # compare cdf and icdf
    value_dtype: str = "float"


def _pos(rng, *shape):
    return rng.random(shape) + 0.5


def _tril(rng, *shape):
    n = shape[-1]
    a = rng.standard_normal(shape) * 0.3
    return np.tril(a, -1) + np.eye(n) * (rng.random(shape[:-1])[..., None] + 0.5)


def _spd(rng, *shape):
    L = _tril(rng, *shape)
    return L @ np.swapaxes(L, -1, -2)


CASES = [
    Case("Normal", lambda D, p: D.Normal(p["loc"], p["scale"]),
         lambda r: {"loc": r.standard_normal(3), "scale": _pos(r, 3)},
         lambda r, p: r.standard_normal((4, 3)), grad=("loc", "scale"), cdf=True),
    Case("Uniform", lambda D, p: D.Uniform(p["low"], p["high"]),
         lambda r: {"low": r.standard_normal(3), "high": r.standard_normal(3) + 4},
         lambda r, p: p["low"] + r.random((4, 3)) * (p["high"] - p["low"]), grad=("low", "high"), cdf=True),
    Case("Laplace", lambda D, p: D.Laplace(p["loc"], p["scale"]),
         lambda r: {"loc": r.standard_normal(3), "scale": _pos(r, 3)},
         lambda r, p: r.standard_normal((4, 3)) * 2, grad=("loc", "scale"), cdf=True),
    Case("Exponential", lambda D, p: D.Exponential(p["rate"]),
         lambda r: {"rate": _pos(r, 3)},
         lambda r, p: r.random((4, 3)) * 3, grad=("rate",), cdf=True),
    Case("Gamma", lambda D, p: D.Gamma(p["concentration"], p["rate"]),
         lambda r: {"concentration": _pos(r, 2, 3) * 2, "rate": _pos(r, 3)},
         lambda r, p: r.random((4, 2, 3)) * 3 + 0.05, grad=("concentration", "rate")),
    Case("Beta", lambda D, p: D.Beta(p["a"], p["b"]),
         lambda r: {"a": _pos(r, 3) * 2, "b": _pos(r, 3)},
         lambda r, p: r.random((4, 3)) * 0.9 + 0.05, grad=("a", "b")),
    Case("LogNormal", lambda D, p: D.LogNormal(p["loc"], p["scale"]),
         lambda r: {"loc": r.standard_normal(3), "scale": _pos(r, 3)},
         lambda r, p: np.exp(r.standard_normal((4, 3))), grad=("loc", "scale"), cdf=True),
    Case("Bernoulli(probs)", lambda D, p: D.Bernoulli(probs=p["probs"]),
         lambda r: {"probs": r.random(5) * 0.9 + 0.05},
         lambda r, p: (r.random((4, 5)) < 0.5).astype(float), grad=("probs",)),
    Case("Bernoulli(logits)", lambda D, p: D.Bernoulli(logits=p["logits"]),
         lambda r: {"logits": r.standard_normal(5) * 3},
         lambda r, p: (r.random((4, 5)) < 0.5).astype(float), grad=("logits",)),
    Case("Categorical(probs)", lambda D, p: D.Categorical(probs=p["probs"]),
         lambda r: {"probs": r.random((2, 4)) + 0.1},
         lambda r, p: r.integers(0, 4, (3, 2)), grad=("probs",), value_dtype="int"),
    Case("Categorical(logits)", lambda D, p: D.Categorical(logits=p["logits"]),
         lambda r: {"logits": r.standard_normal((2, 4))},
         lambda r, p: r.integers(0, 4, (3, 2)), grad=("logits",), value_dtype="int"),
    Case("OneHotCategorical", lambda D, p: D.OneHotCategorical(logits=p["logits"]),
         lambda r: {"logits": r.standard_normal((2, 4))},
         lambda r, p: np.eye(4)[r.integers(0, 4, (3, 2))], grad=("logits",)),
    Case("Poisson", lambda D, p: D.Poisson(p["rate"]),
         lambda r: {"rate": _pos(r, 3) * 3},
         lambda r, p: r.integers(0, 8, (4, 3)).astype(float), grad=("rate",)),
    Case("Binomial(probs)", lambda D, p: D.Binomial(10, probs=p["probs"]),
         lambda r: {"probs": r.random(3) * 0.9 + 0.05},
         lambda r, p: r.integers(0, 11, (4, 3)).astype(float), grad=("probs",)),
    Case("Binomial(logits, tensor count)", lambda D, p: D.Binomial(p["n"], logits=p["logits"]),
         lambda r: {"n": np.full(3, 6.0), "logits": r.standard_normal(3)},
         lambda r, p: r.integers(0, 7, (4, 3)).astype(float), grad=("logits",)),
    Case("Multinomial", lambda D, p: D.Multinomial(5, probs=p["probs"]),
         lambda r: {"probs": r.random((2, 4)) + 0.1},
         lambda r, p: r.multinomial(5, [0.25] * 4, (3, 2)).astype(float), grad=("probs",)),
    Case("Dirichlet", lambda D, p: D.Dirichlet(p["concentration"]),
         lambda r: {"concentration": _pos(r, 2, 3) * 2},
         lambda r, p: r.dirichlet([1.0, 2.0, 3.0], (4, 2)), grad=("concentration",)),
    Case("MultivariateNormal(scale_tril)", lambda D, p: D.MultivariateNormal(p["loc"], scale_tril=p["L"]),
         lambda r: {"loc": r.standard_normal((2, 3)), "L": _tril(r, 3, 3)},
         lambda r, p: r.standard_normal((4, 2, 3)), grad=("loc", "L")),
    Case("MultivariateNormal(covariance)", lambda D, p: D.MultivariateNormal(p["loc"], covariance_matrix=p["C"]),
         lambda r: {"loc": r.standard_normal(3), "C": _spd(r, 2, 3, 3)},
         lambda r, p: r.standard_normal((4, 2, 3)), grad=("loc", "C")),
    Case("MultivariateNormal(precision)", lambda D, p: D.MultivariateNormal(p["loc"], precision_matrix=p["P"]),
         lambda r: {"loc": r.standard_normal(3), "P": _spd(r, 3, 3)},
         lambda r, p: r.standard_normal((4, 3)), grad=("loc", "P")),
    Case("Independent(Normal)", lambda D, p: D.Independent(D.Normal(p["loc"], p["scale"]), 1),
         lambda r: {"loc": r.standard_normal((2, 3)), "scale": _pos(r, 2, 3)},
         lambda r, p: r.standard_normal((4, 2, 3)), grad=("loc", "scale")),
    Case("Transformed(Normal, tanh, affine)",
         lambda D, p: D.TransformedDistribution(D.Normal(p["loc"], p["scale"]),
                                                [D.TanhTransform(), D.AffineTransform(p["shift"], p["mult"])]),
         lambda r: {"loc": r.standard_normal(3), "scale": _pos(r, 3), "shift": r.standard_normal(3),
                    "mult": _pos(r, 3)},
         lambda r, p: p["shift"] + p["mult"] * np.tanh(r.standard_normal((4, 3))),
         grad=("loc", "scale", "shift", "mult"), cdf=True),
    Case("Transformed(Normal, sigmoid)",
         lambda D, p: D.TransformedDistribution(D.Normal(p["loc"], p["scale"]), D.SigmoidTransform()),
         lambda r: {"loc": r.standard_normal(3), "scale": _pos(r, 3)},
         lambda r, p: r.random((4, 3)) * 0.9 + 0.05, grad=("loc", "scale"), cdf=True),
    Case("Transformed(Normal, affine event_dim=1)",
         lambda D, p: D.TransformedDistribution(D.Normal(p["loc"], 1.0),
                                                D.AffineTransform(0.5, p["mult"], event_dim=1)),
         lambda r: {"loc": r.standard_normal((2, 3)), "mult": _pos(r, 3)},
         lambda r, p: r.standard_normal((4, 2, 3)), grad=("loc", "mult")),
]
