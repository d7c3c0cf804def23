"""The distributions, transforms and constraint registry beyond test_distributions.py, against torch 2.13.0:
densities, cdf/icdf, entropy, moments, shapes, expand, support, seeded samples (torch's numbers after the same
seed), rsample gradients, KL divergences and argument validation, each run under both libraries."""
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
    assert {k: repr(c) for k, c in e.arg_constraints.items()} == {k: repr(c) for k, c in t.arg_constraints.items()}
    bounds = [b for b in ("lower_bound", "upper_bound") if isinstance(getattr(t.support, b, None), torch.Tensor)]
    if not bounds:
        assert repr(e.support) == repr(t.support)
    for b in bounds:  # a parameter-dependent support: its class and its bounds by value
        assert type(e.support).__name__ == type(t.support).__name__
        assert_close(getattr(e.support, b), getattr(t.support, b), what=f"{name}.support.{b}")
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


U_LOW, U_HIGH = R.random((2, 3)) * 0.3 + 0.05, R.random((2, 3)) * 0.3 + 0.6  # inside (0, 1)
KL_CASES = [
    ("Cauchy", lambda D, T: (D.Cauchy(T(RE), T(POS)), D.Cauchy(T(RE * 2), T(POS2)))),
    ("Gumbel", lambda D, T: (D.Gumbel(T(RE), T(POS)), D.Gumbel(T(RE * 2), T(POS2)))),
    ("HalfNormal", lambda D, T: (D.HalfNormal(T(POS)), D.HalfNormal(T(POS2)))),
    ("Pareto", lambda D, T: (D.Pareto(T(POS), T(POS2 + 1)), D.Pareto(T(POS2), T(POS + 1)))),
    ("Geometric", lambda D, T: (D.Geometric(T(UNIT)), D.Geometric(logits=T(RE)))),
    ("ContinuousBernoulli", lambda D, T: (D.ContinuousBernoulli(T(UNIT)), D.ContinuousBernoulli(logits=T(RE)))),
    ("Binomial", lambda D, T: (D.Binomial(T(np.array([5.0, 7.0, 7.0])), T(UNIT)), D.Binomial(5, logits=T(RE)))),
    ("LowRank", lambda D, T: (D.LowRankMultivariateNormal(T(RE), T(W), T(POS)),
                              D.LowRankMultivariateNormal(T(RE * 2), T(W[::-1].copy()), T(POS2)))),
    ("MVN-LowRank", lambda D, T: (D.MultivariateNormal(T(RE), scale_tril=T(L)),
                                  D.LowRankMultivariateNormal(T(RE * 2), T(W), T(POS2)))),
    ("LowRank-MVN", lambda D, T: (D.LowRankMultivariateNormal(T(RE), T(W), T(POS)),
                                  D.MultivariateNormal(T(RE * 2), scale_tril=T(L)))),
    ("Transformed", lambda D, T: (D.Weibull(T(POS), T(POS2)), D.Weibull(T(POS), T(POS2)))),
    ("Bernoulli-Poisson", lambda D, T: (D.Bernoulli(T(UNIT)), D.Poisson(T(POS)))),
    ("Poisson-Bernoulli", lambda D, T: (D.Poisson(T(POS)), D.Bernoulli(T(UNIT)))),
    ("Beta-CB", lambda D, T: (D.Beta(T(POS), T(POS2)), D.ContinuousBernoulli(T(UNIT)))),
    ("Beta-Exponential", lambda D, T: (D.Beta(T(POS), T(POS2)), D.Exponential(T(POS)))),
    ("Beta-Gamma", lambda D, T: (D.Beta(T(POS), T(POS2)), D.Gamma(T(POS2), T(POS)))),
    ("Beta-Normal", lambda D, T: (D.Beta(T(POS), T(POS2)), D.Normal(T(RE), T(POS)))),
    ("Beta-Uniform", lambda D, T: (D.Beta(T(POS), T(POS2)), D.Uniform(T(RE - 2), T(RE + 2)))),
    ("Beta-Pareto", lambda D, T: (D.Beta(T(POS), T(POS2)), D.Pareto(T(POS), T(POS2)))),
    ("CB-Exponential", lambda D, T: (D.ContinuousBernoulli(T(UNIT)), D.Exponential(T(POS)))),
    ("CB-Normal", lambda D, T: (D.ContinuousBernoulli(T(UNIT)), D.Normal(T(RE), T(POS)))),
    ("CB-Uniform", lambda D, T: (D.ContinuousBernoulli(T(UNIT)), D.Uniform(T(RE - 2), T(RE + 2)))),
    ("Exponential-Gamma", lambda D, T: (D.Exponential(T(POS)), D.Gamma(T(POS2), T(POS)))),
    ("Exponential-Gumbel", lambda D, T: (D.Exponential(T(POS)), D.Gumbel(T(RE), T(POS2)))),
    ("Exponential-Normal", lambda D, T: (D.Exponential(T(POS)), D.Normal(T(RE), T(POS2)))),
    ("Exponential-Uniform", lambda D, T: (D.Exponential(T(POS)), D.Uniform(T(RE - 2), T(RE + 2)))),
    ("Gamma-Exponential", lambda D, T: (D.Gamma(T(POS), T(POS2)), D.Exponential(T(POS)))),
    ("Gamma-Gumbel", lambda D, T: (D.Gamma(T(POS), T(POS2)), D.Gumbel(T(RE), T(POS2)))),
    ("Gamma-Normal", lambda D, T: (D.Gamma(T(POS), T(POS2)), D.Normal(T(RE), T(POS2)))),
    ("Gumbel-Normal", lambda D, T: (D.Gumbel(T(RE), T(POS)), D.Normal(T(RE * 2), T(POS2)))),
    ("Gumbel-Gamma", lambda D, T: (D.Gumbel(T(RE), T(POS)), D.Gamma(T(POS), T(POS2)))),
    ("Laplace-Normal", lambda D, T: (D.Laplace(T(RE), T(POS)), D.Normal(T(RE * 2), T(POS2)))),
    ("Normal-Gumbel", lambda D, T: (D.Normal(T(RE), T(POS)), D.Gumbel(T(RE * 2), T(POS2)))),
    ("Normal-Laplace", lambda D, T: (D.Normal(T(RE), T(POS)), D.Laplace(T(RE * 2), T(POS2)))),
    ("Normal-Beta", lambda D, T: (D.Normal(T(RE), T(POS)), D.Beta(T(POS), T(POS2)))),
    ("Pareto-Exponential", lambda D, T: (D.Pareto(T(POS), T(POS2 + np.array([[0], [1.0]]))), D.Exponential(T(POS)))),
    ("Pareto-Gamma", lambda D, T: (D.Pareto(T(POS), T(POS2 + np.array([[0], [1.0]]))), D.Gamma(T(POS), T(POS2)))),
    ("Pareto-Normal", lambda D, T: (D.Pareto(T(POS), T(POS2 + np.array([[0], [2.0]]))), D.Normal(T(RE), T(POS)))),
    ("Uniform-Beta", lambda D, T: (D.Uniform(T(U_LOW), T(U_HIGH)), D.Beta(T(POS), T(POS2)))),
    ("Uniform-CB", lambda D, T: (D.Uniform(T(U_LOW), T(U_HIGH)), D.ContinuousBernoulli(T(UNIT)))),
    ("Uniform-Exponential", lambda D, T: (D.Uniform(T(U_LOW - 0.1), T(U_HIGH)), D.Exponential(T(POS)))),
    ("Uniform-Gamma", lambda D, T: (D.Uniform(T(U_LOW), T(U_HIGH)), D.Gamma(T(POS), T(POS2)))),
    ("Uniform-Gumbel", lambda D, T: (D.Uniform(T(U_LOW), T(U_HIGH)), D.Gumbel(T(RE), T(POS2)))),
    ("Uniform-Normal", lambda D, T: (D.Uniform(T(U_LOW), T(U_HIGH)), D.Normal(T(RE), T(POS2)))),
    ("Uniform-Pareto", lambda D, T: (D.Uniform(T(U_LOW + 0.5), T(U_HIGH + 1)), D.Pareto(T(POS2 * 0.8), T(POS)))),
]


@pytest.mark.parametrize("name,build", KL_CASES, ids=[c[0] for c in KL_CASES])
def test_kl_divergence(name, build):
    results = []
    for D in (ED, TD):
        params = []

        def T(a, lib=_lib(D), params=params):
            p = lib.tensor(np.asarray(a, dtype=np.float64), dtype=lib.float64, requires_grad=True)
            params.append(p)
            return p
        p, q = build(D, T)
        kl = D.kl_divergence(p, q)
        if kl.requires_grad:  # the infinite pairs are constants, as torch's
            _lib(D).where(kl.detach().isfinite(), kl, 0.0).sum().backward()
        results.append([kl, kl.requires_grad] + [g.grad for g in params])
    for i, (e, t) in enumerate(zip(*results)):
        if isinstance(t, bool):
            assert e == t, f"KL {name}: requires_grad"
        else:
            assert_close(e, t, atol=1e-8, rtol=1e-6, what=f"KL {name} [{i}]")


def test_kl_errors():
    for D in (ED, TD):
        with pytest.raises(NotImplementedError, match="q.total_count > p.total_count"):
            D.kl_divergence(D.Binomial(2, torch.tensor(0.5) if D is TD else ember.tensor(0.5)),
                            D.Binomial(3, torch.tensor(0.5) if D is TD else ember.tensor(0.5)))
        lib = _lib(D)
        with pytest.raises(ValueError, match="different event shapes"):
            D.kl_divergence(D.LowRankMultivariateNormal(lib.zeros(2), lib.ones(2, 1), lib.ones(2)),
                            D.LowRankMultivariateNormal(lib.zeros(3), lib.ones(3, 1), lib.ones(3)))
        with pytest.raises(NotImplementedError):
            D.kl_divergence(D.Weibull(1.0, 2.0), D.Pareto(1.0, 2.0))  # different transforms


def test_exponential_family_entropy_by_autograd():
    """ExponentialFamily.entropy differentiates the log-normaliser; ContinuousBernoulli's closed form agrees."""
    e = ED.ContinuousBernoulli(logits=ember.tensor(RE))
    t = TD.ContinuousBernoulli(logits=torch.tensor(RE))
    assert isinstance(e, ED.ExponentialFamily)
    assert_close(ED.ExponentialFamily.entropy(e), TD.ExponentialFamily.entropy(t), atol=1e-8)
    assert_close(ED.ExponentialFamily.entropy(e), e.entropy(), atol=1e-6)


TRANSFORMS = [
    ("Abs", lambda D, T: T.AbsTransform(), RE),
    ("Power", lambda D, T: T.PowerTransform(_lib(D).tensor(POS[0], dtype=_lib(D).float64)), POS),
    ("Softplus", lambda D, T: T.SoftplusTransform(), RE),
    ("Softmax", lambda D, T: T.SoftmaxTransform(), RE),
    ("StickBreaking", lambda D, T: T.StickBreakingTransform(), RE),
    ("LowerCholesky", lambda D, T: T.LowerCholeskyTransform(), R.standard_normal((2, 3, 3))),
    ("PositiveDefinite", lambda D, T: T.PositiveDefiniteTransform(), R.standard_normal((2, 3, 3))),
    ("CorrCholesky", lambda D, T: T.CorrCholeskyTransform(), R.standard_normal((2, 6))),
    ("Independent", lambda D, T: T.IndependentTransform(T.SoftplusTransform(), 1), RE),
    ("Reshape", lambda D, T: T.ReshapeTransform((3,), (3, 1)), RE),
    ("CDF", lambda D, T: T.CumulativeDistributionTransform(D.Normal(0.5, 2.0)), RE),
    ("Cat", lambda D, T: T.CatTransform([T.ExpTransform(), T.SoftplusTransform()], 1, [1, 2]), RE),
    ("CatEvent", lambda D, T: T.CatTransform([T.ExpTransform(), T.IndependentTransform(T.SoftplusTransform(), 1)],
                                             -1, [1, 2]), RE),
    ("Stack", lambda D, T: T.StackTransform([T.ExpTransform(), T.AbsTransform(), T.SoftplusTransform()], 1), RE),
]


@pytest.mark.parametrize("name,build,x", TRANSFORMS, ids=[c[0] for c in TRANSFORMS])
def test_transforms(name, build, x):
    out = []
    for D, T in ((ED, ED.transforms), (TD, TD.transforms)):
        lib = _lib(D)
        t = build(D, T)
        xx = lib.tensor(x, requires_grad=True)
        y = t(xx)
        ld = _outcome(lambda: t.log_abs_det_jacobian(xx, y))
        (y.sum() + (0 if isinstance(ld, str) else ld.sum())).backward()
        out.append([y, t.inv(y), ld, xx.grad, tuple(t.forward_shape(x.shape)), tuple(t.inverse_shape(y.shape)),
                    t.bijective, _outcome(lambda: t.event_dim), repr(t.domain), repr(t.codomain),
                    t == build(D, T), repr(t.inv)])
    for i, (e, t) in enumerate(zip(*out)):
        _match(e, t, f"{name}[{i}]") if isinstance(t, (torch.Tensor, str)) else None
        if not isinstance(t, (torch.Tensor, str)):
            assert e == t, f"{name}[{i}]: {e} vs {t}"


def test_transform_shape_errors():
    for T in (ED.transforms, TD.transforms):
        with pytest.raises(ValueError, match="different numbers of elements"):
            T.ReshapeTransform((2,), (3,))
        with pytest.raises(ValueError, match="Input is not a flattened lower-diagonal number"):
            T.CorrCholeskyTransform().forward_shape((4,))
        with pytest.raises(ValueError, match="Input is not square"):
            T.CorrCholeskyTransform().inverse_shape((2, 3))
        with pytest.raises(ValueError, match=r"Shape mismatch: expected \(4,\) but got"):
            T.ReshapeTransform((3,), (3, 1)).forward_shape((2, 4))


def test_biject_to_and_transform_to():
    def run(D, C):
        lib = _lib(D)
        cs = [C.real, C.positive, C.nonnegative, C.greater_than(2.0), C.less_than(1.0), C.unit_interval,
              C.interval(-1.0, 3.0), C.half_open_interval(0.0, 2.0), C.simplex, C.real_vector, C.corr_cholesky,
              C.independent(C.positive, 1), C.cat([C.positive, C.real], 0, [2, 1]), C.stack([C.positive, C.real], 0)]
        x = lib.tensor(RE.T.copy())  # (3, 2)
        out = []
        for reg in (D.biject_to, D.transform_to):
            for c in cs:
                t = reg(c)
                arg = x.reshape(-1)[:3] if c is C.corr_cholesky else x[:2] if isinstance(c, type(C.stack([]))) else x
                y = t(arg)
                out.append((type(t).__name__, y.detach().numpy().round(10).tolist(),
                            bool(c.check(y).all()) if c is not C.real else True))
        for c in (C.lower_cholesky, C.positive_definite, C.positive_semidefinite):
            out.append(type(D.transform_to(c)).__name__)
            with pytest.raises(NotImplementedError, match="Cannot transform"):
                D.biject_to(c)
        return out
    assert run(ED, ED.constraints) == run(TD, TD.constraints)


def test_new_constraints():
    def run(C, lib):
        eye = lib.eye(3, dtype=lib.float64)
        lt = lib.tensor(L)
        return [C.lower_triangular.check(lt).item(), C.lower_triangular.check(lt.mT).item(),
                C.corr_cholesky.check(eye).item(), C.corr_cholesky.check(lt).item(),
                C.one_hot.check(lib.tensor([[0.0, 1.0], [1.0, 1.0]])).tolist(),
                C.square.check(lib.zeros(2, 2, 3)).tolist(), C.symmetric.check(lt + lt.mT).item(),
                C.symmetric.check(lt).item(), C.positive_semidefinite.check(lt @ lt.mT).item(),
                C.positive_semidefinite.check(-eye).item(),
                C.cat([C.positive, C.real], 0, [1, 2]).check(lib.tensor([-1.0, -2.0, 3.0])).tolist(),
                C.stack([C.positive, C.real], 1).check(lib.tensor([[1.0, -2.0], [-1.0, 0.0]])).tolist(),
                C.stack([C.positive], -1).event_dim, C.cat([C.simplex, C.real]).event_dim,
                repr(C.corr_cholesky), repr(C.one_hot), repr(C.cat([C.real]))]
    assert run(ED.constraints, ember) == run(TD.constraints, torch)


SUBMODULES = ["bernoulli", "beta", "binomial", "categorical", "cauchy", "chi2", "continuous_bernoulli", "dirichlet",
              "exponential", "fishersnedecor", "gamma", "generalized_pareto", "geometric", "gumbel", "half_cauchy",
              "half_normal", "independent", "inverse_gamma", "kumaraswamy", "laplace", "lkj_cholesky", "log_normal",
              "logistic_normal", "lowrank_multivariate_normal", "mixture_same_family", "multinomial",
              "multivariate_normal", "negative_binomial", "normal", "one_hot_categorical", "pareto", "poisson",
              "relaxed_bernoulli", "relaxed_categorical", "studentT", "transformed_distribution", "uniform",
              "von_mises", "weibull", "wishart", "constraint_registry", "exp_family", "kl", "transforms", "constraints",
              "distribution", "utils"]


def test_submodules_import_as_torchs():
    import importlib
    for name in SUBMODULES:
        tm = importlib.import_module(f"torch.distributions.{name}")
        em = importlib.import_module(f"ember.distributions.{name}")
        # every distribution/transform class the torch module defines is there under the same name
        public = [n for n in getattr(tm, "__all__", []) if n[0].isupper()]
        missing = [n for n in public if not hasattr(em, n)]
        assert not missing, f"ember.distributions.{name} lacks {missing}"
    from ember.distributions.normal import Normal
    from ember.distributions.relaxed_categorical import ExpRelaxedCategorical
    assert Normal is ED.Normal and ExpRelaxedCategorical is ED.relaxed.ExpRelaxedCategorical


def _message(fn):
    with pytest.raises(ValueError) as info:
        fn()
    return str(info.value).replace("ember.", "torch.")


VALIDATION = [
    lambda D, lib: D.Cauchy(0.0, -1.0),
    lambda D, lib: D.HalfNormal(lib.tensor([1.0, -1.0])),
    lambda D, lib: D.Weibull(1.0, 0.0),
    lambda D, lib: D.Geometric(lib.tensor([0.0, 0.5])),
    lambda D, lib: D.Geometric(lib.tensor([1.5])),
    lambda D, lib: D.NegativeBinomial(-1.0, lib.tensor(0.5)),
    lambda D, lib: D.NegativeBinomial(2.0, lib.tensor(1.0)),
    lambda D, lib: D.ContinuousBernoulli(lib.tensor(1.5), validate_args=True),
    lambda D, lib: D.LKJCholesky(1),
    lambda D, lib: D.Kumaraswamy(1.0, 2.0).log_prob(lib.tensor(1.5)),
    lambda D, lib: D.Pareto(2.0, 1.0).log_prob(lib.tensor(1.0)),
    lambda D, lib: D.HalfCauchy(1.0).log_prob(lib.tensor(-1.0)),
    lambda D, lib: D.Geometric(lib.tensor(0.5)).log_prob(lib.tensor(0.5)),
    lambda D, lib: D.LowRankMultivariateNormal(lib.zeros(2), lib.ones(3, 1), lib.ones(2)),
    lambda D, lib: D.LowRankMultivariateNormal(lib.zeros(2), lib.ones(2, 1), lib.ones(3)),
    lambda D, lib: D.MixtureSameFamily(D.Categorical(lib.ones(3)), D.Normal(lib.zeros(2), 1.0)),
    lambda D, lib: D.MixtureSameFamily(D.Normal(0.0, 1.0), D.Normal(lib.zeros(2), 1.0)),
    lambda D, lib: D.Geometric(),
    lambda D, lib: D.RelaxedBernoulli(lib.tensor(1.0), lib.tensor(0.5), lib.tensor(0.0)),
]


@pytest.mark.parametrize("i", range(len(VALIDATION)))
def test_validation_errors(i):
    assert _message(lambda: VALIDATION[i](ED, ember)) == _message(lambda: VALIDATION[i](TD, torch))


@pytest.mark.parametrize("kw", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_wishart(kw):
    """Values, moments, gradients of log_prob/entropy, expand, the Bregman KL, and torch's seeded Bartlett draws
    (with its re-draw loop and warning). torch's rsample graph cannot be differentiated after its re-draw (an
    in-place write to a saved mask), so only ember's rsample backward is checked, by finite differences below."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 3))
    cov = a @ a.transpose(0, 2, 1) + np.eye(3)
    m = cov if kw != "scale_tril" else np.linalg.cholesky(cov)
    out = []
    for D in (ED, TD):
        lib = _lib(D)
        df, mp = lib.tensor([4.5, 6.0], requires_grad=True), lib.tensor(m, requires_grad=True)
        d = D.Wishart(df, **{kw: mp})
        lib.manual_seed(0)
        with pytest.warns(UserWarning, match="Singular sample detected"):
            s = d.rsample((2,)).detach()
        one = d.sample()
        (d.log_prob(s).sum() + d.entropy().sum()).backward()
        out.append([s, one, d.log_prob(s), d.entropy(), d.mean, d.variance, d.mode, df.grad, mp.grad,
                    d.expand((4, 2)).log_prob(s[:1]), D.kl_divergence(d, D.Wishart(df + 1, **{kw: mp})),
                    lib.rand(2, dtype=lib.float64)])
    for i, (e, t) in enumerate(zip(*out)):
        # the Bregman KL subtracts nearly equal log-normalisers: a few 1e-7 of cancellation
        assert_close(e, t, atol=1e-6 if i == 10 else 1e-8, rtol=1e-6, what=f"Wishart {kw} [{i}]")


def test_wishart_rsample_gradient_by_finite_differences():
    def f(scale):
        ember.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ED.Wishart(ember.tensor(5.0, dtype=ember.float64), scale_tril=scale).rsample().sum()
    L0 = ember.tensor(np.linalg.cholesky(np.eye(2) * 2 + 0.5), requires_grad=True)
    f(L0).backward()
    h, num = 1e-6, np.zeros((2, 2))
    for i, j in [(0, 0), (1, 0), (1, 1)]:
        step = np.zeros((2, 2))
        step[i, j] = h
        num[i, j] = (f(ember.tensor(L0.detach().numpy() + step)).item()
                     - f(ember.tensor(L0.detach().numpy() - step)).item()) / (2 * h)
    np.testing.assert_allclose(np.tril(L0.grad.numpy()), num, rtol=1e-5, atol=1e-6)


def test_wishart_errors():
    for D in (ED, TD):
        lib = _lib(D)
        with pytest.raises(ValueError, match=r"Value of df=0.5 expected to be greater than ndim - 1 = 1."):
            D.Wishart(lib.tensor(0.5), lib.eye(2))
        with pytest.raises(AssertionError, match="Exactly one of covariance_matrix"):
            D.Wishart(lib.tensor(3.0))
        with pytest.warns(UserWarning, match="Low df values detected"):
            D.Wishart(lib.tensor(1.5), lib.eye(2))


EXP_FAMILY = [
    ("Normal", lambda D, T: D.Normal(T(RE), T(POS))),
    ("Exponential", lambda D, T: D.Exponential(T(POS))),
    ("Gamma", lambda D, T: D.Gamma(T(POS), T(POS2))),
    ("Chi2", lambda D, T: D.Chi2(T(POS * 3))),
    ("Bernoulli", lambda D, T: D.Bernoulli(T(UNIT))),
    ("Beta", lambda D, T: D.Beta(T(POS), T(POS2))),
    ("Poisson", lambda D, T: D.Poisson(T(POS))),
    ("Dirichlet", lambda D, T: D.Dirichlet(T(POS))),
]


@pytest.mark.parametrize("name,build", EXP_FAMILY, ids=[c[0] for c in EXP_FAMILY])
def test_exponential_family_members(name, build):
    """torch's exponential families: the base class, its autograd entropy, and the Bregman KL torch falls back on
    for a family with no closed form registered against itself (Poisson, Chi2 through Gamma's)."""
    e, t = _pair(build)
    assert isinstance(e, ED.ExponentialFamily) and isinstance(t, TD.ExponentialFamily)
    _match(_outcome(lambda: ED.ExponentialFamily.entropy(e)), _outcome(lambda: TD.ExponentialFamily.entropy(t)),
           f"{name} ExponentialFamily.entropy")
    _match(_outcome(e.entropy), _outcome(t.entropy), f"{name}.entropy")
    e2, t2 = _pair(build)
    _match(_outcome(lambda: ED.kl_divergence(e, e2)), _outcome(lambda: TD.kl_divergence(t, t2)), f"{name} KL")
    _match(_outcome(lambda: ED.kl_extra._kl_expfamily_expfamily(e, e2)),
           _outcome(lambda: TD.kl._kl_expfamily_expfamily(t, t2)), f"{name} Bregman KL")
    with pytest.raises(NotImplementedError):
        ED.kl_divergence(e, ED.Categorical(ember.ones(3)) if name != "Normal" else ED.Bernoulli(0.5))


def test_which_classes_are_exponential_families():
    names = [n for n in TD.__all__ if isinstance(getattr(TD, n), type) and issubclass(getattr(TD, n), TD.Distribution)]
    assert [n for n in names if issubclass(getattr(ED, n), ED.ExponentialFamily)] == \
        [n for n in names if issubclass(getattr(TD, n), TD.ExponentialFamily)]
