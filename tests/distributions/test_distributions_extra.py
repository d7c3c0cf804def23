"""The distributions, transforms and constraint registry beyond test_distributions.py, against torch 2.13.0:
densities, cdf/icdf, entropy, moments, shapes, expand, support, seeded samples (torch's numbers after the same
seed), rsample gradients, KL divergences and argument validation, each run under both libraries."""
import math
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.distributions as ED
import torch.distributions as TD
from tests.conftest import assert_close

R = np.random.default_rng(0)
POS = R.random((2, 3)) + 0.5
POS2 = R.random((2, 3)) + 0.5
RE = R.standard_normal((2, 3))
UNIT = R.random((2, 3)) * 0.8 + 0.1


def _lib(D):
    return ember if D is ED else torch


def _t(D):
    """Parameters as float64 leaves that require grad, in D's library."""
    lib = _lib(D)
    return lambda a: lib.tensor(np.asarray(a, dtype=np.float64), dtype=lib.float64, requires_grad=True)


def _ltril(n, rng):
    return np.tril(rng.standard_normal((n, n)) * 0.3, -1) + np.diag(rng.random(n) + 0.5)


W = R.standard_normal((2, 3, 2)) * 0.5
L = _ltril(3, R)

# (name, builder(D, T) -> distribution)
CASES = [
    ("Cauchy", lambda D, T: D.Cauchy(T(RE), T(POS))),
    ("HalfCauchy", lambda D, T: D.HalfCauchy(T(POS))),
    ("HalfNormal", lambda D, T: D.HalfNormal(T(POS))),
    ("Gumbel", lambda D, T: D.Gumbel(T(RE), T(POS))),
    ("Weibull", lambda D, T: D.Weibull(T(POS), T(POS2 + 0.5))),
    ("Pareto", lambda D, T: D.Pareto(T(POS), T(POS2 + 2))),
    ("FisherSnedecor", lambda D, T: D.FisherSnedecor(T(POS * 4), T(POS2 * 6))),
    ("InverseGamma", lambda D, T: D.InverseGamma(T(POS * 3), T(POS2))),
    ("Kumaraswamy", lambda D, T: D.Kumaraswamy(T(POS + 1), T(POS2 + 1))),
    ("VonMises", lambda D, T: D.VonMises(T(RE), T(POS * 2))),
    ("ContinuousBernoulli", lambda D, T: D.ContinuousBernoulli(T(np.where(UNIT > 0.45, UNIT, 0.4995)))),
    ("ContinuousBernoulliLogits", lambda D, T: D.ContinuousBernoulli(logits=T(RE))),
    # float32: torch's log_prob compares the concentration with a float32 zero by isclose, which refuses float64
    ("GeneralizedPareto", lambda D, T: D.GeneralizedPareto(T(RE).float(), T(POS).float(), T(np.array(
        [[0.3, 0.0, -0.2], [0.1, 0.2, 0.4]])).float())),
    ("Geometric", lambda D, T: D.Geometric(T(UNIT))),
    ("GeometricLogits", lambda D, T: D.Geometric(logits=T(RE))),
    ("NegativeBinomial", lambda D, T: D.NegativeBinomial(T(POS * 4), T(UNIT))),
    ("NegativeBinomialLogits", lambda D, T: D.NegativeBinomial(3.0, logits=T(RE))),
    ("RelaxedBernoulli", lambda D, T: D.RelaxedBernoulli(T(0.7), T(UNIT))),
    ("LogitRelaxedBernoulli", lambda D, T: D.relaxed_bernoulli.LogitRelaxedBernoulli(T(0.7), logits=T(RE))),
    ("RelaxedOneHotCategorical", lambda D, T: D.RelaxedOneHotCategorical(T(0.5), logits=T(RE))),
    ("ExpRelaxedCategorical", lambda D, T: D.relaxed_categorical.ExpRelaxedCategorical(T(0.5), probs=T(POS))),
    ("OneHotCategoricalStraightThrough", lambda D, T: D.OneHotCategoricalStraightThrough(logits=T(RE))),
    ("LogisticNormal", lambda D, T: D.LogisticNormal(T(RE), T(POS))),
    ("LowRankMultivariateNormal", lambda D, T: D.LowRankMultivariateNormal(T(RE), T(W), T(POS))),
    ("MixtureSameFamily", lambda D, T: D.MixtureSameFamily(D.Categorical(logits=T(RE)), D.Normal(T(RE), T(POS)))),
    ("MixtureSameFamilyMVN", lambda D, T: D.MixtureSameFamily(
        D.Categorical(logits=T(RE[0])), D.Independent(D.Normal(T(RE.T), T(POS.T)), 1))),
    ("LKJCholesky", lambda D, T: D.LKJCholesky(3, T(POS[0]))),
]

ATTRS = ["mean", "mode", "variance", "stddev"]


def _outcome(fn):
    """A tensor, or the exception class (by name) when the call raises."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except (NotImplementedError, ValueError, RuntimeError) as e:
        return type(e).__name__


def _tol(t) -> dict:
    """float64 results agree to rounding; float32 ones to a few float32 ulps."""
    return dict(atol=1e-8, rtol=1e-6) if t.dtype == torch.float64 else dict(atol=1e-6, rtol=1e-5)


def _match(e, t, what):
    if isinstance(t, str) or isinstance(e, str):
        assert e == t, f"{what}: ember {e} vs torch {t}"
    else:
        assert_close(e, t, what=what, **_tol(t))


def _pair(build):
    return build(ED, _t(ED)), build(TD, _t(TD))


@pytest.mark.parametrize("name,build", CASES, ids=[c[0] for c in CASES])
def test_against_torch(name, build):
    e, t = _pair(build)
    assert tuple(e.batch_shape) == tuple(t.batch_shape) and tuple(e.event_shape) == tuple(t.event_shape)
    assert e.has_rsample == t.has_rsample and e.has_enumerate_support == t.has_enumerate_support
    assert sorted(e.arg_constraints) == sorted(t.arg_constraints)
    assert repr(e.support).replace("Constraint", "") == repr(t.support).replace("Constraint", "") or \
        type(t.support).__name__.lstrip("_") == type(e.support).__name__.lstrip("_")
    for attr in ATTRS:
        _match(_outcome(lambda: getattr(e, attr)), _outcome(lambda: getattr(t, attr)), f"{name}.{attr}")
    _match(_outcome(e.entropy), _outcome(t.entropy), f"{name}.entropy")
    torch.manual_seed(3)
    value = t.sample((2,))
    ev = ember.tensor(value.numpy())
    _match(_outcome(lambda: e.log_prob(ev)), _outcome(lambda: t.log_prob(value)), f"{name}.log_prob")
    _match(_outcome(lambda: e.cdf(ev)), _outcome(lambda: t.cdf(value)), f"{name}.cdf")
    u = np.linspace(0.05, 0.95, 6).reshape(2, 3)
    _match(_outcome(lambda: e.icdf(ember.tensor(u))), _outcome(lambda: t.icdf(torch.tensor(u))), f"{name}.icdf")
    # expand to a new leading batch dim
    new = (4,) + tuple(t.batch_shape)
    ex, tx = e.expand(new), t.expand(new)
    assert tuple(ex.batch_shape) == tuple(tx.batch_shape) and tuple(ex.event_shape) == tuple(tx.event_shape)
    _match(_outcome(lambda: ex.log_prob(ev)), _outcome(lambda: tx.log_prob(value)), f"{name}.expand.log_prob")
    _match(_outcome(lambda: ex.mean), _outcome(lambda: tx.mean), f"{name}.expand.mean")


@pytest.mark.parametrize("name,build", CASES, ids=[c[0] for c in CASES])
def test_seeded_samples_are_torchs(name, build):
    e, t = _pair(build)
    ember.manual_seed(7)
    torch.manual_seed(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es, ts = e.sample((5,)), t.sample((5,))
    tol = dict(atol=1e-10, rtol=1e-9) if ts.dtype == torch.float64 else dict(atol=1e-6, rtol=1e-6)
    assert_close(es, ts, what=f"{name}.sample", **tol)
    assert_close(ember.rand(2, dtype=ember.float64), torch.rand(2, dtype=torch.float64), what="stream after")


@pytest.mark.parametrize("name,build", [c for c in CASES if _pair(c[1])[1].has_rsample],
                         ids=[c[0] for c in CASES if _pair(c[1])[1].has_rsample])
def test_rsample_gradients(name, build):
    grads = []
    for D in (ED, TD):
        lib = _lib(D)
        params = []

        def T(a, lib=lib, params=params):
            p = lib.tensor(np.asarray(a, dtype=np.float64), dtype=lib.float64, requires_grad=True)
            params.append(p)
            return p
        d = build(D, T)
        lib.manual_seed(11)
        x = d.rsample((4,))
        (x * lib.linspace(0.5, 1.5, x.numel(), dtype=lib.float64).reshape(x.shape)).sum().backward()
        grads.append([p.grad for p in params])
    for i, (ge, gt) in enumerate(zip(*grads)):
        assert_close(ge, gt, atol=1e-7, rtol=1e-6, what=f"{name}: grad of parameter {i}")
