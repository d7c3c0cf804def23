"""Differential audit: in-place ops of every kind (metadata, indexing, multi-output, copy_) on views and
non-leaves, then backward, under torch and ember."""
import numpy as np
import pytest
import torch

import ember
from tests.autograd._audit import compare, leaf as _leaf

_R = np.random.default_rng(2)
X34 = _R.standard_normal((3, 4))
X6 = _R.standard_normal(6)
W34 = _R.standard_normal((3, 4))
X234 = _R.standard_normal((2, 3, 4))


def multi_view_outputs_written(lib, rec):
    x = _leaf(lib, X34)
    a = x * 1
    rec.raises(lambda: a.unbind(1)[0].mul_(2))
    rec.raises(lambda: a.split(2)[1].add_(1))
    rec.raises(lambda: a.chunk(2, 1)[0].zero_())
    with lib.no_grad():
        a.unbind(0)[1].mul_(2)
    rec(a)
    p = x.detach().clone().unbind(0)[0]
    p.mul_(3)
    rec(p)


def detach_inplace_on_view(lib, rec):
    x = _leaf(lib, X34)
    a = x * 1
    v = a[1:]
    rec.raises(lambda: v.detach_())
    b = x * 2
    b.detach_()
    rec(b)
    rec.raises(lambda: x.detach_() if False else x.detach().requires_grad_())
    d = x.data
    d.add_(1)
    rec(x), rec(d)


def metadata_inplace(lib, rec):
    x = _leaf(lib, X34)
    a = x * 1
    a.t_()
    rec(a)
    a.unsqueeze_(0)
    a.squeeze_(0)
    a.transpose_(0, 1)
    rec(a)
    (a * lib.tensor(W34)).sum().backward()
    rec(x)
    v = (x * 1)[1:]
    rec.raises(lambda: v.t_())
    rec.raises(lambda: x.t_())


def indexing_inplace_on_views(lib, rec):
    x = _leaf(lib, X34)
    y = _leaf(lib, X6)
    a = x * 1
    t = a.t()
    t.index_put_((lib.tensor([0, 2]), lib.tensor([1, 2])), y[:2])
    t[1:].masked_fill_(t[1:] > 0.5, 0.0)
    a[:, 1].scatter_(0, lib.tensor([2, 0]), y[2:4])
    a.narrow(1, 2, 2).index_fill_(0, lib.tensor([1]), -1.0)
    a[2].index_add_(0, lib.tensor([0, 3]), y[4:])
    rec(a)
    (a * lib.tensor(W34)).sum().backward()
    rec(x), rec(y)


def copy_into_views(lib, rec):
    y = _leaf(lib, X6)
    a = lib.zeros(3, 4, dtype=lib.float64)
    a[1].copy_(y[:4])
    a.t()[3, ::2].copy_(y[4:] * 2)
    a[0, 1:3] = y[1:3].exp()
    rec(a)
    (a * lib.tensor(W34)).sum().backward()
    rec(y)
    b = lib.zeros(6, dtype=lib.float32)
    b.copy_(y)  # dtype cast inside copy_: gradient comes back as float64
    rec(b)
    b.sum().backward()
    rec(y)


def zero_view_and_saved_output(lib, rec):
    x = _leaf(lib, X34)
    a = x.sigmoid()
    b = a[1:].exp()  # saves its output
    a[:, 0].zero_()
    rec(a), rec(b)
    (b.sum() + (a * a).sum()).backward()
    rec(x)
    c = (x * 1).sigmoid_()
    rec(c)
    c.sum().backward()
    rec(x)
    d = x * 1
    d.tanh_()
    e = d.sum()
    d.add_(0)
    rec.raises(lambda: e.backward())


def max_values_written(lib, rec):
    x = _leaf(lib, X34)
    vals, idx = (x * 1).max(1)
    rec(vals), rec(idx)
    vals.mul_(2)
    vals.sum().backward()
    rec(x)
    s, i = (x * 1).sort(1)
    e = s.exp()
    s.add_(1)
    rec.raises(lambda: e.sum().backward())
    s2, _ = x.sort(0)
    s2[0].mul_(3)
    s2.sum().backward()
    rec(x)


def retain_graph_then_modify_saved(lib, rec):
    x = _leaf(lib, X6)
    a = x * 1
    y = (a * a).sum()
    y.backward(retain_graph=True)
    rec(x)
    a.add_(1)
    rec.raises(lambda: y.backward())
    rec(x)


def backward_inputs_and_grad_dtype(lib, rec):
    x, w = _leaf(lib, X6), _leaf(lib, X6[::-1].copy())
    y = (x * w).exp()
    y.backward(lib.ones(6, dtype=lib.float32), inputs=[w], retain_graph=True)
    rec(x), rec(w)
    rec.raises(lambda: y.backward(lib.ones(6, dtype=lib.int64), inputs=[x]))
    v = x[2:]
    z = (v * 2).sum()
    rec.raises(lambda: z.backward(inputs=[v]))
    rec(x)
    rec.raises(lambda: lib.autograd.backward([y.sum()], inputs=[]))


def leaf_views_and_hooks(lib, rec):
    x = _leaf(lib, X34)
    v = x[1]
    v.register_hook(lambda g: rec.val(("v", g)) or g * 10)
    x.register_hook(lambda g: rec.val(("x", g)))
    (v * v).sum().backward()
    rec(x)
    rec.val((v.is_leaf, v.requires_grad, v.grad_fn is None))
    rec.raises(lambda: v.requires_grad_(False))
    rec.raises(lambda: v.retain_grad())


def grad_requires_grad_accumulation(lib, rec):
    x = _leaf(lib, X6)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    rec.val((g.requires_grad, g.is_leaf))
    (x * 2).sum().backward()
    rec.val((x.grad is g, x.grad.requires_grad))
    rec(x)
    x.grad.sum().backward()
    rec(x)


def grad_mode_functions(lib, rec):
    x = _leaf(lib, X6)
    lib.set_grad_enabled(False)
    rec(x * 2)
    lib.set_grad_enabled(True)
    rec(x * 2)

    @lib.no_grad()
    def gen():
        yield x * 2
        yield x * 3

    rec.val([t.requires_grad for t in gen()])
    with lib.inference_mode():
        rec.val(lib.is_grad_enabled())
        with lib.enable_grad():
            rec.val(lib.is_grad_enabled())

    @lib.inference_mode()
    def f(t):
        return t * 2

    o = f(x)
    rec.val((o.requires_grad, o.is_inference()))
    with lib.no_grad():
        o2 = x.detach() * 2
    rec.val(o2.is_inference())


def complex_leaf_and_views(lib, rec):
    z = lib.tensor(X6[:3] + 1j * X6[3:], requires_grad=True)
    a = z * (1 + 2j)
    a.imag.mul_(3)
    a.conj().mul_(2) if False else None
    r = lib.view_as_real(a)
    r[:, 0].add_(1)
    rec(a)
    (a.abs() ** 2).sum().backward()
    rec(z)


def as_strided_overlap(lib, rec):
    x = _leaf(lib, X6)
    a = x * 1
    o = a.as_strided((3, 3), (1, 1))
    rec(o)
    (o * lib.tensor(W34[:, :3])).sum().backward()
    rec(x)
    y = x[1:].as_strided((2, 2), (2, 1), 1)
    (y ** 2).sum().backward()
    rec(x)


def more_views_written(lib, rec):
    x = _leaf(lib, X234)
    a = x * 1
    a.movedim(0, 2)[1].mul_(2)
    a.permute(2, 0, 1)[::2, 1].add_(1)
    a.mT[..., 0].exp_()
    a.swapaxes(0, 1).squeeze()[2, 1:].sub_(3)
    a.unsqueeze(1).flatten(2)[0, 0, 5:7].div_(4)
    rec(a)
    (a * lib.tensor(X234[::-1].copy())).sum().backward()
    rec(x)


def overlapping_inplace(lib, rec):
    x = _leaf(lib, X6)
    a = x * 1
    rec.raises(lambda: a[1:].add_(a[:-1]))
    rec(a)
    b = x.detach().clone()
    rec.raises(lambda: b[1:].copy_(b[:-1]))
    rec(b)
    u = x.detach().clone().unfold(0, 3, 1)
    rec.raises(lambda: u.mul_(2))


def index_duplicates(lib, rec):
    x = _leaf(lib, X6)
    y = _leaf(lib, X6[:3])
    a = x * 1
    idx = lib.tensor([1, 1, 4])
    a[idx] += y
    rec(a)
    a.index_put_((lib.tensor([0, 0]),), y[:2] * 3, accumulate=True)
    rec(a)
    (a * lib.tensor(X6)).sum().backward()
    rec(x), rec(y)


def masked_scatter_put(lib, rec):
    x = _leaf(lib, X34)
    y = _leaf(lib, X6)
    a = x * 1
    a.t()[1:3].masked_scatter_(a.t()[1:3] > 0, y)
    a.view(-1).put_(lib.tensor([0, 11]), y[:2] * 2)
    a[:, 1:].index_copy_(1, lib.tensor([2, 0]), y[:6].view(3, 2))
    rec(a)
    (a ** 2).sum().backward()
    rec(x), rec(y)


def dtype_inplace_errors(lib, rec):
    i = lib.arange(4)
    rec.raises(lambda: i.add_(1.5))
    rec.raises(lambda: i.mul_(lib.tensor([1.0])))
    rec(i)
    f = lib.zeros(3, 1, dtype=lib.float64)
    rec.raises(lambda: f.add_(lib.ones(3, 4, dtype=lib.float64)))
    h = lib.zeros(3, dtype=lib.float32)
    h.add_(lib.ones(3, dtype=lib.float64))
    rec(h)
    rec.raises(lambda: lib.zeros(3, dtype=lib.bool).add_(1))


def requires_grad_view_of_plain(lib, rec):
    a = lib.tensor(X6)
    v = a[1:4]
    v.requires_grad_()
    rec(v)
    w = _leaf(lib, X6[:3])
    a.mul_(2)
    rec(v)
    (v * w).sum().backward()
    rec(v), rec(w)


def views_of_inputs_in_backward_hooks(lib, rec):
    x = _leaf(lib, X6)
    y = x * 2
    def hook(g):
        g[0] = 100.0  # writing into the incoming gradient
    y.register_hook(hook)
    (y * 3).sum().backward()
    rec(x)


def enable_grad_inside_inference_mode(lib, rec):
    x = _leaf(lib, X6)
    y = (x * x).sum()
    with lib.inference_mode(), lib.enable_grad():  # grad mode on, but nothing records
        rec.val(lib.is_grad_enabled())
        z = x * 2
        rec(z), rec.val(z.is_inference())
        rec.raises(lambda: (x * 2).sum().backward())
        with lib.set_grad_enabled(True):
            rec.val((x * 2).requires_grad)
        with lib.inference_mode(False):
            rec.val(((x * 2).requires_grad, lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
    with lib.no_grad(), lib.inference_mode(False):
        rec.val(((x * 2).requires_grad, lib.is_grad_enabled()))
    with lib.inference_mode():  # backward inside: grad mode is create_graph's, results are inference tensors
        seen = []
        x.register_hook(lambda g: seen.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled())))
        g, = lib.autograd.grad(y, x, create_graph=True, retain_graph=True)
        rec(g), rec.val(g.is_inference())
        y.backward()
        rec(x), rec.val((x.grad.is_inference(), seen))


PROGRAMS = [multi_view_outputs_written, detach_inplace_on_view, metadata_inplace, indexing_inplace_on_views,
            copy_into_views, zero_view_and_saved_output, max_values_written, retain_graph_then_modify_saved,
            backward_inputs_and_grad_dtype, leaf_views_and_hooks, grad_requires_grad_accumulation,
            grad_mode_functions, complex_leaf_and_views, as_strided_overlap, more_views_written, overlapping_inplace,
            index_duplicates, masked_scatter_put, dtype_inplace_errors, requires_grad_view_of_plain,
            views_of_inputs_in_backward_hooks, enable_grad_inside_inference_mode]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)


def test_audit(program):
    compare(program, torch, ember)

