"""ember.func (grad, vjp, jvp, jacrev, jacfwd, hessian, functional_call, ...) against torch.func."""
import numpy as np
import pytest
import torch
import torch.func as tfunc

import ember
import ember.func as efunc
from ember.func._tree import flatten

from .cases import CASES, inputs


def _np(tree):
    return [t.detach().numpy() for t in flatten(tree)[0]]


def _same(e, t, tol=1e-10):
    ev, tv = _np(e), _np(t)
    assert len(ev) == len(tv)
    for a, b in zip(ev, tv):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _both(transform, name, scalar=False, **kw):
    fn, shapes = CASES[name]
    out = []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        f = (lambda *xs: (fn(lib, *xs) ** 2).sum()) if scalar else (lambda *xs: fn(lib, *xs))
        out.append(getattr(mod, transform)(f, **kw)(*inputs(lib, shapes)))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_grad_and_jacobians(name):
    nums = tuple(range(len(CASES[name][1])))
    _same(*_both("grad", name, scalar=True, argnums=nums))
    _same(*_both("jacrev", name, argnums=nums))
    _same(*_both("jacfwd", name, argnums=nums))


@pytest.mark.parametrize("name", ["elementwise", "matmul", "conv", "norms", "softmax", "attention", "rnn_cell"])
def test_hessian(name):
    # torch's own hessian of layer_norm is wrong in its input-weight cross term (finite differences
    # agree with ember there), so each case is differentiated in its first argument only
    _same(*_both("hessian", name, scalar=True, argnums=0))


@pytest.mark.parametrize("name", ["elementwise", "linear", "conv", "attention", "rnn_cell"])
def test_vjp_and_jvp(name):
    fn, shapes = CASES[name]
    results = []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        xs, ts = inputs(lib, shapes, 0), inputs(lib, shapes, 1)
        out, vjp_fn = mod.vjp(lambda *a: fn(lib, *a), *xs)
        cot = inputs(lib, [tuple(out.shape)], 2)[0]
        results.append((out, vjp_fn(cot), mod.jvp(lambda *a: fn(lib, *a), tuple(xs), tuple(ts))))
    _same(results[0], results[1])


def test_grad_and_value_has_aux_and_nesting():
    res = []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64)
        g, (value, aux) = mod.grad_and_value(lambda x: ((x ** 3).sum(), x.cos()), has_aux=True)(x)
        gg = mod.grad(lambda x: mod.grad(lambda y: (y.sin() * y).sum())(x).sum())(x)
        res.append((g, value, aux, gg))
        assert not g.requires_grad and not gg.requires_grad
    _same(res[0], res[1])


def test_linearize():
    res = []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        x, t = inputs(lib, [(3,)], 0)[0], inputs(lib, [(3,)], 1)[0]
        out, jvp_fn = mod.linearize(lambda x: x.sin() * x, x)
        res.append((out, jvp_fn(t)))
    _same(res[0], res[1])


def test_errors_as_torch():
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        x = lib.ones(2)
        with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor"):
            mod.grad(lambda x: x)(x)
        with pytest.raises(RuntimeError, match="Got argnum=1, but only 1 positional inputs"):
            mod.grad(lambda x: x.sum(), argnums=1)(x)
        with pytest.raises(RuntimeError, match="floating point"):
            mod.grad(lambda x: x.sum())(lib.arange(2))


def _mlp(lib, seed=0):
    """The same small MLP in either library (weights from one NumPy generator)."""
    m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)).double()
    rng = np.random.default_rng(seed)
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))
    return m


def test_functional_call_swaps_and_restores():
    outs = []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        m = _mlp(lib)
        before = {k: v.detach().clone() for k, v in m.state_dict().items()}
        params = {k: v * 2 for k, v in m.named_parameters()}
        x = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3))
        out = mod.functional_call(m, params, (x,))
        # gradients with respect to the swapped-in tensors, not the module's own
        g = mod.grad(lambda p: mod.functional_call(m, p, (x,)).pow(2).sum())(params)
        with pytest.raises(RuntimeError, match="Missing key"):
            mod.functional_call(m, {"0.weight": params["0.weight"]}, (x,), strict=True)
        with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
            mod.functional_call(m, ({"0.bias": params["0.bias"]}, {"0.bias": params["0.bias"]}), (x,))
        with pytest.raises(ZeroDivisionError):  # the module's own tensors come back even on error
            mod.functional_call(_Failing.make(lib, m), {"net." + k: v for k, v in params.items()}, (x,))
        for k, v in m.state_dict().items():
            assert (v == before[k]).all()
            assert m.get_parameter(k) is not params[k]
        outs.append((out, g))
    _same(outs[0], outs[1])


class _Failing:
    @staticmethod
    def make(lib, inner):
        """A module whose forward fails after the parameters are swapped in."""
        class Failing(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.net = inner

            def forward(self, x):
                self.net(x)
                return 1 / 0
        return Failing()


def test_functional_call_ties_weights():
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        m = lib.nn.Sequential(lib.nn.Linear(2, 2, bias=False), lib.nn.Linear(2, 2, bias=False))
        m[1].weight = m[0].weight
        w = lib.eye(2) * 3
        out = mod.functional_call(m, {"0.weight": w}, (lib.ones(1, 2),))
        np.testing.assert_allclose(out.detach().numpy(), [[9.0, 9.0]])


def test_stack_module_state():
    res = []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        params, buffers = mod.stack_module_state([_mlp(lib, seed) for seed in range(3)])
        assert sorted(params) == ["0.bias", "0.weight", "2.bias", "2.weight"] and buffers == {}
        assert params["0.weight"].shape == (3, 4, 3) and params["0.weight"].requires_grad
        res.append(params)
    _same(res[0], res[1])
