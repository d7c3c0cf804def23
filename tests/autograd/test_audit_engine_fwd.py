"""Differential audit: the engine under stress (re-entrant backward in hooks, errors mid-backward, threads,
deep graphs, create_graph hooks) and forward-mode AD and torch.func over in-place writes into views, torch vs
ember."""
import threading

import numpy as np
import pytest
import torch

import ember
from tests.autograd._audit import compare, leaf as _leaf

_R = np.random.default_rng(6)
X6 = _R.standard_normal(6)
T6 = _R.standard_normal(6)
X34 = _R.standard_normal((3, 4))
T34 = _R.standard_normal((3, 4))


def reentrant_in_hook(lib, rec):
    x = _leaf(lib, X6)
    w = _leaf(lib, X6[::-1].copy())
    def hook(g):
        inner = (w * w * g.detach()).sum()
        gw, = lib.autograd.grad(inner, w)
        rec.val(("inner", gw))
        inner2 = (w.exp()).sum()
        inner2.backward()
        return g * 2
    y = x.sin()
    y.register_hook(hook)
    y.sum().backward()
    rec(x), rec(w)


def exception_mid_backward(lib, rec):
    x = _leaf(lib, X6)
    y = x.exp()
    def bad(g):
        raise ValueError("boom")
    h = y.register_hook(bad)
    z = (y * 2).sum()
    rec.raises(lambda: z.backward(retain_graph=True))
    rec.val(lib.is_grad_enabled())
    rec(x)
    h.remove()
    z.backward()
    rec(x)
    with lib.no_grad():
        rec.raises(lambda: z.backward())
    rec.val(lib.is_grad_enabled())


def function_backward_raises_then_ok(lib, rec):
    class F(lib.autograd.Function):
        fail = [True]
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 3
        @staticmethod
        def backward(ctx, g):
            if F.fail[0]:
                F.fail[0] = False
                raise KeyError("once")
            x, = ctx.saved_tensors
            return g * 3 + x * 0
    x = _leaf(lib, X6)
    y = F.apply(x).sum()
    rec.raises(lambda: y.backward(retain_graph=True))
    y.backward()
    rec(x)


def grad_mode_in_threads(lib, rec):
    x = _leaf(lib, X6)
    out = {}
    def work():
        out["enabled"] = lib.is_grad_enabled()
        out["rg"] = (x * 2).requires_grad
    with lib.no_grad():
        t = threading.Thread(target=work)
        t.start()
        t.join(60)
    rec.val((out["enabled"], out["rg"]))


def deep_chain(lib, rec):
    x = _leaf(lib, X6)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    y.sum().backward()
    rec(x)


def create_graph_hooks_and_accum(lib, rec):
    x = _leaf(lib, X6)
    y = (x ** 3).sum()
    g, = lib.autograd.grad(y, x, create_graph=True)
    g.register_hook(lambda t: rec.val(("gh", t)))
    (g ** 2).sum().backward()
    rec(x)


def fwd_ad_inplace_views(lib, rec):
    fa = lib.autograd.forward_ad
    with fa.dual_level():
        x = fa.make_dual(lib.tensor(X34), lib.tensor(T34))
        a = x * 1
        a[1].mul_(2)
        a.t()[0].exp_()
        v = a[:, 1:3]
        a.add_(1)
        rec.val(fa.unpack_dual(a).tangent), rec.val(fa.unpack_dual(v).tangent)
        b = lib.zeros(3, 4, dtype=lib.float64)
        b[0] = x[2]
        rec.val(fa.unpack_dual(b).tangent)


def func_grad_inplace(lib, rec):
    def f(x):
        a = x * 1
        a[1:].mul_(x[:-1])
        a.sin_()
        return a.sum()
    rec.val(lib.func.grad(f)(lib.tensor(X6)))
    rec.val(lib.func.vjp(f, lib.tensor(X6))[1](lib.tensor(1.0, dtype=lib.float64)))
    rec.val(lib.func.jacrev(lambda x: (x * 1).index_add_(0, lib.tensor([0, 0]), x[:2]))(lib.tensor(X6[:3])))


def vmap_inplace(lib, rec):
    def f(x):
        y = x.clone()
        y[0] = y[1] * 2
        y.mul_(3)
        return y
    rec.val(lib.vmap(f)(lib.tensor(X34)))
    rec.raises(lambda: lib.vmap(lambda x, y: x.add_(y), in_dims=(None, 0))(lib.tensor(X6[:4]), lib.tensor(X34)))


def fwd_ad_sibling_views(lib, rec):
    fa = lib.autograd.forward_ad
    with fa.dual_level():
        x = fa.make_dual(lib.tensor(X6[:4]), lib.tensor(T6[:4]))
        a = x * 1
        v = a[1:3]
        a.mul_(3)
        rec.val(fa.unpack_dual(v).tangent), rec.val(fa.unpack_dual(v * 1).tangent)
        w, w2 = a[:2], a[1:]
        w.mul_(10)
        rec.val(fa.unpack_dual(w2).tangent), rec.val(fa.unpack_dual(w2.exp()).tangent)


def forward_over_reverse_views(lib, rec):
    def f(x):
        a = x * 1
        v = a[1:3]
        a.mul_(x)
        return (v * v).sum() + a.sum()
    x = lib.tensor(X6[:4])
    rec.val(lib.func.jvp(lib.func.grad(f), (x,), (lib.tensor(T6[:4]),)))
    rec.val(lib.func.hessian(f)(x))



def func_results_detached(lib, rec):
    x = lib.tensor(X6[:4])
    one = lib.ones(4, dtype=lib.float64)
    rec.val([t.requires_grad for t in lib.func.jvp(lib.func.grad(lambda x: (x ** 3).sum()), (x,), (one,))])
    rec.val(lib.func.hessian(lambda x: (x ** 3).sum())(x).requires_grad)
    w = _leaf(lib, X6[4])
    f = lambda x: (w * x ** 3).sum()  # noqa: E731 - closes over a tensor that requires grad: results keep it
    o, t = lib.func.jvp(lib.func.grad(f), (x,), (one,))
    rec(o), rec(t)
    h = lib.func.hessian(f)(x)
    rec(h)
    h.sum().backward()
    rec(w)


PROGRAMS = [reentrant_in_hook, exception_mid_backward, function_backward_raises_then_ok, grad_mode_in_threads,
            deep_chain, create_graph_hooks_and_accum, fwd_ad_inplace_views, func_grad_inplace, vmap_inplace,
            fwd_ad_sibling_views, forward_over_reverse_views, func_results_detached]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)


def test_audit(program):
    compare(program, torch, ember)
