"""kl_divergence, reparameterised sampling, transforms and argument validation, against torch 2.13.0."""
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
RE2 = R.standard_normal((2, 3))


def _tril(rng, n):
    return np.tril(rng.standard_normal((n, n)) * 0.3, -1) + np.diag(rng.random(n) + 0.5)


L1, L2 = _tril(R, 3), _tril(R, 3)

# (name, builder(D, T) -> (p, q), parameter arrays); T(a) makes a float64 leaf in the library
KL_CASES = [
    ("Normal", lambda D, T: (D.Normal(T(RE), T(POS)), D.Normal(T(RE2), T(POS2)))),
    ("Bernoulli", lambda D, T: (D.Bernoulli(T(POS / 2)), D.Bernoulli(logits=T(RE)))),
    ("Categorical", lambda D, T: (D.Categorical(logits=T(RE)), D.Categorical(probs=T(POS)))),
    ("OneHotCategorical", lambda D, T: (D.OneHotCategorical(logits=T(RE)), D.OneHotCategorical(probs=T(POS)))),
    ("Uniform", lambda D, T: (D.Uniform(T(RE), T(RE + POS)), D.Uniform(T(RE - POS2), T(RE + POS + POS2)))),
    ("Beta", lambda D, T: (D.Beta(T(POS), T(POS2)), D.Beta(T(POS2 * 2), T(POS)))),
    ("Gamma", lambda D, T: (D.Gamma(T(POS), T(POS2)), D.Gamma(T(POS2 * 2), T(POS)))),
    ("Exponential", lambda D, T: (D.Exponential(T(POS)), D.Exponential(T(POS2)))),
    ("Laplace", lambda D, T: (D.Laplace(T(RE), T(POS)), D.Laplace(T(RE2), T(POS2)))),
    ("Poisson", lambda D, T: (D.Poisson(T(POS)), D.Poisson(T(POS2)))),
    ("Dirichlet", lambda D, T: (D.Dirichlet(T(POS)), D.Dirichlet(T(POS2)))),
    ("MultivariateNormal", lambda D, T: (D.MultivariateNormal(T(RE), scale_tril=T(L1)),
                                         D.MultivariateNormal(T(RE2), covariance_matrix=T(L2 @ L2.T))) ),
    ("Independent", lambda D, T: (D.Independent(D.Normal(T(RE), T(POS)), 1),
                                  D.Independent(D.Normal(T(RE2), T(POS2)), 1))),
]


def _run_kl(lib, D, build):
    leaves = []

    def T(a):
        t = lib.tensor(a, dtype=lib.float64, requires_grad=True)
        leaves.append(t)
        return t
    p, q = build(D, T)
    kl = D.kl_divergence(p, q)
    kl.sum().backward()
    return kl, [t.grad for t in leaves]


@pytest.mark.parametrize("name,build", KL_CASES, ids=[c[0] for c in KL_CASES])
def test_kl_divergence(name, build):
    ke, ge = _run_kl(ember, ED, build)
    kt, gt = _run_kl(torch, TD, build)
    assert_close(ke, kt, atol=1e-9, rtol=1e-8, what=f"KL {name}")
    for i, (a, b) in enumerate(zip(ge, gt)):
        assert_close(a, b, atol=1e-8, rtol=1e-7, what=f"KL {name}: grad of parameter {i}")


def test_kl_infinite_and_zero_cases():
    p = ED.Bernoulli(ember.tensor([0.0, 1.0, 0.3]))
    q = ED.Bernoulli(ember.tensor([0.0, 0.5, 1.0]))
    assert_close(ED.kl_divergence(p, q), TD.kl_divergence(TD.Bernoulli(torch.tensor([0.0, 1.0, 0.3])),
                                                          TD.Bernoulli(torch.tensor([0.0, 0.5, 1.0]))))
    pc = ED.Categorical(ember.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]))
    qc = ED.Categorical(ember.tensor([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]]))
    tc = TD.kl_divergence(TD.Categorical(torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])),
                          TD.Categorical(torch.tensor([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])))
    assert_close(ED.kl_divergence(pc, qc), tc)
    pu, qu = ED.Uniform(0.0, 2.0), ED.Uniform(1.0, 3.0)
    assert ED.kl_divergence(pu, qu).item() == float("inf")


def test_register_kl_and_dispatch():
    class MyNormal(ED.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), ED.Normal(1.0, 2.0)
    assert_close(ED.kl_divergence(p, q), ED.kl_divergence(ED.Normal(0.0, 1.0), q))  # falls back to the parent

    @ED.register_kl(MyNormal, ED.Normal)
    def _kl(p, q):
        return ember.tensor(42.0)

    assert ED.kl_divergence(p, q).item() == 42.0
    with pytest.raises(NotImplementedError):
        ED.kl_divergence(ED.Normal(0.0, 1.0), ED.Bernoulli(0.5))  # no closed form registered (as torch)
    with pytest.raises(TypeError):
        ED.register_kl(int, ED.Normal)


def test_mvn_kl_event_shape_mismatch():
    with pytest.raises(ValueError, match="different event shapes"):
        ED.kl_divergence(ED.MultivariateNormal(ember.zeros(2), ember.eye(2)),
                         ED.MultivariateNormal(ember.zeros(3), ember.eye(3)))


# ------------------------------------------------------------------ rsample: the same noise through torch's formula
def _replay(make_e, noise, shape=(5,)):
    """Draw an rsample, then replay the same seed to recover the noise ember drew for it."""
    ember.manual_seed(7)
    x = make_e().rsample(shape)
    ember.manual_seed(7)
    return x, noise()


def test_normal_rsample_is_loc_plus_scale_eps():
    loc_e, sc_e = ember.tensor(RE, requires_grad=True), ember.tensor(POS, requires_grad=True)
    x, eps = _replay(lambda: ED.Normal(loc_e, sc_e), lambda: ember.randn((5, 2, 3), dtype=ember.float64))
    loc_t, sc_t = torch.tensor(RE, requires_grad=True), torch.tensor(POS, requires_grad=True)
    xt = loc_t + torch.from_numpy(eps.numpy()) * sc_t
    assert_close(x, xt)
    (x ** 2).sum().backward()
    (xt ** 2).sum().backward()
    assert_close(loc_e.grad, loc_t.grad)
    assert_close(sc_e.grad, sc_t.grad)


def test_mvn_rsample_is_loc_plus_L_eps():
    loc_e, L_e = ember.tensor(RE, requires_grad=True), ember.tensor(L1, requires_grad=True)
    x, eps = _replay(lambda: ED.MultivariateNormal(loc_e, scale_tril=L_e),
                     lambda: ember.randn((5, 2, 3), dtype=ember.float64))
    loc_t, L_t = torch.tensor(RE, requires_grad=True), torch.tensor(L1, requires_grad=True)
    xt = loc_t + (L_t @ torch.from_numpy(eps.numpy()).unsqueeze(-1)).squeeze(-1)
    assert_close(x, xt)
    x.pow(3).sum().backward()
    xt.pow(3).sum().backward()
    assert_close(loc_e.grad, loc_t.grad)
    assert_close(L_e.grad, L_t.grad)


def test_tanh_squashed_rsample_log_prob_uses_cache():
    """A tanh-squashed Gaussian policy: rsample then log_prob of the same tensor reuses the cached pre-image."""
    def run(lib, D):
        loc = lib.tensor(RE, requires_grad=True)
        scale = lib.tensor(POS, requires_grad=True)
        d = D.TransformedDistribution(D.Normal(loc, scale), [D.TanhTransform(cache_size=1)])
        x = lib.tensor(RE2 * 4)  # large pre-images: atanh(tanh(x)) would lose them
        y = d.transforms[0](x)
        lp = d.log_prob(y)
        lp.sum().backward()
        return lp, loc.grad, scale.grad
    for a, b in zip(run(ember, ED), run(torch, TD)):
        assert_close(a, b, atol=1e-9, rtol=1e-8)


@pytest.mark.parametrize("name", ["Normal", "Laplace", "Exponential", "Uniform", "Gamma", "Beta", "LogNormal",
                                  "Dirichlet"])
def test_rsample_gradient_of_expectation(name):
    """d/dtheta E[x^2] from reparameterised samples matches the exact gradient of var + mean^2 (from torch)."""
    builders = {
        "Normal": lambda D, a, b: D.Normal(a - 1, b),
        "Laplace": lambda D, a, b: D.Laplace(a - 1, b),
        "Exponential": lambda D, a, b: D.Exponential(a),
        "Uniform": lambda D, a, b: D.Uniform(a - 1, a + b),
        "Gamma": lambda D, a, b: D.Gamma(a * 2, b),
        "Beta": lambda D, a, b: D.Beta(a * 2, b),
        "LogNormal": lambda D, a, b: D.LogNormal(a - 1, b / 3),
        "Dirichlet": lambda D, a, b: D.Dirichlet(ember.stack([a, b]) if D is ED else torch.stack([a, b])),
    }
    vals = (np.array([0.7, 1.6]), np.array([0.9, 1.3]))
    ae, be = (ember.tensor(v, requires_grad=True) for v in vals)
    ember.manual_seed(0)
    de = builders[name](ED, ae, be)
    x = de.rsample((100000,))
    assert x.requires_grad
    (x ** 2).mean(0).sum().backward()
    at, bt = (torch.tensor(v, requires_grad=True) for v in vals)
    dt = builders[name](TD, at, bt)
    (dt.variance + dt.mean ** 2).sum().backward()
    for ge, gt in ((ae.grad, at.grad), (be.grad, bt.grad)):
        if gt is None:
            assert ge is None
            continue
        np.testing.assert_allclose(ge.numpy(), gt.numpy(), rtol=0.05, atol=0.01)
    with pytest.raises(NotImplementedError):
        ED.Poisson(ember.tensor(1.0)).rsample()


def test_gamma_implicit_gradient_matches_torch():
    """The gradient of a Gamma sample in its concentration, at the same sample value, is torch's."""
    conc = np.array([0.3, 1.0, 2.5, 10.0, 50.0])
    ember.manual_seed(3)
    c = ember.tensor(conc, requires_grad=True)
    x = ED.Gamma(c, 1.0).rsample()
    x.sum().backward()
    expected = torch._standard_gamma_grad(torch.tensor(conc), torch.from_numpy(x.detach().numpy()))
    np.testing.assert_allclose(c.grad.numpy(), expected.numpy(), rtol=2e-3)  # torch's is an approximation


# ------------------------------------------------------------------ transforms
@pytest.mark.parametrize("name", ["Exp", "Affine", "Sigmoid", "Tanh", "Compose"])
def test_transforms(name):
    def make(D):
        return {"Exp": lambda: D.ExpTransform(), "Affine": lambda: D.AffineTransform(0.5, -2.0),
                "Sigmoid": lambda: D.SigmoidTransform(), "Tanh": lambda: D.TanhTransform(),
                "Compose": lambda: D.ComposeTransform([D.AffineTransform(0.5, 3.0), D.TanhTransform()])}[name]()
    te, tt = make(ED.transforms), make(TD.transforms)
    x = R.standard_normal(6)
    ye, yt = te(ember.tensor(x)), tt(torch.tensor(x))
    assert_close(ye, yt)
    assert_close(te.inv(ye), tt.inv(yt), atol=1e-7)
    assert_close(te.log_abs_det_jacobian(ember.tensor(x), ye), tt.log_abs_det_jacobian(torch.tensor(x), yt))
    assert te.sign == tt.sign
    assert te.inv.inv is te


# ------------------------------------------------------------------ validation and errors
@pytest.mark.parametrize("fn", [
    lambda D, T: D.Normal(T(0.0), T(-1.0)),
    lambda D, T: D.Bernoulli(T(1.5)),
    lambda D, T: D.Bernoulli(),
    lambda D, T: D.Bernoulli(T(0.5), T(0.0)),
    lambda D, T: D.Uniform(T(1.0), T(0.0)),
    lambda D, T: D.Gamma(T(-1.0), T(1.0)),
    lambda D, T: D.Categorical(T(0.5)),
    lambda D, T: D.MultivariateNormal(T([0.0, 0.0]), scale_tril=T([[1.0, 1.0], [0.0, 1.0]])),
    lambda D, T: D.MultivariateNormal(T(0.0), T([[1.0]])),
    lambda D, T: D.Normal(T(0.0), T(1.0)).log_prob(0.5),
    lambda D, T: D.Bernoulli(T(0.5)).log_prob(T(0.3)),
    lambda D, T: D.Normal(T([0.0, 0.0, 0.0]), T(1.0)).log_prob(T([0.0, 0.0])),
    lambda D, T: D.Poisson(T(1.0)).log_prob(T(-1.0)),
    lambda D, T: D.Categorical(T([0.5, 0.5])).log_prob(T(2)),
])
def test_validation_errors_match_torch(fn):
    with pytest.raises(ValueError) as te:
        fn(TD, torch.tensor)
    with pytest.raises(ValueError) as ee:
        fn(ED, ember.tensor)
    assert str(ee.value).replace("ember.", "torch.") == str(te.value)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_validate_args_off():
    d = ED.Normal(ember.tensor(0.0), ember.tensor(-1.0), validate_args=False)
    assert d.log_prob(ember.tensor(0.0)).isnan().item()
    ED.Distribution.set_default_validate_args(False)
    try:
        ED.Bernoulli(ember.tensor(0.5)).log_prob(ember.tensor(0.3))
    finally:
        ED.Distribution.set_default_validate_args(True)


def test_float32_dtypes_follow_parameters():
    d = ED.Normal(0.0, 1.0)
    assert d.loc.dtype is ember.float32 and d.sample().dtype is ember.float32
    d = ED.Normal(ember.tensor(0.0, dtype=ember.float64), 1.0)
    assert d.scale.dtype is ember.float64
    assert ED.Categorical(logits=ember.zeros(3)).sample().dtype is ember.int64
    assert ED.Poisson(ember.tensor(2.0)).sample((3,)).dtype is ember.float32
