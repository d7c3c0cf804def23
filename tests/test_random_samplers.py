"""Gamma, Poisson, binomial and Dirichlet sampling draw torch's numbers: after the same seed, the same values
(float64 bit for bit, float32 too), the generator left in the same state (the next rand/randn and the
5056-byte state agree, the cached Box-Muller sample included), and torch's reparameterised gradients."""
import numpy as np
import pytest
import torch

import ember
import ember.distributions as ED
import torch.distributions as TD

DTYPES = ["float64", "float32"]


def _run(lib, fn, seed: int = 0):
    """``fn(lib)`` after seeding, then what the generator gives next (a serial randn, a rand) and its state."""
    lib.manual_seed(seed)
    out = fn(lib)
    after = [lib.randn(3), lib.rand(2, dtype=lib.float64), lib.randn(20, dtype=lib.float64)]
    return out, after, lib.get_rng_state()


def _np(t):
    return t.detach().to(torch.float64 if isinstance(t, torch.Tensor) else ember.float64).numpy()


def assert_same_draws(fn, seed: int = 0, ulps: int = 0):
    """``fn`` under torch and ember draws the same values, and leaves the generator in the same state."""
    (t, t_after, t_state), (e, e_after, e_state) = _run(torch, fn, seed), _run(ember, fn, seed)
    assert e.dtype == getattr(ember, str(t.dtype).split(".")[1]) and tuple(e.shape) == tuple(t.shape)
    if e.dtype.is_floating_point and e.dtype.itemsize >= 4:
        # torch's vectorised math and sums (its AVX2 and AVX-512 kernels differ) may round the last bits
        a, b = e.detach().numpy(), t.detach().numpy()
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_array_max_ulp(a[~np.isnan(a)], b[~np.isnan(b)], maxulp=max(ulps, 8))
    else:
        np.testing.assert_array_equal(_np(e), _np(t))
    for a, b in zip(e_after, t_after):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert_same_state(e_state.numpy(), t_state.numpy())


def assert_same_state(e_state, t_state):
    """Generator states (torch's 5056-byte layout) equal: the twister's words and position exactly; the cached
    Box-Muller normals (a double at byte 5024, a float at 5048) to their last bits, which torch's vectorised
    log/sin/cos round by the CPU's kernels."""
    exact = np.ones(len(t_state), bool)
    exact[5024:5032] = exact[5048:5052] = False
    np.testing.assert_array_equal(e_state[exact], t_state[exact])
    for at, kind in ((5024, np.float64), (5048, np.float32)):
        n = np.dtype(kind).itemsize
        np.testing.assert_array_max_ulp(e_state[at:at + n].view(kind), t_state[at:at + n].view(kind), maxulp=2)


def T(lib, values, dtype):
    return lib.tensor(values, dtype=getattr(lib, dtype))


# rates on both sides of 10 (the product-of-uniforms and the transformed-rejection branch), and 0
RATES = [0.0, 0.3, 2.5, 9.99, 10.0, 37.5, 1e4]
# shapes below 1 (boosted by U^(1/alpha)) and from 1 on
SHAPES = [1e-3, 0.2, 0.9, 1.0, 2.5, 30.0]
# (count, prob): inversion (n p < 10), BTRS (n p >= 10), their mirrors for p > 1/2, and the edges
BINOMIAL = [(5, 0.3), (40, 0.2), (100, 0.05), (1000, 0.5), (7, 0.9), (50, 0.8), (500, 0.97), (0, 0.5), (9, 0.0),
            (9, 1.0), (3e6, 0.4)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_poisson(dtype):
    assert_same_draws(lambda lib: lib.poisson(T(lib, RATES * 20, dtype)))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_poisson_half(dtype):
    assert_same_draws(lambda lib: lib.poisson(T(lib, RATES * 3, dtype)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_standard_gamma(dtype):
    assert_same_draws(lambda lib: lib._standard_gamma(T(lib, SHAPES * 30, dtype)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_binomial(dtype):
    n, p = (list(v) * 15 for v in zip(*BINOMIAL))
    assert_same_draws(lambda lib: lib.binomial(T(lib, n, dtype), T(lib, p, dtype)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 3, 5, 17])
def test_sample_dirichlet(dtype, k):
    conc = np.random.default_rng(k).uniform(0.05, 6.0, (40, k))
    assert_same_draws(lambda lib: lib._sample_dirichlet(T(lib, conc, dtype)))


def test_memory_order_broadcast_and_generator():
    """torch walks its fresh contiguous output: a transposed or expanded input is drawn in logical order."""
    a = np.random.default_rng(0).uniform(0.2, 20, (6, 5))
    assert_same_draws(lambda lib: lib._standard_gamma(lib.tensor(a).t()))
    assert_same_draws(lambda lib: lib.poisson(lib.tensor(a[:1]).expand(4, 5) * 3))
    assert_same_draws(lambda lib: lib._sample_dirichlet(lib.tensor(a).t()))
    assert_same_draws(lambda lib: lib.binomial(lib.tensor(a * 5).round(), lib.tensor(0.7, dtype=lib.float64).expand(6, 5)))

    def on_generator(lib):
        g = lib.Generator().manual_seed(5)
        return lib.cat([lib.poisson(lib.tensor([4.0, 40.0]), generator=g), lib._standard_gamma(lib.ones(3), generator=g),
                        lib.binomial(lib.tensor([30.0]), lib.tensor([0.5]), generator=g), lib.randn(3, generator=g)])
    assert_same_draws(on_generator)


def test_normal_cache_and_state_roundtrip():
    """A Box-Muller sample cached before the gamma draws is used by them; a saved state replays them."""
    def fn(lib):
        lib.randn(3)  # leaves the second sample of its last pair in the generator
        state = lib.get_rng_state()
        first = lib._standard_gamma(lib.tensor([2.0, 0.5, 3.0], dtype=lib.float64))
        lib.set_rng_state(state)
        return lib.cat([first, lib._standard_gamma(lib.tensor([2.0, 0.5, 3.0], dtype=lib.float64))])
    assert_same_draws(fn)
    ember.manual_seed(1)
    ember.randn(3)
    state = ember.get_rng_state()
    a = ember._standard_gamma(ember.tensor([2.0, 0.5, 3.0]))
    ember.set_rng_state(state)
    np.testing.assert_array_equal(a.numpy(), ember._standard_gamma(ember.tensor([2.0, 0.5, 3.0])).numpy())


def test_vmap_same_randomness():
    """Inside vmap(randomness="same") a sampler draws once for the batch, from the generator's own stream."""
    def fn(lib):
        c = lib.tensor([2.0, 0.5, 3.0], dtype=lib.float64)
        vmap = torch.func.vmap if lib is torch else ember.func.vmap
        return vmap(lambda r: lib._standard_gamma(c) + r, randomness="same")(lib.tensor([0.0, 10.0], dtype=lib.float64))
    assert_same_draws(fn)


def _distribution_cases(lib, dtype):
    D, X = (TD if lib is torch else ED), (lambda v: T(lib, v, dtype))
    return {
        "Gamma": D.Gamma(X([0.3, 1.0, 4.0]), X([2.0, 0.5, 1.0])),
        "Beta": D.Beta(X([0.3, 1.0, 4.0]), X([2.0, 0.5, 9.0])),
        "Dirichlet": D.Dirichlet(X([[0.3, 1.0, 4.0], [2.0, 0.5, 9.0]])),
        "Chi2": D.Chi2(X([0.5, 3.0, 30.0])),
        "StudentT": D.StudentT(X([0.5, 3.0, 30.0]), X([1.0, 0.0, -2.0]), X([1.0, 2.0, 0.5])),
        "Poisson": D.Poisson(X([0.5, 3.0, 30.0, 400.0])),
        "Binomial": D.Binomial(X([5.0, 100.0, 40.0]), probs=X([0.3, 0.7, 0.95])),
        "Binomial(logits)": D.Binomial(X([5.0, 100.0, 40.0]), logits=X([-0.3, 0.7, 3.0])),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["Gamma", "Beta", "Dirichlet", "Chi2", "StudentT", "Poisson", "Binomial",
                                  "Binomial(logits)"])
@pytest.mark.parametrize("shape", [(), (40,)])
def test_distribution_sample(dtype, name, shape):
    # StudentT's float32 noise is randn's vectorised float Box-Muller, whose log/sin/cos ember has up to a last bit
    ulps = 2 if (name, dtype) == ("StudentT", "float32") else 0
    assert_same_draws(lambda lib: _distribution_cases(lib, dtype)[name].sample(shape), ulps=ulps)


RSAMPLE = {
    "Gamma": lambda D, lib, a, b: D.Gamma(a, b),
    "Beta": lambda D, lib, a, b: D.Beta(a, b),
    "Dirichlet": lambda D, lib, a, b: D.Dirichlet(lib.stack([a, b, a * b], -1)),
    "Chi2": lambda D, lib, a, b: D.Chi2(a * b),
    "StudentT": lambda D, lib, a, b: D.StudentT(a, b, a + b),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(RSAMPLE))
def test_rsample_gradient(dtype, name):
    """The reparameterised sample and its gradients in the parameters are torch's, value for value."""
    out = []
    for lib, D in ((torch, TD), (ember, ED)):
        lib.manual_seed(7)
        a, b = (T(lib, v, dtype).requires_grad_() for v in ([0.3, 1.0, 4.0, 12.0], [2.0, 0.5, 9.0, 15.0]))
        x = RSAMPLE[name](D, lib, a, b).rsample()
        (x * lib.linspace(-1, 2, x.numel(), dtype=x.dtype).reshape(x.shape)).sum().backward()
        out.append([x.detach().numpy(), a.grad.numpy(), b.grad.numpy()])
    np.testing.assert_array_equal(out[1][0], out[0][0])
    for t, e in zip(out[0][1:], out[1][1:]):
        # in float32 the ops around the sample (a division's gradient, ...) may round their last bit otherwise
        np.testing.assert_array_max_ulp(e, t, maxulp=0 if dtype == "float64" else 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_standard_gamma_autograd(dtype):
    out = []
    for lib in (torch, ember):
        lib.manual_seed(3)
        a = T(lib, SHAPES * 4, dtype).requires_grad_()
        x = lib._standard_gamma(a)
        (x * lib.arange(x.numel(), dtype=x.dtype)).sum().backward()
        out.append((x.detach().numpy(), a.grad.numpy()))
    for t, e in zip(*out):
        np.testing.assert_array_equal(e, t)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_formulas_in_every_branch(dtype):
    """torch's series/saddle-point/rational approximations of d sample / d concentration, branch by branch."""
    # gamma: x < 0.8 (Taylor), alpha > 8 near and away from x = alpha (Rice), else the rational fit
    alpha = [0.3, 2.0, 9.0, 20.0, 20.0, 40.0, 1.5, 5.0, 0.7]
    x = [0.1, 0.5, 9.2, 21.0, 12.0, 60.0, 1.2, 3.0, 4.0]
    e = ember._standard_gamma_grad(T(ember, alpha, dtype), T(ember, x, dtype))
    np.testing.assert_array_equal(e.numpy(), torch._standard_gamma_grad(T(torch, alpha, dtype), T(torch, x, dtype)).numpy())
    # dirichlet: x near 0, x near 1, both concentrations large (at and away from the mean), else the rational
    xs = [0.01, 0.2, 0.97, 0.999, 0.45, 0.5, 0.3, 0.7, 0.3, 0.6, 0.5]
    al = [0.5, 0.3, 3.0, 8.0, 9.0, 10.0, 9.0, 12.0, 1.5, 2.0, 4.0]
    tot = [2.0, 1.0, 3.5, 9.0, 20.0, 20.0, 20.0, 19.0, 4.0, 3.5, 5.0]
    args = [(xs, al, tot)]
    rng = np.random.default_rng(0)
    a2 = rng.uniform(0.05, 40, 300)
    args.append((rng.uniform(0.001, 0.999, 300), a2, a2 + rng.uniform(0.05, 40, 300)))
    for x_, a_, t_ in args:
        e = ember._dirichlet_grad(*(T(ember, v, dtype) for v in (x_, a_, t_)))
        t = torch._dirichlet_grad(*(T(torch, v, dtype) for v in (x_, a_, t_)))
        np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_sampler_errors_and_grad_flags():
    with pytest.raises(NotImplementedError, match="poisson_cpu"):
        ember.poisson(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="invalid Poisson rate"):
        ember.poisson(ember.tensor([-1.0]))
    with pytest.raises(ValueError, match="floating-point"):
        ember.binomial(ember.tensor([3]), ember.tensor([0.5]))
    with pytest.raises(RuntimeError, match="Double"):
        ember.binomial(ember.tensor([3.0]), ember.tensor([0.5], dtype=ember.float64))
    with pytest.raises(NotImplementedError, match="gamma_cpu"):
        ember._standard_gamma(ember.tensor([1.0], dtype=ember.float16))
    for lib in (torch, ember):  # as torch: a Poisson draw passes a zero gradient
        r = lib.tensor([1.0, 20.0], requires_grad=True)
        lib.poisson(r).sum().backward()
        np.testing.assert_array_equal(r.grad.numpy(), [0.0, 0.0])


@pytest.mark.parametrize("name", ["Chi2", "StudentT"])
def test_chi2_student_t_densities_and_moments(name):
    """The two distributions added with their samplers: log_prob, entropy, moments and expand as torch's."""
    def make(D, lib):
        f = lambda v: lib.tensor(v, dtype=lib.float64)  # noqa: E731
        if name == "Chi2":
            return D.Chi2(f([0.5, 3.0, 30.0]))
        return D.StudentT(f([0.5, 1.5, 3.0, 30.0]), f([1.0, 0.0, -2.0, 0.3]), f([1.0, 2.0, 0.5, 1.1]))
    t, e = make(TD, torch), make(ED, ember)
    values = np.linspace(0.1, 5.0, t.batch_shape[0])
    np.testing.assert_allclose(e.log_prob(ember.tensor(values)).numpy(), t.log_prob(torch.tensor(values)).numpy(),
                               rtol=1e-12)
    for attr in ("mean", "mode", "variance", "entropy"):
        tv, ev = getattr(t, attr), getattr(e, attr)
        tv, ev = (tv(), ev()) if callable(tv) else (tv, ev)
        np.testing.assert_allclose(ev.numpy(), tv.numpy(), rtol=1e-12)
    assert e.has_rsample and repr(e).replace("ember", "torch") == repr(t)
    assert_same_draws(lambda lib: make(TD if lib is torch else ED, lib).expand((2, t.batch_shape[0])).sample((3,)))


INF, NAN = float("inf"), float("nan")
EDGES = {  # values where C's arithmetic gives inf/nan/-2^63 and torch's clamps decide the result
    "gamma": lambda lib: lib._standard_gamma(lib.tensor([NAN, -1.0, -0.5, INF, 0.0, 1e-30, 1e30], dtype=lib.float64)),
    "gamma float32": lambda lib: lib._standard_gamma(lib.tensor([NAN, -1.0, -0.5, INF, 0.0, 1e-30, 1e30])),
    "poisson": lambda lib: lib.poisson(lib.tensor([1e15, 1e-300, 5e-324, INF], dtype=lib.float64)),
    "binomial": lambda lib: lib.binomial(lib.tensor([INF, 5.5, 10.5, 1e9, 3.0, 3.0, 20.0], dtype=lib.float64),
                                         lib.tensor([0.3, 0.5, 0.99, 1e-12, NAN, -0.5, 1e-320], dtype=lib.float64)),
    "dirichlet": lambda lib: lib._sample_dirichlet(lib.tensor([[NAN, 1.0], [1e-30, 1e-30], [INF, 1.0]],
                                                              dtype=lib.float64)),
    "gamma grad": lambda lib: lib._standard_gamma_grad(lib.tensor([1e-3, 0.5, 100.0, 3.0, 1e4], dtype=lib.float64),
                                                       lib.tensor([1e-300, 1e-30, 1e-30, 1e3, 5e3], dtype=lib.float64)),
    "dirichlet grad": lambda lib: lib._dirichlet_grad(*(lib.tensor(v, dtype=lib.float64) for v in (
        [1e-300, 1.0, 0.0, 0.5], [0.5, 0.5, 0.5, 1e-3], [1.0, 1.0, 1.0, 1e4]))),
}


@pytest.mark.parametrize("name", list(EDGES))
def test_edge_values(name):
    assert_same_draws(EDGES[name])
