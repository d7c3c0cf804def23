"""gamma, Poisson, binomial and Dirichlet samplers inside vmap, against torch.func.vmap 2.13: the same draws
bit for bit under randomness="different", the same refusals under "same" (batched parameters) and "error"."""
import numpy as np
import pytest
import torch

import ember

RNG = np.random.default_rng(7)
SAMPLERS = {  # name -> (fn(lib, *params), parameter arrays)
    "poisson": (lambda lib, r: lib.poisson(r), lambda: (RNG.uniform(0.1, 30, (3, 5)),)),
    "_standard_gamma": (lambda lib, a: lib._standard_gamma(a), lambda: (RNG.uniform(0.05, 5, (3, 5)),)),
    "binomial": (lambda lib, n, p: lib.binomial(n, p), lambda: (RNG.integers(0, 60, (3, 5)).astype(float),
                                                                RNG.uniform(0, 1, (3, 5)))),
    "_sample_dirichlet": (lambda lib, a: lib._sample_dirichlet(a), lambda: (RNG.uniform(0.1, 4, (3, 5)),)),
}


def _run(lib, seed, fn, *args, **vmap_kw):
    lib.manual_seed(seed)
    out = lib.func.vmap(fn, **vmap_kw)(*args)
    return out, lib.rand(3)  # the stream after the call


def _same(e, t) -> None:
    (e, e_next), (t, t_next) = e, t
    assert str(e.dtype) == str(t.dtype) and tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(e.detach().numpy(), t.detach().numpy())
    np.testing.assert_array_equal(e_next.numpy(), t_next.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("in_dims", [0, 1])
@pytest.mark.parametrize("name", SAMPLERS)
def test_different_draws_as_torch(name, in_dims, dtype):
    fn, params = SAMPLERS[name]
    arrays = params()
    libs = {lib: [lib.tensor(a, dtype=getattr(lib, dtype)) for a in arrays] for lib in (torch, ember)}
    e, t = (_run(lib, 5, lambda *p, lib=lib: fn(lib, *p), *libs[lib], in_dims=in_dims, randomness="different")
            for lib in (ember, torch))
    _same(e, t)


@pytest.mark.parametrize("name", SAMPLERS)
def test_unbatched_parameters_different_and_same(name):
    fn, params = SAMPLERS[name]
    arrays = params()
    for mode in ("different", "same"):
        e, t = (_run(lib, 11, lambda x, lib=lib: fn(lib, *[lib.tensor(a[0]) for a in arrays]) + 0 * x,
                     lib.zeros(4, 5, dtype=lib.float64), randomness=mode) for lib in (ember, torch))
        _same(e, t)
        rows = e[0].numpy()
        assert (rows[0] == rows[1]).all() == (mode == "same")


def test_nested_levels_draw_per_sample_of_the_different_ones():
    rates = RNG.uniform(1, 50, (3, 2, 4))
    for inner in ("different", "same"):
        def run(lib):
            r = lib.tensor(rates[0, 0])
            inner_fn = lib.func.vmap(lambda z: lib.poisson(r) + 0 * z, randomness=inner)
            return _run(lib, 3, inner_fn, lib.tensor(rates), randomness="different")
        _same(run(ember), run(torch))
    _same(_run(ember, 4, ember.func.vmap(ember.poisson, randomness="different"), ember.tensor(rates),
               randomness="different"),
          _run(torch, 4, torch.func.vmap(torch.poisson, randomness="different"), torch.tensor(rates),
               randomness="different"))


@pytest.mark.parametrize("name", SAMPLERS)
def test_refusals_match_torch(name):
    fn, params = SAMPLERS[name]
    arrays = params()
    for mode in ("same", "error"):
        messages = []
        for lib in (torch, ember):
            with pytest.raises(RuntimeError) as info:
                lib.func.vmap(lambda *p, lib=lib: fn(lib, *p), randomness=mode)(*[lib.tensor(a) for a in arrays])
            messages.append(str(info.value))
        assert messages[1] == messages[0]


@pytest.mark.parametrize("mode", ["error", "same", "different"])
def test_a_users_generator_follows_the_same_rules(mode):
    rates = RNG.uniform(0.5, 9, (3, 4))
    results = []
    for lib in (torch, ember):
        g = lib.Generator().manual_seed(21)
        run = lib.func.vmap(lambda r, lib=lib: lib.poisson(r, generator=g), randomness=mode)
        try:
            results.append(run(lib.tensor(rates)).numpy())
        except RuntimeError as e:
            results.append(str(e))
    if mode == "different":
        np.testing.assert_array_equal(results[1], results[0])
    else:
        assert results[1] == results[0] and "randomness" in results[0]


def test_gamma_gradients_per_sample_as_torch():
    alpha = RNG.uniform(0.2, 3, (4, 3))
    grads = []
    for lib in (torch, ember):
        lib.manual_seed(9)
        g = lib.func.vmap(lib.func.grad(lambda a, lib=lib: lib._standard_gamma(a).sum()), randomness="different")
        grads.append(g(lib.tensor(alpha)).numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


def test_distributions_sample_inside_vmap_as_torch():
    conc = RNG.uniform(0.3, 3, (4, 3))
    for make in (lambda lib, c: lib.distributions.Gamma(c, 2.0, validate_args=False).rsample(),
                 lambda lib, c: lib.distributions.Poisson(c, validate_args=False).sample(),
                 lambda lib, c: lib.distributions.Binomial(10, probs=c / 4, validate_args=False).sample()):
        e, t = (_run(lib, 2, lambda c, lib=lib: make(lib, c), lib.tensor(conc), randomness="different")
                for lib in (ember, torch))
        _same(e, t)
