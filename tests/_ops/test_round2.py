"""Round-2 ops: what the spec table cannot say (errors, named tuples, in-place identity, gradients torch lacks)."""
import math

import numpy as np
import pytest
import torch

import ember


def _pair(a):
    return ember.tensor(a), torch.from_numpy(np.array(a))


def _same_error(fn_e, fn_t):
    with pytest.raises(Exception) as te:
        fn_t()
    with pytest.raises(type(te.value)) as ee:
        fn_e()
    return str(ee.value), str(te.value)


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.quantile(x, 1.5),
    lambda lib, x: lib.quantile(x, 0.5, interpolation="cubic"),
    lambda lib, x: lib.quantile(x.long(), 0.5),
    lambda lib, x: lib.searchsorted(lib.sort(x.flatten()).values, x, right=True, side="left"),
    lambda lib, x: lib.renorm(x[0], 2, 0, 1.0),
    lambda lib, x: lib.cdist(x, x[:, :2]),
    lambda lib, x: lib.linalg.multi_dot([x]),
    lambda lib, x: lib.linalg.solve_triangular(x[:, :3], x[:2], upper=True),
    lambda lib, x: lib.bucketize(x, x),
    lambda lib, x: lib.combinations(x),
    lambda lib, x: lib.block_diag(x.reshape(1, 3, 4)),
])
def test_errors_match_torch(call):
    x = np.random.default_rng(0).standard_normal((3, 4))
    e, t = _pair(x)
    em, tm = _same_error(lambda: call(ember, e), lambda: call(torch, t))
    assert em == tm


def test_vander_gradients_by_finite_differences():
    # torch 2.13's own vander backward fails, so gradcheck is the reference here
    x = ember.tensor([0.0, 0.5, -1.2, 2.0], dtype=ember.float64, requires_grad=True)
    for kw in ({}, {"N": 3}, {"N": 5, "increasing": True}):
        assert ember.autograd.gradcheck(lambda t: ember.vander(t, **kw), (x,))
        assert ember.autograd.gradgradcheck(lambda t: ember.vander(t, **kw), (x,))


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
def test_cdist_double_backward_by_finite_differences(p):
    rng = np.random.default_rng(1)
    a = ember.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = ember.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda u, v: ember.cdist(u, v, p), (a, b))


def test_inplace_products_return_self():
    rng = np.random.default_rng(2)
    c = ember.tensor(rng.standard_normal((3, 5)))
    b1, b2 = ember.tensor(rng.standard_normal((2, 3, 4))), ember.tensor(rng.standard_normal((2, 4, 5)))
    expect = torch.from_numpy(c.numpy().copy()).addbmm_(torch.from_numpy(b1.numpy()), torch.from_numpy(b2.numpy()))
    assert c.addbmm_(b1, b2) is c
    np.testing.assert_allclose(c.numpy(), expect.numpy(), rtol=1e-12)
    x = ember.tensor(rng.standard_normal((3, 4)))
    assert x.renorm_(2, 0, 0.5) is x
    np.testing.assert_allclose(np.linalg.norm(x.numpy(), axis=1), 0.5, rtol=1e-6)


def test_named_tuples():
    x = ember.tensor([[1.0, 2, 2, 3], [0, 0, 4, 4]])
    m = ember.mode(x, 1)
    assert m.values.tolist() == [2.0, 0.0] and m.indices.tolist() == [2, 1]
    h = ember.histogram(ember.tensor([1.0, 2, 1, 4]), 3)
    assert h.hist.tolist() == [2.0, 1.0, 1.0] and h.bin_edges.tolist() == [1.0, 2.0, 3.0, 4.0]
    r = ember.linalg.lstsq(ember.randn(5, 3, dtype=ember.float64), ember.randn(5, 2, dtype=ember.float64))
    assert r._fields == ("solution", "residuals", "rank", "singular_values") and r.rank.item() == 3
    lu = ember.linalg.lu(ember.randn(3, 3))
    assert lu._fields == ("P", "L", "U")
    assert ember.nanmedian(x, 0)._fields == ("values", "indices")


def test_matrix_exp_matches_known_values():
    d = np.diag([0.5, -2.0, 30.0])
    np.testing.assert_allclose(ember.matrix_exp(ember.tensor(d)).numpy(), np.diag(np.exp([0.5, -2.0, 30.0])), rtol=1e-13)
    rot = ember.tensor([[0.0, -math.pi / 3], [math.pi / 3, 0.0]], dtype=ember.float64)
    c, s = math.cos(math.pi / 3), math.sin(math.pi / 3)
    np.testing.assert_allclose(ember.linalg.matrix_exp(rot).numpy(), [[c, -s], [s, c]], atol=1e-14)
    big = np.random.default_rng(3).standard_normal((4, 4)) * 20
    np.testing.assert_allclose(ember.matrix_exp(ember.tensor(big)).numpy(),
                               torch.matrix_exp(torch.from_numpy(big)).numpy(), rtol=1e-9)


def test_logcumsumexp_is_stable():
    x = ember.tensor([1000.0, 1000.0, -1000.0], dtype=ember.float64, requires_grad=True)
    y = ember.logcumsumexp(x, 0)
    np.testing.assert_allclose(y.detach().numpy(), [1000.0, 1000.0 + math.log(2), 1000.0 + math.log(2)])
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_lu_reconstructs_and_deprecated_forms():
    a = np.random.default_rng(4).standard_normal((2, 4, 3))
    P, L, U = ember.linalg.lu(ember.tensor(a))
    np.testing.assert_allclose((P @ L @ U).numpy(), a, atol=1e-12)
    b = ember.tensor(np.random.default_rng(5).standard_normal((3, 2)))
    A = ember.tensor(np.triu(np.random.default_rng(6).standard_normal((3, 3))) + 3 * np.eye(3))
    sol, clone = ember.triangular_solve(b, A)
    np.testing.assert_allclose((A @ sol).numpy(), b.numpy(), atol=1e-12)
    assert clone is not A and np.array_equal(clone.numpy(), A.numpy())
    np.testing.assert_allclose(ember.chain_matmul(A, A, b).numpy(), (A @ A @ b).numpy(), rtol=1e-12)
