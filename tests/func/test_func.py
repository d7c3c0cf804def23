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
        with pytest.raises(RuntimeError, match="jacfwd: Expected all inputs to be real but received complex "
                                               "tensor at flattened input idx: 1"):
            mod.jacfwd(lambda x, z: x, argnums=(0, 1))(x, lib.ones(1, dtype=lib.complex64))
        with pytest.raises(ValueError, match="Expected primal to be floating point or complex, but got"):
            mod.jacfwd(lambda x, z: x, argnums=(0, 1))(x, lib.arange(2))


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


def _tanh_mlp(lib):
    rng = np.random.default_rng(3)
    m = lib.nn.Sequential(lib.nn.Linear(6, 5), lib.nn.Tanh(), lib.nn.Linear(5, 4)).double()
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))
    return m, lib.tensor(rng.standard_normal(6))


def test_jacrev_of_a_module_in_chunks_and_calls_as_torch():
    """jacrev of an MLP (whose parameters require grad) with and without chunk_size, twice, as
    torch.func's; after the first call it runs the module once per call, as torch's does."""
    res, calls = [], []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        m, x = _tanh_mlp(lib)
        count = [0]
        m.register_forward_hook(lambda *_: count.__setitem__(0, count[0] + 1))
        res.append([mod.jacrev(m)(x), mod.jacrev(m, chunk_size=3)(x), mod.jacrev(m, chunk_size=1)(2 * x)])
        count[0] = 0
        again = mod.jacrev(m)(x)
        calls.append(count[0])
        _same(again, res[-1][0])
        assert again.shape == (4, 6)
    _same(res[0], res[1])
    assert calls == [1, 1]
    for c in (0, -2):
        for mod in (efunc, tfunc):
            with pytest.raises(ValueError, match="chunk_size` should be greater than 0"):
                mod.jacrev(lambda x: x, chunk_size=c)


def test_jacrev_when_the_output_size_changes_between_calls():
    """The same function and input shapes giving outputs of another size from one call to the next
    (a closed-over setting): each Jacobian is still torch's."""
    for k in (3, 5, 2, 5):
        res = []
        for lib, mod, f in ((ember, efunc, e_fn), (torch, tfunc, t_fn)):
            f.k = k
            res.append(mod.jacrev(f)(lib.tensor(np.linspace(-1.0, 1.0, 5))))
        _same(res[0], res[1])


def e_fn(x):
    return (x.sin() * x)[:e_fn.k].cumsum(0)


def t_fn(x):
    return (x.sin() * x)[:t_fn.k].cumsum(0)


def test_jacrev_of_functions_vmap_cannot_batch_and_empty_outputs_as_torch():
    """An op without a batching rule (argsort's indices) or an empty output: one row at a time."""
    for f in (lambda lib, x: x.gather(0, x.argsort()) * x, lambda lib, x: x[:0] * 2):
        res = [mod.jacrev(lambda x: f(lib, x))(lib.tensor([0.3, -1.0, 2.0, 0.5])) for lib, mod in
               ((ember, efunc), (torch, tfunc))]
        assert tuple(res[0].shape) == tuple(res[1].shape)
        _same(res[0], res[1])


def test_results_stay_differentiable_in_closed_over_tensors_as_torch():
    """A function closing over a tensor that requires grad (a parameter): the transforms' results
    depend on it, stay differentiable as torch.func's do, and backward through them reaches it
    (a Jacobian penalty, a gradient penalty); results that do not depend on it are detached."""
    res = []
    for lib, mod in ((ember, efunc), (torch, tfunc)):
        rng = np.random.default_rng(6)
        w = lib.tensor(rng.standard_normal(4), requires_grad=True)
        x = lib.tensor(rng.standard_normal(4))
        f = lambda x: (x * w).sin() * x  # noqa: E731
        jac = mod.jacrev(f)(x)
        g, value = mod.grad_and_value(lambda x: f(x).sum())(x)
        per = mod.vmap(mod.grad(lambda x: f(x).sum()))(x.reshape(2, 2).repeat(1, 2))
        tangent = mod.jvp(f, (x,), (x.cos(),))[1]
        flags = [t.requires_grad for t in (jac, g, value, per, tangent)]
        flags += [mod.jacrev(lambda x: x + w)(x).requires_grad, mod.grad(lambda x: x.sin().sum())(x).requires_grad]
        (jac.pow(2).sum() + g.sum() + value + per.pow(2).sum() + tangent.sum()).backward()
        res.append((jac, g, value, per, tangent, w.grad, flags))
    assert res[0][-1] == res[1][-1] == [True] * 5 + [False, False]
    _same(res[0][:-1], res[1][:-1])
