"""ember.autograd.forward_ad against torch.autograd.forward_ad (and finite differences)."""
import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfw

import ember
import ember.autograd.forward_ad as efw

from .cases import CASES, inputs


def _tangent(lib, fw, fn, shapes):
    primals, tangents = inputs(lib, shapes, 0), inputs(lib, shapes, 1)
    with fw.dual_level():
        out = fn(lib, *[fw.make_dual(p, t) for p, t in zip(primals, tangents)])
        primal, tangent = fw.unpack_dual(out)
        return primal.detach().numpy(), tangent.detach().numpy()


@pytest.mark.parametrize("name", sorted(CASES))
def test_tangents_match_torch(name):
    fn, shapes = CASES[name]
    pe, te = _tangent(ember, efw, fn, shapes)
    pt, tt = _tangent(torch, tfw, fn, shapes)
    np.testing.assert_allclose(pe, pt, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(te, tt, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["elementwise", "conv", "norms"])
def test_tangents_match_finite_differences(name):
    fn, shapes = CASES[name]
    primals, tangents = inputs(ember, shapes, 0), inputs(ember, shapes, 1)
    eps = 1e-6
    with ember.no_grad():
        hi = fn(ember, *[p + eps * t for p, t in zip(primals, tangents)]).numpy()
        lo = fn(ember, *[p - eps * t for p, t in zip(primals, tangents)]).numpy()
    np.testing.assert_allclose(_tangent(ember, efw, fn, shapes)[1], (hi - lo) / (2 * eps), rtol=1e-6, atol=1e-6)


def test_errors_as_torch():
    for lib, fw in ((ember, efw), (torch, tfw)):
        x = lib.ones(3, dtype=lib.float64)
        with pytest.raises(RuntimeError, match="no level exists"):
            fw.make_dual(x, x)
        with fw.dual_level():
            with pytest.raises(RuntimeError, match="different size"):
                fw.make_dual(x, lib.ones(4, dtype=lib.float64))
            with pytest.raises(ValueError, match="floating point"):
                fw.make_dual(lib.arange(3), lib.arange(3))
            with pytest.raises(RuntimeError, match="Nested forward mode AD"):
                fw.enter_dual_level()


def test_tangents_vanish_with_their_level_and_ignore_no_grad():
    x, t = ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0])
    with efw.dual_level():
        d = efw.make_dual(x, t)
        assert d._base is x
        with ember.no_grad():  # as in torch, no_grad does not stop forward AD
            y = d.exp()
        np.testing.assert_allclose(efw.unpack_dual(y).tangent.numpy(), (x.exp() * t).numpy(), rtol=1e-6)
        assert efw.unpack_dual(x).tangent is None
    assert efw.unpack_dual(y).tangent is None and efw.unpack_dual(d).tangent is None
    assert type(efw.unpack_dual(y)).__name__ == "UnpackedDualTensor"


class _Cube:
    """A user Function with forward, backward and jvp, written once for either library."""

    @staticmethod
    def make(lib):
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                ctx.save_for_forward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return 3 * x ** 2 * g

            @staticmethod
            def jvp(ctx, t):
                x, = ctx.saved_tensors
                return 3 * x ** 2 * t
        return Cube


def test_user_function_jvp():
    results = []
    for lib, fw in ((ember, efw), (torch, tfw)):
        cube = _Cube.make(lib)
        x, t = inputs(lib, [(3,)], 0)[0], inputs(lib, [(3,)], 1)[0]
        with fw.dual_level():
            results.append(fw.unpack_dual(cube.apply(fw.make_dual(x, t)).sin()).tangent.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_user_function_without_jvp_raises_as_torch():
    for lib, fw in ((ember, efw), (torch, tfw)):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * x

            @staticmethod
            def backward(ctx, g):
                return g
        with fw.dual_level():
            with pytest.raises(NotImplementedError, match="jvp"):
                Square.apply(fw.make_dual(lib.ones(2, dtype=lib.float64), lib.ones(2, dtype=lib.float64)))


def test_reverse_over_forward():
    """Backward through a tangent: d/dx of sum(J(x) t) (a Hessian-vector product) as in torch."""
    grads = []
    for lib, fw in ((ember, efw), (torch, tfw)):
        x, t = inputs(lib, [(4,)], 0)[0].requires_grad_(), inputs(lib, [(4,)], 1)[0]
        with fw.dual_level():
            y = (fw.make_dual(x, t).sin() * x.exp()).sum()
            fw.unpack_dual(y).tangent.backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_forward_over_reverse():
    """The tangent of a gradient (computed with create_graph=True inside the dual level)."""
    results = []
    for lib, fw in ((ember, efw), (torch, tfw)):
        x, t = inputs(lib, [(2, 3)], 0)[0], inputs(lib, [(2, 3)], 1)[0]
        w = inputs(lib, [(3, 3)], 2)[0]
        with fw.dual_level():
            d = fw.make_dual(x.requires_grad_(), t)
            loss = lib.nn.functional.conv1d(lib.tanh(d @ w).unsqueeze(1), w[:1].reshape(1, 1, 3), padding=1).pow(2).sum()
            g, = lib.autograd.grad(loss, d, create_graph=True)
            results.append(fw.unpack_dual(g).tangent.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-12)


# Ops whose tangent from torch 2.13 differs from central differences, where ember's agrees with them
# (checked below): torch's ldexp with an integer exponent, cholesky_inverse. (triangular_solve's differs too,
# where A is not triangular: torch's tangent takes dA whole, and ember's follows torch's, as op_db checks.)
TORCH_DIFFERS = {"cholesky_inverse", "cholesky_inverse_upper", "ldexp"}


def test_tangents_over_the_op_table_match_torch():
    """Every differentiable op of the specification table for which torch has forward AD gives
    torch's tangent (float64, 1e-7), except the listed ones, kept exact."""
    import warnings
    from . import forward_ad_db
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {spec.name: forward_ad_db.check(spec) for spec in forward_ad_db.OP_DB}
    bad = {name for name, r in results.items() if r not in ("ok", "skip")}
    assert bad == TORCH_DIFFERS, {n: results[n] for n in bad ^ TORCH_DIFFERS}
    specs = {spec.name: spec for spec in forward_ad_db.OP_DB}
    assert all(forward_ad_db.matches_finite_differences(specs[n]) for n in TORCH_DIFFERS)
    assert sum(r == "ok" for r in results.values()) >= 390


def test_quantile_is_differentiable_in_q_as_torch():
    """torch's linear quantile is differentiable in q too (backward and forward); NaN rows give 0."""
    x = np.random.default_rng(0).standard_normal((3, 6))
    x[1, 2] = np.nan
    q = np.array([0.1, 0.5, 0.77])
    res = []
    for lib in (ember, torch):
        for fn in ("quantile", "nanquantile"):
            xt = lib.tensor(x, requires_grad=True)
            qt = lib.tensor(q, requires_grad=True)
            getattr(xt, fn)(qt, dim=1).sum().backward()
            res += [xt.grad.numpy(), qt.grad.numpy()]
    for e, t in zip(res[:4], res[4:]):
        np.testing.assert_allclose(e, t, rtol=1e-12, equal_nan=True)
