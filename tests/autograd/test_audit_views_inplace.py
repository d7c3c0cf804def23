"""Differential audit: in-place writes through views of views, then backward, under torch and ember."""
import numpy as np
import pytest
import torch

import ember
from tests.autograd._audit import compare, leaf as _leaf

_R = np.random.default_rng(0)
X34 = _R.standard_normal((3, 4))
X44 = _R.standard_normal((4, 4))
X6 = _R.standard_normal(6)
W34 = _R.standard_normal((3, 4))


def slice_of_transpose(lib, rec):
    x = _leaf(lib, X34)
    a = x * 2
    v = a.t()[1:3]
    v.mul_(3)
    rec(v), rec(a)
    (a * lib.tensor(W34)).sum().backward()
    rec(x)


def diagonal_of_slice(lib, rec):
    x = _leaf(lib, X44)
    a = x.exp()
    d = a[1:].diagonal(offset=-1)
    d.pow_(2)
    rec(d), rec(a)
    a.sum().backward()
    rec(x)


def select_then_unbind(lib, rec):
    x = _leaf(lib, X34)
    a = x.sin()
    r = a.select(1, 2)
    p0, p1, p2 = r.unbind()
    p1.mul_(5)
    rec(p1), rec(r), rec(a)
    (a * a).sum().backward()
    rec(x)


def split_chunk_write(lib, rec):
    x = _leaf(lib, X6)
    a = x * 1
    s = a.split(2)
    c = s[1].chunk(2)
    c[0].add_(10)
    s[2].mul_(s[0])
    rec(a), rec(s[1])
    (a * a).sum().backward()
    rec(x)


def view_reshape_write(lib, rec):
    x = _leaf(lib, X34)
    a = x + 0
    v = a.view(2, 6).reshape(12)[::2]
    v.sub_(1).div_(2)
    rec(v), rec(a)
    (a ** 3).sum().backward()
    rec(x)


def expand_write_raises(lib, rec):
    x = _leaf(lib, X6[:3])
    a = x * 1
    e = a.expand(2, 3)
    rec.raises(lambda: e.add_(1))
    rec(a)


def narrow_of_narrow(lib, rec):
    x = _leaf(lib, X34)
    a = x.clone()
    v = a.narrow(1, 1, 3).narrow(0, 1, 2)
    v.mul_(lib.tensor(W34[:2, :3]))
    rec(v), rec(a)
    a.pow(2).sum().backward()
    rec(x)


def as_strided_write(lib, rec):
    x = _leaf(lib, X6)
    a = x * 1
    v = a.as_strided((2, 2), (3, 1), 1)
    v.mul_(2)
    rec(a)
    (a * lib.tensor(X6)).sum().backward()
    rec(x)


def real_imag_write(lib, rec):
    x = _leaf(lib, X6)
    c = lib.complex(x[:3] * 1, x[3:] * 1)
    c.real.mul_(2)
    c.imag.add_(c.real)
    rec(c.real), rec(c.imag)
    (c * c.conj()).real.sum().backward()
    rec(x)
    w = _leaf(lib, X6[::-1].copy())
    c = lib.complex(x[:3] * 1, x[3:] * 1)
    lib.view_as_real(c)[1:].mul_(w[:4].view(2, 2))
    c.imag[0] = w[5]
    r = x.view(3, 2) * 1
    lib.view_as_complex(r)[::2].mul_(lib.complex(w[:2] * 1, w[2:4] * 1))
    rec(c), rec(r)
    ((c * lib.tensor([1 + 2j, 3j, -1.0])).abs().sum() + (r ** 3).sum()).backward()
    rec(x), rec(w)


def step_negative_ellipsis_none(lib, rec):
    x = _leaf(lib, X44)
    a = x * 1
    v = a[..., ::2][None, 1:, None]
    v.mul_(7)
    rec(v), rec(a)
    w = a.flip(0)[::-1]  # flip copies in both
    rec(w)
    (a * lib.tensor(X44)).sum().backward()
    rec(x)


def setitem_through_view(lib, rec):
    x = _leaf(lib, X34)
    y = _leaf(lib, X6[:2])
    a = x * 1
    t = a.t()
    t[1, ::2] = y
    rec(a), rec(t)
    (a ** 2).sum().backward()
    rec(x), rec(y)


def leaf_inplace_raises(lib, rec):
    x = _leaf(lib, X6)
    rec.raises(lambda: x.add_(1))
    rec.raises(lambda: x[1:].mul_(2))
    rec.raises(lambda: x.t_() if x.dim() < 2 else None)
    with lib.no_grad():
        x[0] = 5.0
    rec(x)
    rec.raises(lambda: x.detach().add_(1))
    rec(x)
    v = x[1:]
    rec.raises(lambda: v.zero_())
    rec(v)


def view_of_leaf_under_no_grad_then_use(lib, rec):
    x = _leaf(lib, X6)
    with lib.no_grad():
        v = x[:3]
    rec(v)  # requires grad, a leaf without an accumulator: its gradient goes nowhere
    (v * 2).sum().backward()
    w = v[1:]
    rec(w), rec(x)
    rec.raises(lambda: v.backward(lib.ones(3, dtype=lib.float64)))
    rec.raises(lambda: lib.autograd.grad((v * 2).sum(), v))
    rec.val(lib.autograd.grad((v * 2).sum(), [x, v], allow_unused=True))
    rec.raises(lambda: v.numpy())
    rec.raises(lambda: v.mul_(2))
    v.register_hook(lambda g: rec.val("hook ran"))
    (v * x[:3]).sum().backward()
    rec(x), rec.val((v.requires_grad_(False).requires_grad, v.retain_grad(), v.retains_grad, v.grad))
    with lib.no_grad():
        v.mul_(2)
        u = (x * 1)[1:4]
    rec.val(v.requires_grad)
    rec.raises(lambda: v.grad_fn)
    rec(x)
    rec.raises(lambda: (v * 2).sum().backward())
    rec(u)
    rec.raises(lambda: u.add_(1))
    with lib.inference_mode():
        iv = x[2:]
    rec.val((iv.requires_grad, iv.is_leaf, iv.is_inference()))


def no_grad_view_written_in_grad_mode(lib, rec):
    x = _leaf(lib, X6)
    a = x * 2
    with lib.no_grad():
        u = a[1:3]
        w = x[:2]
    rec.raises(lambda: u.mul_(3))
    rec.raises(lambda: w.mul_(3))
    rec.raises(lambda: u.copy_(lib.ones(2, dtype=lib.float64)))
    with lib.no_grad():
        u.mul_(3)
    rec(a)


def saved_tensor_modified(lib, rec):
    x = _leaf(lib, X6)
    a = x * 1
    b = a.exp()  # saves its output b
    b.add_(1)
    rec(b)
    rec.raises(lambda: b.sum().backward())
    a2 = x * 1
    c = a2 * a2  # saves a2
    a2[0:2].mul_(3)
    rec.raises(lambda: c.sum().backward())
    a3 = x * 1
    d = a3.sin()
    a3.detach().zero_()
    rec(a3)
    rec.raises(lambda: d.sum().backward())


def out_variants(lib, rec):
    x = _leaf(lib, X6)
    o = lib.empty(6, dtype=lib.float64)
    lib.mul(x.detach(), 2, out=o)
    rec(o)
    rec.raises(lambda: lib.mul(x, 2, out=lib.empty(6, dtype=lib.float64)))
    rec.raises(lambda: lib.mul(x.detach(), 2, out=x))
    o3 = lib.zeros(2, 6, dtype=lib.float64)
    lib.mul(x.detach(), 3, out=o3[1])
    lib.add(x.detach()[:2], 1, out=o3.t()[::3, 0])
    rec(o3)


def out_resizes_a_view(lib, rec):
    x = _leaf(lib, X6)
    o2 = lib.zeros(6, dtype=lib.float64)
    rec.raises(lambda: lib.add(x.detach(), 1, out=o2[::2]))  # resized in the base's memory: the base sees it
    rec(o2)
    o3 = lib.zeros(6, dtype=lib.float64)
    rec.raises(lambda: lib.exp(x.detach()[:2], out=o3[1::2]))  # from the view's offset
    rec(o3)


def detach_shares(lib, rec):
    x = _leaf(lib, X6)
    a = x * 1
    d = a.detach()
    rec(d)
    d.add_(1)
    rec(a), rec(d)
    d2 = x.detach()
    d2[0] = 100.0
    rec(x), rec(d2)
    rec.val(d2.data_ptr() == x.data_ptr())
    e = a.detach_() if False else a.detach()
    rec(e)
    a.detach_()
    rec(a)


def retain_grad_views(lib, rec):
    x = _leaf(lib, X34)
    a = x * 2
    v = a[1]
    v.retain_grad()
    t = a.t()
    t.retain_grad()
    rec.val(v.retains_grad)
    (t * lib.tensor(W34.T)).sum().backward(retain_graph=True)
    rec.val(v.grad), rec.val(t.grad), rec(x)
    v.mul_(2)
    rec.val(v.retains_grad)
    a.sum().backward()
    rec.val(v.grad)
    rec(x)


def retain_grad_leaf_and_twice(lib, rec):
    x = _leaf(lib, X6)
    x.retain_grad()
    a = x.sin()
    a.retain_grad()
    a.retain_grad()
    (a * a).sum().backward()
    rec.val(a.grad), rec(x)
    a.grad = None
    (a * 3).sum().backward()
    rec.val(a.grad), rec(x)


def retain_grad_follows_inplace(lib, rec):
    x = _leaf(lib, X6)
    a = x * 2
    a.retain_grad()
    a.mul_(3)
    (a * a).sum().backward()
    rec.val(a.grad)
    c = x * 2
    v = c[1:3]
    v.retain_grad()
    v.mul_(2)
    (v * v).sum().backward()
    rec.val(v.grad)
    c = x * 2
    c.retain_grad()
    v = c[1:3]
    v.retain_grad()
    c.mul_(2)
    c[4:].exp_()
    (v * v).sum().backward()
    rec.val(v.grad), rec.val(c.grad)
    rec(x)


def second_backward_without_retain(lib, rec):
    x = _leaf(lib, X6)
    y = (x.exp() * x).sum()
    y.backward()
    rec.raises(lambda: y.backward())
    rec(x)


def second_backward_of_scalar_product(lib, rec):
    x = _leaf(lib, X6)
    z = (x * 2).sum()  # torch saves the 2 as a tensor: a second backward raises
    z.backward()
    rec.raises(lambda: z.backward())
    rec(x)
    for make in (lambda: x[1:].sum(), lambda: x[None, ::2].sum(), lambda: x.view(2, 3)[:, 1].sum(),
                 lambda: x[lib.tensor([1, 2])].sum(), lambda: x[x > 0].sum(), lambda: (2 * x).sum(),
                 lambda: (x - 1).sum()):
        z = make()
        z.backward()
        rec.raises(lambda: z.backward())  # basic slicing saves nothing in torch, index tensors are saved
    rec(x)


def requires_grad_non_leaf(lib, rec):
    x = _leaf(lib, X6)
    a = x * 2
    rec.raises(lambda: a.requires_grad_(False))
    rec.raises(lambda: a.requires_grad_(True))
    rec(a)
    i = lib.arange(3)
    rec.raises(lambda: i.requires_grad_())
    rec.raises(lambda: lib.tensor([1, 2], requires_grad=True))
    rec.raises(lambda: lib.tensor([True], requires_grad=True))
    rec.raises(lambda: lib.zeros(2, dtype=lib.int64, requires_grad=True))
    b = lib.ones(2, dtype=lib.bool)
    rec.raises(lambda: setattr(b, "requires_grad", True))
    rec(i), rec(b)
    rec((x > 0)), rec(x.argmax()), rec(x.long())


def grad_modes_nesting(lib, rec):
    x = _leaf(lib, X6)
    with lib.no_grad():
        rec(x * 2)
        with lib.enable_grad():
            rec(x * 2)
            with lib.set_grad_enabled(False):
                rec(x * 2)
        with lib.inference_mode():
            i = x * 2
            rec.val((i, i.requires_grad, i.is_leaf))  # (its _version raises in torch, reads 0 in ember)
            rec.val(i.is_inference())
            with lib.inference_mode(False):
                rec(x * 2)
    rec.val(lib.is_grad_enabled())
    rec.val(i.is_inference())
    rec.raises(lambda: x * i)
    rec.raises(lambda: (x * i).sum().backward())
    rec.raises(lambda: i.requires_grad_())
    c = i.clone()
    rec.val(c)  # (torch's clone of an inference tensor is at version 1: not compared)
    rec.val((c.requires_grad, c.is_leaf))
    rec.val(c.is_inference())
    rec(i.view(2, 3))
    rec.val(i.view(2, 3).is_inference())
    rec(i[1:] * 2)
    rec.raises(lambda: i.add_(1))  # (torch writes before it raises: i is not looked at again)


def double_backward_inplace(lib, rec):
    x = _leaf(lib, X6)
    a = x * 1
    a.mul_(x)
    a.sin_()
    g, = lib.autograd.grad(a.sum(), x, create_graph=True)
    rec(g)
    g.sum().backward()
    rec(x)


def double_backward_through_view_write(lib, rec):
    x = _leaf(lib, X34)
    a = x * 1
    a[1].mul_(x[0])
    a.t()[2].exp_()
    g, = lib.autograd.grad((a ** 2).sum(), x, create_graph=True)
    rec(g)
    (g * lib.tensor(W34)).sum().backward()
    rec(x)


PROGRAMS = [slice_of_transpose, diagonal_of_slice, select_then_unbind, split_chunk_write, view_reshape_write,
            expand_write_raises, narrow_of_narrow, as_strided_write, real_imag_write, step_negative_ellipsis_none,
            setitem_through_view, leaf_inplace_raises, view_of_leaf_under_no_grad_then_use,
            no_grad_view_written_in_grad_mode, saved_tensor_modified,
            out_variants, out_resizes_a_view, detach_shares, retain_grad_views, retain_grad_leaf_and_twice,
            retain_grad_follows_inplace, second_backward_without_retain, second_backward_of_scalar_product, requires_grad_non_leaf,
            grad_modes_nesting, double_backward_inplace, double_backward_through_view_write]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_audit(program):
    compare(program, torch, ember)
