"""ember.func.vmap: against a loop of the unbatched function, and against torch.func.vmap."""
import numpy as np
import pytest
import torch
import torch.func as tfunc

import ember
import ember.func as efunc

from . import vmap_db

def test_vmap_over_the_op_table_matches_a_loop():
    """Every op of the specification table, on a batch of three samples, equals the op run on each
    sample, or refuses with vmap's error; none is silently wrong."""
    results = {spec.name: vmap_db.check(spec) for spec in vmap_db.OP_DB}
    wrong = {name: r for name, r in results.items() if r.startswith("values differ")}
    assert not wrong
    ok = [name for name, r in results.items() if r == "ok"]
    refused = {name: r for name, r in results.items() if r not in ("ok", "skip")}
    # refusals are vmap's own errors (or torch's for a non-tensor result), never a crash elsewhere
    assert all(r.startswith(("RuntimeError: vmap", "ValueError: vmap")) for name, r in refused.items()
               if name != "unravel_index"), refused
    assert len(ok) >= 360


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("in_dims,out_dims", [(0, 0), (1, 0), (0, 1), ((1, None), 1)])
def test_in_out_dims_and_nesting_as_torch(in_dims, out_dims):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 3, 4)), rng.standard_normal((3, 4))
    res = []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        def f(a, b):
            inner = mod.vmap(lambda r: (r * b).softmax(-1) @ b.unsqueeze(-1), in_dims=0)
            return inner(a).sum(-1) + a.mean()
        args = (lib.tensor(x), lib.tensor(y))
        res.append(mod.vmap(f, in_dims=in_dims if isinstance(in_dims, tuple) else (in_dims, None),
                            out_dims=out_dims)(*args))
    np.testing.assert_allclose(_np(res[0]), _np(res[1]), rtol=1e-12)


def test_chunk_size_and_unbatched_outputs():
    x = ember.tensor(np.arange(10.0).reshape(5, 2))
    out, const = efunc.vmap(lambda r: (r * 2, ember.ones(3)), chunk_size=2)(x)
    np.testing.assert_allclose(_np(out), np.arange(10.0).reshape(5, 2) * 2)
    np.testing.assert_allclose(_np(const), np.ones((5, 3)))


def _models(lib, kind):
    rng = np.random.default_rng(1)
    if kind == "mlp":
        m = lib.nn.Sequential(lib.nn.Linear(10, 16), lib.nn.ReLU(), lib.nn.Linear(16, 3))
        x = rng.standard_normal((6, 10))
    else:
        m = lib.nn.Sequential(lib.nn.Conv2d(1, 2, 3), lib.nn.Tanh(), lib.nn.Flatten(), lib.nn.Linear(2 * 4 * 4, 3))
        x = rng.standard_normal((6, 1, 6, 6))
    m = m.double()
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))
    return m, lib.tensor(x), lib.tensor(rng.integers(0, 3, 6))


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_per_sample_gradients(kind):
    """vmap(grad(loss)) equals a loop of single-sample backward passes, and torch.func's result."""
    res = []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        m, x, y = _models(lib, kind)
        params = {k: v.detach() for k, v in m.named_parameters()}

        def loss(p, xi, yi):
            return lib.nn.functional.cross_entropy(mod.functional_call(m, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))
        res.append(mod.vmap(mod.grad(loss), in_dims=(None, 0, 0))(params, x, y))
        if lib is ember:
            for i in range(len(x)):
                m.zero_grad()
                lib.nn.functional.cross_entropy(m(x[i:i + 1]), y[i:i + 1]).backward()
                for k, p in m.named_parameters():
                    np.testing.assert_allclose(_np(res[0][k][i]), _np(p.grad), rtol=1e-10, atol=1e-12)
    for k in res[0]:
        np.testing.assert_allclose(_np(res[0][k]), _np(res[1][k]), rtol=1e-10, atol=1e-12)


def test_model_ensemble_with_stack_module_state():
    res = []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        models = [_models(lib, "mlp")[0] for _ in range(2)]
        with lib.no_grad():
            models[1][0].weight.mul_(-1)
        params, buffers = mod.stack_module_state(models)
        x = _models(lib, "mlp")[1]
        res.append(mod.vmap(lambda p, b: mod.functional_call(models[0], (p, b), (x,)))(params, buffers))
    np.testing.assert_allclose(_np(res[0]), _np(res[1]), rtol=1e-12)


def test_errors_as_torch():
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        x = lib.ones(2, 3)
        with pytest.raises(RuntimeError, match="calling .item"):
            mod.vmap(lambda r: r.sum().item())(x)
        with pytest.raises(RuntimeError, match="data-dependent control flow"):
            mod.vmap(lambda r: r if r.sum() > 0 else -r)(x)
        with pytest.raises(RuntimeError, match="randomness error mode"):
            mod.vmap(lambda r: r + lib.rand(3))(x)
        with pytest.raises(RuntimeError, match="randomness error mode"):
            mod.vmap(lambda r: lib.nn.functional.dropout(r, 0.5))(x)
        with pytest.raises(ValueError, match="same size in the mapped dimension"):
            mod.vmap(lambda a, b: a + b)(x, lib.ones(3, 3))
        with pytest.raises(ValueError, match="expected in_dim to satisfy"):
            mod.vmap(lambda a: a, in_dims=2)(x)
    assert efunc.vmap(lambda r: r + ember.rand(3) * 0, randomness="same")(ember.ones(2, 3)).shape == (2, 3)


def test_per_sample_grads_example():
    from ember.examples import per_sample_grads
    grads = per_sample_grads.main(["--batch", "8"])
    assert grads["fc1.weight"].shape == (8, 100, 40) and grads["fc3.bias"].shape == (8, 10)
    ember.manual_seed(0)  # the example's model again, and its data
    model = per_sample_grads.MLP()
    data = per_sample_grads.MNIST1D(train=True)
    loop = per_sample_grads.looped_grads(model, ember.tensor(data.data[:8]), ember.tensor(data.targets[:8]))
    for k in loop:
        np.testing.assert_allclose(_np(grads[k]), _np(loop[k]), rtol=1e-5, atol=1e-6)


def _both(fn, *arrays, **kw):
    """``fn(lib, func_module, *tensors)`` under ember and torch, as NumPy arrays."""
    return [_np(fn(lib, mod, *[lib.tensor(a) for a in arrays], **kw)) for lib, mod in ((ember, efunc), (torch, tfunc))]


def test_values_read_outside_ops_are_batched_or_refused():
    """Ops whose wrappers read a sample's values (NaN checks, pivots, integer ops) are right for every
    sample, not only the first: NaN only in the second sample, pivots that differ per sample."""
    x = np.array([[1.0, 2.0], [np.nan, np.inf], [-np.inf, 0.0]])
    for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit", "logical_not"):
        e, t = _both(lambda lib, mod, a: mod.vmap(getattr(lib, name))(a), x)
        np.testing.assert_array_equal(e, t, err_msg=name)
    i = np.array([[4, 6], [9, 12], [7, 21]])
    for name in ("gcd", "lcm"):
        e, t = _both(lambda lib, mod, a, b: mod.vmap(getattr(lib, name))(a, b), i, i[::-1].copy())
        np.testing.assert_array_equal(e, t, err_msg=name)
    a = np.stack([np.eye(3)[[2, 0, 1]] + 0.1, np.eye(3) + 0.1, np.eye(3)[[1, 2, 0]] + 0.1])
    e, t = _both(lambda lib, mod, m: mod.vmap(lambda s: lib.linalg.lu(s).P)(m), a)
    np.testing.assert_array_equal(e, t)


@pytest.mark.parametrize("op", [lambda lib, s: s.argmax(), lambda lib, s: lib.sort(s).values,
                                lambda lib, s: s.max(0).indices, lambda lib, s: lib.searchsorted(s.sort().values, s),
                                lambda lib, s: s.topk(2, largest=False).indices.sum() + s.gather(0, s.argsort())])
def test_ops_without_a_rule_loop_over_the_samples_as_torch(op):
    x = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0], [7.0, 7.5, -1.0]])
    e, t = _both(lambda lib, mod, a: mod.vmap(lambda s: op(lib, s))(a), x)
    np.testing.assert_array_equal(e, t)


def test_per_sample_gradients_through_a_looped_op_as_torch():
    x = np.random.default_rng(1).standard_normal((4, 5))

    def f(lib, mod, a):
        return mod.vmap(mod.grad(lambda s: (s.sort().values * lib.arange(5.0, dtype=lib.float64)).sum()
                                 + s.max() ** 2))(a)
    e, t = _both(f, x)
    np.testing.assert_allclose(e, t, rtol=1e-12)


@pytest.mark.parametrize("op", [lambda s: s.nonzero(), lambda s: s.unique_consecutive()])
def test_data_dependent_shapes_refuse(op):
    x = ember.tensor(np.array([[3.0, 0.0, 2.0], [0.0, 5.0, 4.0]]))
    with pytest.raises(RuntimeError, match="vmap"):
        efunc.vmap(op)(x)


def test_in_place_ops_write_every_sample_as_torch():
    x, y = np.arange(6.0).reshape(2, 3), np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])

    def f(lib, mod, a, b):
        def g(s, t):
            s = s.clone()
            s.add_(t)
            s.mul_(2)
            s[0] = t[1]
            return s
        return mod.vmap(g)(a, b)
    e, t = _both(f, x, y)
    np.testing.assert_array_equal(e, t)
    with pytest.raises(RuntimeError, match="vmap: add_"):  # self unbatched, other batched: as torch, refused
        efunc.vmap(lambda s: ember.zeros(3).add_(s))(ember.tensor(x))


def test_randomness_different_same_and_error_as_torch():
    """'different' draws for each sample, 'same' one draw for the batch, 'error' refuses (torch's rules)."""
    x = np.ones((500, 4))
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        lib.manual_seed(0)
        diff = _np(mod.vmap(lambda s: s * lib.rand(4), randomness="different")(lib.tensor(x)))
        same = _np(mod.vmap(lambda s: s * lib.rand(4), randomness="same")(lib.tensor(x)))
        assert len({tuple(r) for r in diff}) == 500 and len({tuple(r) for r in same}) == 1
        assert abs(diff.mean() - 0.5) < 0.03 and abs(diff.std() - 12 ** -0.5) < 0.02  # uniform on [0, 1)
        with pytest.raises(RuntimeError, match="randomness"):
            mod.vmap(lambda s: s * lib.randn(4))(lib.tensor(x))
        # nested: 'different' inside 'same' varies along the inner batch only
        nested = _np(mod.vmap(mod.vmap(lambda s: s + lib.randn(()), randomness="different"),
                              randomness="same")(lib.zeros(3, 5)))
        assert (nested == nested[0]).all() and len(set(nested[0])) == 5


def test_per_sample_dropout_gradients_follow_each_samples_mask():
    x = ember.tensor(np.random.default_rng(0).uniform(1, 2, (64, 10)))
    out = efunc.vmap(lambda s: ember.nn.functional.dropout(s, 0.3), randomness="different")(x)
    kept = _np(out) != 0
    assert 0.6 < kept.mean() < 0.8 and len({tuple(r) for r in kept}) > 50
    np.testing.assert_allclose(_np(out)[kept], _np(x)[kept] / 0.7, rtol=1e-12)
    ember.manual_seed(3)
    g = efunc.vmap(efunc.grad(lambda s: ember.nn.functional.dropout(s, 0.3).sum()), randomness="different")(x)
    ember.manual_seed(3)
    again = efunc.vmap(lambda s: ember.nn.functional.dropout(s, 0.3), randomness="different")(x)
    np.testing.assert_allclose(_np(g), _np(again) / _np(x), rtol=1e-12)  # d(mask * s)/ds = mask


def _square_times(lib, kind):
    class SquareTimes(lib.autograd.Function):
        @staticmethod
        def forward(x, k):
            return x * x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 2 * x * ctx.k, None
    if kind == "generate":
        SquareTimes.generate_vmap_rule = True
    elif kind == "rule":
        SquareTimes.vmap = staticmethod(lambda info, in_dims, x, k: (SquareTimes.apply(x, k) + info.batch_size * 0,
                                                                     in_dims[0]))
    return SquareTimes


@pytest.mark.parametrize("kind", ["generate", "rule"])
def test_custom_functions_under_vmap_and_per_sample_grad_as_torch(kind):
    x = np.random.default_rng(0).standard_normal((4, 3))
    e, t = _both(lambda lib, mod, a: mod.vmap(mod.grad(lambda s: _square_times(lib, kind).apply(s, 3.0).sum()))(a), x)
    np.testing.assert_allclose(e, t, rtol=1e-12)
    np.testing.assert_allclose(e, 6 * x, rtol=1e-12)


def test_custom_function_without_vmap_support_refused_as_torch():
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        with pytest.raises(RuntimeError, match="does not have vmap support"):
            mod.vmap(_square_times(lib, None).apply, in_dims=(0, None))(lib.ones(2, 3), 2.0)


def test_per_sample_gradients_of_several_rows_per_sample_and_their_gradient_as_torch():
    """Per-sample gradients of a linear layer when each sample has several rows (the weight's
    gradient sums over them), and the gradient of their squared norm (a gradient penalty)."""
    res = []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        rng = np.random.default_rng(4)
        p = {"w": lib.tensor(rng.standard_normal((3, 4))), "b": lib.tensor(rng.standard_normal(3))}
        x = lib.tensor(rng.standard_normal((5, 2, 4)))

        def loss(p, xi):
            return lib.nn.functional.linear(xi, p["w"], p["b"]).tanh().pow(2).sum()
        per = mod.vmap(mod.grad(loss), in_dims=(None, 0))(p, x)
        penalty = mod.grad(lambda p: mod.vmap(mod.grad(loss), in_dims=(None, 0))(p, x)["w"].pow(2).sum())(p)
        res.append([per["w"], per["b"], penalty["w"], penalty["b"]])
    for e, t in zip(*res):
        np.testing.assert_allclose(_np(e), _np(t), rtol=1e-10, atol=1e-12)


def test_an_op_batches_by_the_kind_it_declares():
    """A new op batches from its own definition (``batching``), without a loop: its values equal a
    loop over the samples, and per-sample gradients through its backward are the derivative 3 x^2."""
    import warnings
    from ember.autograd.function import Op

    class Cube(Op):
        batching = "elementwise"

        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x * x

    class CumMax(Op):  # declares a dim-taking kind: the dim shifts past the batch dim
        batching = "dims"

        @staticmethod
        def forward(x, dim):
            return np.maximum.accumulate(x, axis=dim)

    x = ember.tensor(np.random.default_rng(5).standard_normal((4, 3, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a loop fallback would warn
        cubes = efunc.vmap(Cube.apply)(x)
        grads = efunc.vmap(efunc.grad(lambda r: Cube.apply(r).sum()))(x)
        running = efunc.vmap(lambda r: CumMax.apply(r, 0))(x)
    np.testing.assert_allclose(_np(cubes), _np(x) ** 3, rtol=1e-15)
    np.testing.assert_allclose(_np(grads), 3 * _np(x) ** 2, rtol=1e-15)
    np.testing.assert_allclose(_np(running), np.stack([np.maximum.accumulate(s, axis=0) for s in _np(x)]))


def test_declared_batching_kinds_exist():
    """Every op class that declares ``batching`` names a kind vmap knows (a typo would break vmap)."""
    from ember.autograd.function import Op
    from ember.func import _vmap

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    declared = {c: c.batching for c in subclasses(Op) if getattr(c, "batching", None) is not None}
    assert len(declared) >= 15
    assert all(kind in _vmap.KINDS for kind in declared.values()), declared
