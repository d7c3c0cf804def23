"""native_layer_norm, native_group_norm and the native batch norms: (output, statistics) against torch 2.13.0."""
import numpy as np
import pytest
import torch

import ember
from conftest import assert_close
from torch_compare import compare

A = torch.ops.aten


@pytest.mark.parametrize("shape, norm, affine", [((2, 3, 4), (4,), True), ((2, 3, 4), (3, 4), False),
                                                 ((5, 6), (6,), True)])
def test_native_layer_norm_vs_torch(rng, shape, norm, affine):
    arrays = [rng.standard_normal(shape)] + ([rng.standard_normal(norm), rng.standard_normal(norm)] if affine else [])
    call = lambda lib: lambda x, *wb: lib.native_layer_norm(x, norm, *(wb or (None, None)), 1e-3)  # noqa: E731
    eo, to = compare(call(ember), call(torch), *arrays)
    assert eo[1].requires_grad is to[1].requires_grad is False


def test_native_layer_norm_errors_as_torch():
    x = ember.ones(2, 3)
    with pytest.raises(RuntimeError, match="normalized_shape"):
        ember.native_layer_norm(x, (), None, None, 1e-5)
    with pytest.raises(RuntimeError, match="weight"):
        ember.native_layer_norm(x, (3,), ember.ones(2), None, 1e-5)


@pytest.mark.parametrize("shape, groups", [((2, 6, 3), 2), ((3, 4), 4), ((2, 4, 2, 3), 1)])
def test_native_group_norm_statistics_carry_gradient_as_torch(rng, shape, groups):
    n, c = shape[:2]
    hw = int(np.prod(shape[2:]))
    x, w, b = rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)
    call = lambda lib: lambda *a: lib.native_group_norm(*a, n, c, hw, groups, 1e-5)  # noqa: E731
    compare(call(ember), call(torch), x, w, b)
    # torch differentiates through mean and rstd: back-propagate all three outputs
    gs = [rng.standard_normal(s) for s in ((shape), (n, groups), (n, groups))]
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eg = ember.autograd.grad(call(ember)(ex, None, None), [ex], [ember.tensor(g) for g in gs])[0]
    tg = torch.autograd.grad(call(torch)(tx, None, None), [tx], [torch.tensor(g) for g in gs])[0]
    assert_close(eg, tg, what="gradient through (out, mean, rstd)")


@pytest.mark.parametrize("name", ["native_batch_norm", "_native_batch_norm_legit", "_batch_norm_with_update"])
@pytest.mark.parametrize("training", [True, False])
def test_native_batch_norms_vs_torch(rng, name, training):
    if name == "_batch_norm_with_update" and not training:
        return
    shape = (4, 3, 5)
    x, w, b = rng.standard_normal(shape), rng.standard_normal(3), rng.standard_normal(3)
    stats = {lib: [lib.tensor(np.full(3, 0.5)), lib.tensor(np.full(3, 2.0))]
             for lib in (ember, torch)}

    def call(lib):
        fn = getattr(lib, name) if lib is ember else getattr(A, name)
        flags = (0.3, 1e-5) if name == "_batch_norm_with_update" else (training, 0.3, 1e-5)
        return lambda *a: tuple(fn(*a, *stats[lib], *flags))

    eo, to = compare(call(ember), call(torch), x, w, b)
    assert [tuple(t.shape) for t in eo] == [tuple(t.shape) for t in to]
    assert [e.dtype.name for e in eo] == [str(t.dtype)[6:] for t in to]
    for e, t in zip(stats[ember], stats[torch]):
        assert_close(e, t, what="running statistic")


def test_native_batch_norm_legit_without_running_stats_vs_torch(rng):
    x = rng.standard_normal((3, 2, 4))
    compare(lambda t: ember._native_batch_norm_legit(t, None, None, True, 0.1, 1e-5),
            lambda t: A._native_batch_norm_legit(t, None, None, True, 0.1, 1e-5), x)
