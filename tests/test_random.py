"""ember.random: seeding, generators, state, shapes/dtypes vs torch, and the sampled distributions.

torch's exact random stream is not reproduced, so values are checked statistically, never against torch.
"""
import numpy as np
import pytest
import torch

import ember

N = 200_000


def draws():
    """Every drawing op, each as a zero-argument callable taking the generator keyword."""
    p = ember.tensor([0.1, 0.2, 0.3, 0.4])
    base = ember.zeros(3, 4)
    return {
        "rand": lambda g: ember.rand(3, 4, generator=g),
        "randn": lambda g: ember.randn((3, 4), generator=g),
        "randint": lambda g: ember.randint(0, 100, (3, 4), generator=g),
        "randperm": lambda g: ember.randperm(20, generator=g),
        "rand_like": lambda g: ember.rand_like(base, generator=g),
        "randn_like": lambda g: ember.randn_like(base, generator=g),
        "randint_like": lambda g: ember.randint_like(base, 5, 50, generator=g),
        "normal_tt": lambda g: ember.normal(ember.zeros(5), ember.ones(5), generator=g),
        "normal_tf": lambda g: ember.normal(ember.zeros(5), 2.0, generator=g),
        "normal_ft": lambda g: ember.normal(1.0, ember.ones(5), generator=g),
        "normal_ff": lambda g: ember.normal(1.0, 2.0, (5,), generator=g),
        "bernoulli": lambda g: ember.bernoulli(ember.full((20,), 0.5), generator=g),
        "multinomial": lambda g: ember.multinomial(p, 3, generator=g),
        "multinomial_repl": lambda g: ember.multinomial(p, 10, replacement=True, generator=g),
        "uniform_": lambda g: ember.empty(10).uniform_(-2, 2, generator=g),
        "normal_": lambda g: ember.empty(10).normal_(1, 2, generator=g),
        "bernoulli_": lambda g: ember.empty(10).bernoulli_(0.3, generator=g),
        "random_": lambda g: ember.empty(10, dtype=ember.int64).random_(0, 1000, generator=g),
        "exponential_": lambda g: ember.empty(10).exponential_(2.0, generator=g),
    }


@pytest.mark.parametrize("name", sorted(draws()))
def test_same_seed_same_numbers(name):
    fn = draws()[name]
    ember.manual_seed(123)
    a = fn(None).numpy().copy()
    ember.manual_seed(123)
    b = fn(None).numpy().copy()
    ember.manual_seed(124)
    c = fn(None).numpy().copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    g1, g2 = ember.Generator().manual_seed(7), ember.Generator().manual_seed(7)
    np.testing.assert_array_equal(fn(g1).numpy(), fn(g2).numpy())


def test_generators_are_independent_of_the_default():
    g = ember.Generator().manual_seed(5)
    first = ember.rand(5, generator=g).numpy().copy()
    g.manual_seed(5)
    ember.manual_seed(0)
    ember.rand(100)  # draws from the default generator must not move g
    np.testing.assert_array_equal(ember.rand(5, generator=g).numpy(), first)


def test_seed_api_matches_torch():
    assert ember.Generator().initial_seed() == torch.Generator().initial_seed() == 67280421310721
    for lib in (ember, torch):
        g = lib.manual_seed(42)
        assert isinstance(g, lib.Generator) and g is lib.default_generator
        assert lib.initial_seed() == 42
        gen = lib.Generator()
        assert gen.manual_seed(3) is gen and gen.initial_seed() == 3
        s = lib.seed()
        assert isinstance(s, int) and lib.initial_seed() == s
        assert lib.manual_seed(-1).initial_seed() == 2**64 - 1
    ember.manual_seed(0)
    torch.manual_seed(0)


def test_state_round_trip():
    ember.manual_seed(9)
    ember.randn(7)
    st = ember.get_rng_state()
    assert st.dtype == ember.uint8 and st.ndim == 1
    assert torch.get_rng_state().dtype == torch.uint8
    a = ember.randn(5).numpy().copy()
    ember.manual_seed(1)
    ember.set_rng_state(st)
    np.testing.assert_array_equal(ember.randn(5).numpy(), a)
    g = ember.Generator()
    g.set_state(bytes(st.numpy()))
    np.testing.assert_array_equal(ember.randn(5, generator=g).numpy(), a)
    assert g.initial_seed() == 9
    with pytest.raises(RuntimeError):
        g.set_state(b"short")


@pytest.mark.parametrize("call", [
    lambda lib: lib.rand(2, 3), lambda lib: lib.rand((2, 3)), lambda lib: lib.randn(4, dtype=lib.float64),
    lambda lib: lib.randn(2, 1, 3, dtype=lib.float16), lambda lib: lib.randint(10, (5,)),
    lambda lib: lib.randint(3, 10, (2, 2), dtype=lib.int32), lambda lib: lib.randint(0, 5, (3,), dtype=lib.float32),
    lambda lib: lib.randperm(6), lambda lib: lib.randperm(6, dtype=lib.int32),
    lambda lib: lib.rand_like(lib.zeros(2, 2, dtype=lib.float64)), lambda lib: lib.randn_like(lib.zeros(3)),
    lambda lib: lib.randint_like(lib.zeros(3, dtype=lib.int32), 10), lambda lib: lib.randint_like(lib.zeros(3), 2, 9),
    lambda lib: lib.normal(lib.zeros(2, 1), lib.ones(3)), lambda lib: lib.normal(0.0, 1.0, (4,)),
    lambda lib: lib.normal(lib.zeros(3, dtype=lib.float64), 1.0), lambda lib: lib.bernoulli(lib.full((3,), 0.5)),
    lambda lib: lib.multinomial(lib.ones(2, 5), 3), lambda lib: lib.multinomial(lib.ones(5), 7, True),
    lambda lib: lib.rand(0, 3), lambda lib: lib.rand(()),
])
def test_shapes_and_dtypes_match_torch(call):
    e, t = call(ember), call(torch)
    assert tuple(e.shape) == tuple(t.shape)
    assert e.dtype.name == str(t.dtype).split(".")[1]
    assert not e.requires_grad


def test_default_dtype_is_followed():
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.rand(2).dtype == ember.float64 and ember.randn(2).dtype == ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    assert ember.rand(2).dtype == ember.float32


def test_requires_grad_factory():
    x = ember.randn(3, requires_grad=True)
    assert x.requires_grad and x.is_leaf


def test_uniform_statistics():
    ember.manual_seed(0)
    x = ember.rand(N).numpy()
    assert x.min() >= 0 and x.max() < 1
    assert abs(x.mean() - 0.5) < 0.005 and abs(x.var() - 1 / 12) < 0.002
    y = ember.empty(N).uniform_(-3, 5).numpy()
    assert y.min() >= -3 and y.max() < 5 and abs(y.mean() - 1) < 0.05


def test_normal_statistics():
    ember.manual_seed(0)
    x = ember.randn(N, dtype=ember.float64).numpy()
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
    assert abs((np.abs(x) < 1).mean() - 0.6827) < 0.005
    for y in (ember.normal(2.0, 3.0, (N,)), ember.normal(ember.full((N,), 2.0), 3.0),
              ember.normal(ember.full((N,), 2.0), ember.full((N,), 3.0)), ember.empty(N).normal_(2.0, 3.0)):
        y = y.numpy()
        assert abs(y.mean() - 2) < 0.05 and abs(y.std() - 3) < 0.05
    # element-wise mean and std
    z = ember.normal(ember.tensor([0.0, 100.0]).expand(N // 2, 2), ember.tensor([1.0, 0.0])).numpy()
    assert np.all(z[:, 1] == 100.0) and abs(z[:, 0].std() - 1) < 0.02


def test_randint_statistics():
    ember.manual_seed(0)
    x = ember.randint(-3, 7, (N,)).numpy()
    counts = np.bincount(x + 3, minlength=10)
    assert x.min() == -3 and x.max() == 6 and len(counts) == 10
    assert np.all(np.abs(counts / N - 0.1) < 0.005)
    r = ember.empty(N, dtype=ember.int64).random_(5).numpy()
    assert set(np.unique(r)) == {0, 1, 2, 3, 4}
    f = ember.empty(1000).random_().numpy()
    assert np.all(f == np.round(f)) and f.min() >= 0 and f.max() <= 2**24


def test_randperm_is_a_permutation():
    ember.manual_seed(0)
    p = ember.randperm(1000).numpy()
    assert sorted(p.tolist()) == list(range(1000))
    assert not np.array_equal(p, np.arange(1000))
    assert ember.randperm(0).shape == (0,)


def test_bernoulli_statistics():
    ember.manual_seed(0)
    probs = ember.tensor([0.0, 0.25, 0.9, 1.0]).expand(N // 4, 4)
    b = ember.bernoulli(probs).numpy()
    assert set(np.unique(b)) <= {0.0, 1.0}
    np.testing.assert_allclose(b.mean(0), [0.0, 0.25, 0.9, 1.0], atol=0.01)
    assert abs(ember.bernoulli(ember.zeros(N), p=0.7).numpy().mean() - 0.7) < 0.01
    assert abs(ember.empty(N).bernoulli_(0.2).numpy().mean() - 0.2) < 0.01


def test_multinomial_statistics():
    ember.manual_seed(0)
    p = ember.tensor([1.0, 0.0, 3.0, 6.0])  # unnormalised, with a zero
    s = ember.multinomial(p, N, replacement=True).numpy()
    assert s.dtype == np.int64
    np.testing.assert_allclose(np.bincount(s, minlength=4) / N, [0.1, 0.0, 0.3, 0.6], atol=0.005)
    rows = ember.multinomial(ember.tensor([[1.0, 1.0, 1.0, 0.0], [0.0, 5.0, 1.0, 1.0]]), 3).numpy()
    for row, zero in zip(rows, (3, 0)):
        assert len(set(row.tolist())) == 3 and zero not in row
    # without replacement the heavier category comes first more often, in proportion to its weight
    first = np.array([ember.multinomial(ember.tensor([1.0, 3.0]), 2)[0].item() for _ in range(4000)])
    assert abs((first == 1).mean() - 0.75) < 0.03


def test_exponential_statistics():
    ember.manual_seed(0)
    x = ember.empty(N, dtype=ember.float64).exponential_(4.0).numpy()
    assert x.min() >= 0 and abs(x.mean() - 0.25) < 0.005


def raised(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e)
    return None


@pytest.mark.parametrize("call", [
    lambda lib: lib.rand(3, dtype=lib.int64), lambda lib: lib.randn(3, dtype=lib.int32),
    lambda lib: lib.randint(5, 5, (2,)), lambda lib: lib.randint(5, 2, (2,)),
    lambda lib: lib.multinomial(lib.ones(3), 4), lambda lib: lib.multinomial(lib.tensor([1.0, -1.0]), 1),
    lambda lib: lib.multinomial(lib.zeros(3), 1), lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1),
    lambda lib: lib.normal(lib.zeros(3), -1.0), lambda lib: lib.bernoulli(lib.full((2,), 1.5)),
    lambda lib: lib.empty(3).uniform_(2, 1), lambda lib: lib.randperm(-1),
    lambda lib: lib.empty(2).exponential_(-1.0),
])
def test_errors_match_torch(call):
    e, t = raised(lambda: call(ember)), raised(lambda: call(torch))
    assert t is not None and e is t


def test_fillers_on_parameters_need_no_grad():
    for lib in (ember, torch):
        w = lib.zeros(3, 3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            w.uniform_()
        ident = id(w)
        with lib.no_grad():
            assert w.normal_(0, 0.02) is w
            w.uniform_(-1, 1)
        assert id(w) == ident and w.is_leaf and w.requires_grad and w._version == 2
        assert np.all(np.abs(w.detach().numpy()) <= 1) and np.any(w.detach().numpy() != 0)


def test_normal_gradient_is_zero_like_torch():
    res = {}
    for lib in (ember, torch):
        m = lib.zeros(3, requires_grad=True)
        s = lib.ones(3, requires_grad=True)
        y = lib.normal(m, s)
        assert y.requires_grad
        (y * 2).sum().backward()
        res[lib] = (m.grad.tolist(), s.grad.tolist())
    assert res[ember] == res[torch] == ([0.0] * 3, [0.0] * 3)


def test_multinomial_out_must_be_long_and_is_written_as_torch():
    probs = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]  # deterministic draws
    for lib in (torch, ember):
        out = lib.empty(0, dtype=lib.int64)
        assert lib.multinomial(lib.tensor(probs), 1, out=out) is out
        assert out.tolist() == [[1], [2]]
        with pytest.raises(RuntimeError, match="Long tensor out"):
            lib.multinomial(lib.tensor(probs), 1, out=lib.empty(2, 1, dtype=lib.float64))
