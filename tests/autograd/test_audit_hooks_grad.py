"""Differential audit: hooks, autograd.grad options, custom Functions and .grad accumulation, torch vs ember."""
import copy

import numpy as np
import pytest
import torch

import ember
from tests.autograd._audit import compare, leaf

_R = np.random.default_rng(1)
X6 = _R.standard_normal(6)
X23 = _R.standard_normal((2, 3))
X34 = _R.standard_normal((3, 4))
W23 = _R.standard_normal((2, 3))


def _leaf(lib, arr=X6):
    return leaf(lib, arr)


def hooks_on_views_and_inplace(lib, rec):
    x = _leaf(lib)
    a = x * 2
    v = a[1:4]
    v.register_hook(lambda g: rec.val(("v", g)))
    a.register_hook(lambda g: rec.val(("a", g)))
    a.mul_(3)
    a.register_hook(lambda g: rec.val(("a2", g)) or g * 2)
    x.register_hook(lambda g: rec.val(("x", g)))
    (a * lib.tensor(X6)).sum().backward()
    rec(x)


def hook_order_and_replace(lib, rec):
    x = _leaf(lib)
    y = x.exp()
    h1 = y.register_hook(lambda g: rec.val(("h1", g)) or g + 1)
    y.register_hook(lambda g: rec.val(("h2", g)))
    y.retain_grad()
    y.register_hook(lambda g: rec.val(("h3", g)) or g * 10)
    z = y.sum() + (y * y).sum()
    h1.remove()
    z.backward()
    rec.val(y.grad)
    rec(x)


def post_accumulate_hook(lib, rec):
    x = _leaf(lib)
    x.register_post_accumulate_grad_hook(lambda t: rec.val(("post", t.grad)))
    x.register_hook(lambda g: rec.val(("pre", g)) or g * 3)
    (x * x).sum().backward()
    (x * 2).sum().backward()
    rec(x)
    a = x * 1
    rec.raises(lambda: a.register_post_accumulate_grad_hook(lambda t: None))


def module_full_backward_hook(lib, rec):
    lin = lib.nn.Linear(3, 2).double()
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(X23))
        lin.bias.fill_(0.5)
    lin.register_full_backward_pre_hook(lambda m, go: rec.val(("pre", go)))
    lin.register_full_backward_hook(lambda m, gi, go: rec.val(("full", gi, go)))
    x = _leaf(lib, X23)
    lin(x).pow(2).sum().backward()
    rec(lin.weight), rec(x)
    x2 = lib.tensor(X23)  # input without grad: grad_input holds None
    lin(x2).sum().backward()


def grad_allow_unused_materialize(lib, rec):
    x, y = _leaf(lib), _leaf(lib, X6[::-1].copy())
    z = (x * 2).sum()
    rec.raises(lambda: lib.autograd.grad(z, [x, y], retain_graph=True))
    g = lib.autograd.grad(z, [x, y], allow_unused=True, retain_graph=True)
    rec.val(g)
    g = lib.autograd.grad(z, [x, y], materialize_grads=True, retain_graph=True)
    rec.val(g)
    rec.raises(lambda: lib.autograd.grad(z, [x, y], allow_unused=False, materialize_grads=True))
    rec(x), rec(y)


def grad_batched(lib, rec):
    x = _leaf(lib)
    y = x.sin() * 2
    eye = lib.eye(6, dtype=lib.float64)
    jac, = lib.autograd.grad(y, x, eye, is_grads_batched=True, retain_graph=True)
    rec.val(jac)
    s = y.sum()
    g3 = lib.ones(3, dtype=lib.float64)
    rec.raises(lambda: lib.autograd.grad(y, x, g3, is_grads_batched=True, retain_graph=True))
    rec.val(lib.autograd.grad(s, x, g3, is_grads_batched=True))


def grad_non_scalar_and_shapes(lib, rec):
    x = _leaf(lib)
    y = x * 3
    rec.raises(lambda: y.backward())
    rec.raises(lambda: y.backward(lib.ones(5, dtype=lib.float64)))
    rec.raises(lambda: lib.autograd.grad(y.sum(), lib.tensor(X6)))
    y.backward(lib.ones(6, dtype=lib.float64))
    rec(x)
    rec.raises(lambda: lib.tensor(X6).sum().backward())


def retain_graph_then_free(lib, rec):
    x = _leaf(lib)
    y = x.exp()
    z = (y * y).sum()
    z.backward(retain_graph=True)
    z.backward()
    rec(x)
    rec.raises(lambda: z.backward())
    w = (x * 2).sum()  # x * 2 saves nothing, so a second backward has nothing freed to trip on


def grad_replaced_and_noncontig(lib, rec):
    x = _leaf(lib, X23)
    (x * 2).sum().backward()
    g = x.grad
    gv = g[0]
    (x * 3).sum().backward()
    rec.val(g is x.grad)
    rec(g), rec(gv)
    x.grad = lib.zeros(3, 2, dtype=lib.float64).t()
    (x * x).sum().backward()
    rec(x.grad)
    rec.val(x.grad.stride())
    x.grad = None
    (x * 1).sum().backward()
    rec(x.grad)
    rec.raises(lambda: setattr(x, "grad", lib.zeros(3, dtype=lib.float64)))
    rec.raises(lambda: setattr(x, "grad", lib.zeros(2, 3, dtype=lib.float32)))


def grad_of_int_view(lib, rec):
    x = _leaf(lib)
    a = x * 1
    b = a * a  # saves a
    iv = a.detach().view(lib.int64)
    iv[0] = 0
    rec(a)
    rec.raises(lambda: b.sum().backward())


class _Scale:
    """A custom Function factory: the same class body for both libraries."""

    @staticmethod
    def make(lib):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.k = k
                ctx.save_for_backward(x)
                ctx.mark_dirty(x)
                return x.mul_(k)

            @staticmethod
            def backward(ctx, g):
                return g * ctx.k, None

        class SortLike(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x * 2
                idx = lib.arange(x.numel())
                ctx.mark_non_differentiable(idx)
                ctx.save_for_backward(y)
                return y, idx

            @staticmethod
            def backward(ctx, gy, gi):
                y, = ctx.saved_tensors
                rec_gi.append(gi)
                return gy * 2 + y * 0

        class NoMat(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x.clone(), x.clone()

            @staticmethod
            def backward(ctx, g1, g2):
                rec_gi.append((g1 is None, g2 is None))
                return g1 if g2 is None else g1 + g2

        class ViewOut(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.view(-1)[:3]

            @staticmethod
            def backward(ctx, g):
                out = lib.zeros(6, dtype=g.dtype)
                out[:3] = g
                return out

        class Once(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            @lib.autograd.function.once_differentiable
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return g * 3 * x * x

        class Ident(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, *rest):
                ctx.mark_non_differentiable(*rest)
                return (x, *rest) if rest else x

            @staticmethod
            def backward(ctx, g, *rest):
                return (g, *[None for _ in rest])

        rec_gi = []
        return Scale, SortLike, NoMat, ViewOut, Once, Ident, rec_gi


def custom_functions(lib, rec):
    Scale, SortLike, NoMat, ViewOut, Once, Ident, seen = _Scale.make(lib)
    x = _leaf(lib)
    a = x * 1
    out = Scale.apply(a, 3.0)
    rec.val(out is a)
    rec(a)
    (a * a).sum().backward()
    rec(x)
    rec.raises(lambda: Scale.apply(_leaf(lib), 2.0))
    x.grad = None
    y, idx = SortLike.apply(x)
    rec(y), rec(idx)
    y.sum().backward()
    rec.val(seen.pop())
    rec(x)
    x.grad = None
    p, q = NoMat.apply(x)
    p.sum().backward()
    rec.val(seen.pop())
    rec(x)
    x.grad = None
    v = ViewOut.apply(x * 1)
    rec(v)
    rec.raises(lambda: v.mul_(2))
    (v * 2).sum().backward()
    rec(x)
    x.grad = None
    o = Once.apply(x)
    g, = lib.autograd.grad(o.sum(), x, create_graph=True)
    rec(g)
    rec.raises(lambda: g.sum().backward())
    v = _leaf(lib, X6[::-1].copy())
    o = Once.apply(x)
    g, = lib.autograd.grad(o, x, v, create_graph=True)  # the grad_output requires grad: g does too
    rec(g)
    rec.raises(lambda: g.sum().backward())
    a = x * 1
    same = Ident.apply(a)
    rec(same), rec.val(same._base is a)
    rec.raises(lambda: same.add_(1))
    with lib.no_grad():
        same.add_(1)
    rec(a)
    p, q = Ident.apply(x * 1, x * 2)  # an input returned as-is and marked non-differentiable
    rec(p), rec(q)


def function_saves_output_then_modified(lib, rec):
    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return g * y

    x = _leaf(lib)
    y = Exp.apply(x)
    y.sum().backward(retain_graph=True)
    rec(x)
    y.add_(1)
    rec(y)
    rec.raises(lambda: y.sum().backward())


def int_bool_requires_grad(lib, rec):
    x = _leaf(lib)
    i = (x * 3).long()
    rec(i)
    rec(x.round())
    rec((x > 0).float())
    rec(lib.where(x > 0, x, 0.0))
    rec(x.argsort()), rec(x.floor_divide(2))
    rec(x.sign()), rec(x.trunc())


def grad_wrt_views(lib, rec):
    x = _leaf(lib, X34)
    a = x * 1
    v = a[1]
    y = (v.exp() * 2).sum() + a.sum()
    rec.val(lib.autograd.grad(y, [v, a], retain_graph=True))
    rec.val(lib.autograd.grad(y, [x[0]], allow_unused=True))


def zero_grad_identity(lib, rec):
    p = lib.nn.Parameter(lib.tensor(X6))
    opt = lib.optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    g = p.grad
    v0 = g._version
    opt.zero_grad(set_to_none=False)
    rec.val((p.grad is g, g._version - v0))
    rec.val(g)
    m = lib.nn.Linear(2, 2)
    m(lib.ones(1, 2)).sum().backward()
    g = m.weight.grad
    v0 = g._version
    m.zero_grad(set_to_none=False)
    rec.val((m.weight.grad is g, g._version - v0))


def unbind_1d_pieces(lib, rec):
    x = _leaf(lib, X6)
    a = x * 1
    p = a.unbind()
    with lib.no_grad():
        p[2].fill_(5.0)
    rec(a)
    q = (x * 1).unbind()
    rec.raises(lambda: q[1].mul_(2))
    b = x.detach().clone()
    for t in b.unbind():
        t.mul_(2)
    rec(b)


def expand_base_written(lib, rec):
    x = _leaf(lib, X6[:3])
    a = x * 1
    e = a.expand(2, 3)
    a.mul_(2)
    rec(e)
    (e * lib.tensor(X34[:2, :3])).sum().backward()
    rec(x)


def node_hooks(lib, rec):
    x = _leaf(lib, X6)
    y = x.exp()
    z = y * 2
    z.grad_fn.register_prehook(lambda go: rec.val(("pre", go)))
    z.grad_fn.register_hook(lambda gi, go: rec.val(("post", gi, go)))
    y.grad_fn.register_hook(lambda gi, go: (gi[0] * 0,))
    z.sum().backward()
    rec(x)
    nexts = [None if n is None else type(n).__name__ for n, _ in z.grad_fn.next_functions]
    rec.val((type(z.grad_fn).__name__, nexts))


def needs_input_grad_and_setup_context(lib, rec):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(x, w):
            return x * w
        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)
        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            rec.val(ctx.needs_input_grad)
            return (g * w if ctx.needs_input_grad[0] else None), (g * x if ctx.needs_input_grad[1] else None)
    x, w = _leaf(lib, X6), lib.tensor(X6[::-1].copy())
    F.apply(x, w).sum().backward()
    rec(x)
    a = x * 1
    o = F.apply(a, w)
    a.add_(1)
    rec.raises(lambda: o.sum().backward())


def data_assignment(lib, rec):
    x = _leaf(lib, X6)
    y = x * x
    x.data = lib.tensor(X6 * 0 + 1)
    rec(x)
    y.sum().backward()
    rec(x)
    rec.raises(lambda: setattr(x, "data", lib.zeros(2, dtype=lib.float64)))
    rec(x)


def clone_of_view_written(lib, rec):
    x = _leaf(lib, X34)
    a = x * 1
    c = a[1].clone()
    c.mul_(2)
    a[1].add_(c)
    rec(a)
    a.sum().backward()
    rec(x)


def _lin(lib):
    lin = lib.nn.Linear(3, 3).double()
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(np.eye(3) + 0.1))
        lin.bias.fill_(-0.2)
    return lin


def full_hook_then_inplace(lib, rec):
    lin = _lin(lib)
    lin.register_full_backward_hook(lambda m, gi, go: rec.val(("hook", gi, go)))
    x = _leaf(lib, X23)
    y = lin(x)
    rec.raises(lambda: lib.nn.functional.relu(y, inplace=True))
    y2 = lin(x)
    z = lib.relu(y2) * lib.tensor(W23)
    z.sum().backward()
    rec(x), rec(lin.weight)


def full_hook_inplace_inside(lib, rec):
    class M(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = _lin(lib)
            self.act = lib.nn.ReLU(inplace=True)
        def forward(self, x):
            return self.act(self.lin(x))
    m = M()
    m.register_full_backward_hook(lambda mod, gi, go: rec.val(("hook", gi, go)))
    m.register_full_backward_pre_hook(lambda mod, go: rec.val(("pre", go)))
    x = _leaf(lib, X23)
    (m(x) * lib.tensor(W23)).sum().backward()
    rec(x), rec(m.lin.weight)


def forward_hook_modifies(lib, rec):
    lin = _lin(lib)
    lin.register_forward_hook(lambda m, i, o: o * 2)
    lin.register_forward_pre_hook(lambda m, i: (i[0] + 1,))
    x = _leaf(lib, X23)
    (lin(x) ** 2).sum().backward()
    rec(x), rec(lin.bias)


def inplace_activations_on_views(lib, rec):
    x = _leaf(lib, X23)
    a = x * 1
    lib.nn.functional.relu_(a[0])
    lib.nn.functional.leaky_relu(a.t()[1], 0.1, inplace=True)
    lib.nn.functional.hardtanh(a[:, 2], -0.3, 0.3, inplace=True)
    lib.nn.functional.elu(a[1, :2], inplace=True)
    rec(a)
    (a * lib.tensor(W23)).sum().backward()
    rec(x)


def checkpoint_with_inplace(lib, rec):
    x = _leaf(lib, X23)
    def f(t):
        u = t * 2
        u.mul_(t)
        return u.sin()
    y = lib.utils.checkpoint.checkpoint(f, x, use_reentrant=False)
    (y * lib.tensor(W23)).sum().backward()
    rec(x)


def sigmoid_inplace_saved(lib, rec):
    x = _leaf(lib, X23)
    a = x * 1
    b = lib.sigmoid(a)
    c = a.sigmoid_()  # a's value changes: b is untouched, but a is now the output of sigmoid_
    rec(b), rec(c)
    d = c * 3
    c.mul_(2)
    rec.raises(lambda: d.sum().backward())
    rec.raises(lambda: (b.sum() + c.sum()).backward())


def full_hook_module_inplace_on_input(lib, rec):
    m = lib.nn.Sequential(lib.nn.ReLU(inplace=True), _lin(lib))
    m.register_full_backward_hook(lambda mod, gi, go: rec.val(("hook", gi, go)))
    x = _leaf(lib, X23)
    rec.raises(lambda: m(x * 1))
    m2 = lib.nn.Sequential(lib.nn.ReLU(inplace=True), _lin(lib))
    y = m2(x * 1)
    m2[1].register_full_backward_hook(lambda mod, gi, go: rec.val(("hook2", gi, go)))
    y = m2(x * 1)
    (y * lib.tensor(W23)).sum().backward()
    rec(x)


def deepcopy_and_clone(lib, rec):
    x = _leaf(lib, X6)
    (x * x).sum().backward()
    y = (x * 2).sum()  # a graph holds x's AccumulateGrad
    x.note = [1]
    c = copy.deepcopy(x)
    rec.val((c.note == [1], c.note is x.note))
    rec.val((c, c.requires_grad, c.is_leaf, c.grad, c.grad is x.grad))  # (torch's copy is at version 1)
    (c * 5).sum().backward()
    rec(x), rec.val(c.grad)
    y.backward()
    rec(x), rec.val(c.grad)
    m = lib.nn.Linear(2, 2)
    out = m(lib.ones(1, 2, dtype=lib.float32)).sum()
    m2 = copy.deepcopy(m)
    m2(lib.ones(1, 2)).sum().backward()
    rec.val((m.weight.grad, m2.weight.grad is not None))
    out.backward()
    rec.val(m.weight.grad is not None)
    a = x * 2
    rec.raises(lambda: copy.deepcopy(a))
    cl = x.clone()
    rec(cl)
    d = x.detach().requires_grad_()
    rec(d)
    d2 = x.detach()
    d2.requires_grad_()
    y = d2 * 3
    with lib.no_grad():
        x.mul_(2)
    rec.raises(lambda: y.sum().backward())
    rec(d2)


def grad_setter_cases(lib, rec):
    x = _leaf(lib, X6)
    g = lib.ones(6, dtype=lib.float64, requires_grad=True)
    x.grad = g
    rec.val(x.grad is g)
    (x * 2).sum().backward()
    rec(x)
    rec.val((x.grad is g, g.requires_grad))
    i = lib.arange(3)
    rec.raises(lambda: setattr(i, "grad", lib.zeros(3)))
    x.grad = None
    a = x * 1
    rec.raises(lambda: setattr(a, "grad", lib.zeros(6, dtype=lib.float64)))
    rec.val(a.grad)


def backward_grad_tensors(lib, rec):
    x = _leaf(lib, X6)
    y1 = (x * 2).sum()
    y2 = x * 3
    lib.autograd.backward([y1, y2], [None, lib.ones(6, dtype=lib.float64)])
    rec(x)
    rec.raises(lambda: lib.autograd.backward([(x * 2).sum(), x * 3], [None, None]))
    lib.autograd.backward((x * 5).sum())
    rec(x)


def hooks_on_leaf_with_inplace_nograd(lib, rec):
    x = _leaf(lib, X6)
    x.register_hook(lambda g: g * 2)
    y = (x * x).sum()
    with lib.no_grad():
        x.add_(1)
    rec.raises(lambda: y.backward())
    (x * 1).sum().backward()
    rec(x)


def clone_and_contiguous_views(lib, rec):
    x = _leaf(lib, X6)
    a = (x * 1).view(2, 3)
    c = a.contiguous()
    rec.val(c is a)
    t = a.t().contiguous()
    t.mul_(2)
    rec(a)
    r = a.reshape(6)
    r.add_(1)
    rec(a)
    f = a.t().reshape(6)
    f.add_(100)
    rec(a)
    (a * lib.tensor(X6).view(2, 3)).sum().backward()
    rec(x)


PROGRAMS = [hooks_on_views_and_inplace, hook_order_and_replace, post_accumulate_hook, module_full_backward_hook,
            grad_allow_unused_materialize, grad_batched, grad_non_scalar_and_shapes, retain_graph_then_free,
            grad_replaced_and_noncontig, grad_of_int_view, custom_functions, function_saves_output_then_modified,
            int_bool_requires_grad, grad_wrt_views, zero_grad_identity, unbind_1d_pieces, expand_base_written,
            node_hooks, needs_input_grad_and_setup_context, data_assignment, clone_of_view_written,
            full_hook_then_inplace, full_hook_inplace_inside, forward_hook_modifies, inplace_activations_on_views,
            checkpoint_with_inplace, sigmoid_inplace_saved, full_hook_module_inplace_on_input, deepcopy_and_clone,
            grad_setter_cases, backward_grad_tensors, hooks_on_leaf_with_inplace_nograd, clone_and_contiguous_views]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)


def test_audit(program):
    compare(program, torch, ember)
