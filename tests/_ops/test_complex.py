"""Complex dtypes against torch 2.13.0: promotion, creation, printing, views, conj flags, arithmetic and
gradients under torch's conjugate convention (the same code run under both libraries)."""
import numpy as np
import pytest
import torch

import ember


def same(e, t, rtol=1e-5, atol=1e-6):
    """An ember result equals torch's: shape, dtype and (complex) values."""
    if t is None:
        assert e is None
        return
    ev, tv = e.detach().numpy(), t.detach().resolve_conj().numpy()
    assert ev.shape == tv.shape and ev.dtype == tv.dtype, (ev.shape, ev.dtype, tv.shape, tv.dtype)
    np.testing.assert_allclose(ev, tv, rtol=rtol, atol=atol)


def both(fn, *arrays, grad=True):
    """``fn(lib, *tensors)`` under ember and torch, on copies of ``arrays``; the results and the input gradients
    of the real scalar ``fn`` returns (its first output, when a tuple)."""
    out = []
    for lib in (ember, torch):
        xs = [lib.tensor(a.copy(), requires_grad=grad and a.dtype.kind in "fc") for a in arrays]
        r = fn(lib, *xs)
        if grad:
            (r[0] if isinstance(r, tuple) else r).backward()
        out.append((r, [x.grad for x in xs]))
    return out


Z = np.array([1 + 2j, -0.5 + 0.25j, 3 - 1j], dtype=np.complex128)
W = np.array([0.5 - 1j, 2 + 0j, -1 + 1.5j], dtype=np.complex128)
X = np.array([0.3, -1.2, 2.0])


@pytest.mark.parametrize("a,b", [("int64", 1j), ("float64", 1j), ("float32", 1j), ("int64", "complex128:0"),
                                 ("float32", "complex128:0"), ("complex64", "float64"), ("complex64", 2.5),
                                 ("float16", "complex64"), ("bool", 1j), ("complex64", "complex128")])
def test_promotion_matches_torch(a, b):
    for lib in (ember, torch):
        def make(spec):
            if not isinstance(spec, str):
                return spec
            name, _, zero = spec.partition(":")
            return lib.ones(() if zero else (2,), dtype=getattr(lib, name))
        lib.result = (make(a) + make(b)).dtype
    assert str(ember.result) == str(torch.result)
    assert str(ember.promote_types(ember.float64, ember.complex64)) == str(torch.promote_types(torch.float64,
                                                                                             torch.complex64))


def test_creation_printing_and_flags():
    for data in ([1 + 2j, -3.5 - 0.25j], [[1 + 2j, 3j], [1e-5 + 1j, 100]], 1 + 2j, Z, Z.astype(np.complex64),
                 [1.5 + 2j, float("nan") + 1j, complex(0, float("inf"))], [2 + 0j, 1 + 1j]):
        e, t = ember.tensor(data), torch.tensor(data)
        assert repr(e) == repr(t)
        assert e.is_complex() and not e.is_floating_point() and e.dtype.is_complex
    assert str(ember.tensor(Z, requires_grad=True)) == str(torch.tensor(Z, requires_grad=True))
    assert ember.cfloat is ember.complex64 and ember.cdouble is ember.complex128
    assert ember.tensor([1, 2]).cfloat().dtype is ember.complex64
    assert ember.tensor([1., 2.]).cdouble().dtype is ember.complex128
    assert ember.tensor(Z).type() == torch.tensor(Z).type()
    assert ember.finfo(ember.complex64).eps == torch.finfo(torch.complex64).eps
    assert ember.tensor(2 + 1j).item() == 2 + 1j


def test_real_imag_are_assignable_views():
    for lib in (ember, torch):
        z = lib.tensor(Z.copy())
        z.real[0] = 5.0
        z.imag = lib.tensor([7.0, 8.0, 9.0], dtype=lib.float64)
        lib.z = z
    same(ember.z, torch.z)
    x = ember.tensor(X)
    assert ember.real(x) is x
    with pytest.raises(RuntimeError, match="imag is not implemented for tensors with non-complex dtypes"):
        x.imag


def test_conj_flags_and_values():
    for lib in (ember, torch):
        z = lib.tensor(Z)
        c = z.conj()
        lib.flags = (c.is_conj(), c.resolve_conj().is_conj(), c.conj().is_conj(), lib.conj_physical(z).is_conj(),
                     z.is_conj(), c.is_neg())
        lib.vals = (c, c.resolve_conj(), c.conj(), lib.conj_physical(z))
        x = lib.tensor(X)
        assert x.conj() is x and lib.resolve_conj(x) is x and lib.resolve_neg(x) is x
    assert ember.flags == torch.flags
    for e, t in zip(ember.vals, torch.vals):
        same(e, t)
    with pytest.raises(RuntimeError, match="unresolved conjugated"):
        ember.view_as_real(ember.tensor(Z).conj())


def test_view_as_real_and_complex_share_memory():
    z = ember.tensor(Z.astype(np.complex64))
    r = ember.view_as_real(z)
    assert r.shape == (3, 2) and r.dtype is ember.float32 and r._base is z
    r[1, 1] = 10.0
    assert z[1].item() == -0.5 + 10j
    c = ember.view_as_complex(r)
    c[0] = 4 - 4j
    np.testing.assert_array_equal(z.numpy()[0], 4 - 4j)
    same(ember.view_as_real(ember.tensor(1 + 2j)), torch.view_as_real(torch.tensor(1 + 2j)))


@pytest.mark.parametrize("make", [lambda lib: lib.zeros(3, 3), lambda lib: lib.zeros(3, 2).long(),
                                  lambda lib: lib.zeros(2, 3)[:, :2], lambda lib: lib.zeros(()),
                                  lambda lib: lib.zeros(4, 2)[:, :1].expand(4, 2)])
def test_view_as_complex_errors_match_torch(make):
    with pytest.raises(RuntimeError) as t:
        torch.view_as_complex(make(torch))
    with pytest.raises(RuntimeError, match=str(t.value).split(",")[0]):
        ember.view_as_complex(make(ember))


def test_complex_and_polar_errors_match_torch():
    for args in (lambda lib: (lib.zeros(2), lib.zeros(2, dtype=lib.float64)),
                 lambda lib: (lib.zeros(2).long(), lib.zeros(2).long())):
        for fn in ("complex", "polar"):
            with pytest.raises(RuntimeError) as t:
                getattr(torch, fn)(*args(torch))
            with pytest.raises(RuntimeError, match=str(t.value)):
                getattr(ember, fn)(*args(ember))


ARITHMETIC = {
    "add": lambda lib, z, w, x: z + w * 2 - x,
    "mul": lambda lib, z, w, x: z * w * x * (1 - 2j),
    "div": lambda lib, z, w, x: z / w + x / z + 1j / w,
    "pow": lambda lib, z, w, x: z ** 2 + z ** w + (1 + 1j) ** z + z ** 0.5,
    "exp_log_sqrt": lambda lib, z, w, x: z.exp() + (w * 3).log() + z.sqrt() + x.exp(),
    "abs_angle": lambda lib, z, w, x: (z.abs() + z.angle()) * w,
    "sum_mean": lambda lib, z, w, x: (z * w).sum() + z.mean() + x.sum() * 1j,
    "matmul": lambda lib, z, w, x: (z.reshape(3, 1) @ w.reshape(1, 3)) @ (w + x) + z @ w,
    "real_imag": lambda lib, z, w, x: z.real * w + z.imag * 1j + lib.real(w),
    "conj": lambda lib, z, w, x: z.conj() * w + lib.conj_physical(w) * z,
    "complex_polar": lambda lib, z, w, x: lib.complex(x, x * x) * z + lib.polar(x.abs(), x),
    "view_as": lambda lib, z, w, x: lib.view_as_complex(lib.view_as_real(z) * lib.stack([x, x], 1)) + w,
    "cast": lambda lib, z, w, x: x.to(lib.complex128) * z + x.cdouble(),
}


@pytest.mark.parametrize("name", list(ARITHMETIC))
def test_values_and_wirtinger_gradients_match_torch(name):
    f = ARITHMETIC[name]

    def loss(lib, z, w, x):
        y = f(lib, z, w, x)
        # a real loss of a complex result: every part of y reaches the gradient
        return (y * y.conj()).real.sum() + (y * (0.3 - 0.7j)).imag.sum(), y
    (le, ge), (lt, gt) = both(loss, Z, W, X)
    same(le[1], lt[1])
    same(le[0], lt[0])
    for e, t in zip(ge, gt):
        same(e, t)


def test_grad_of_squared_modulus_is_twice_z():
    z = ember.tensor(Z, requires_grad=True)
    (z * z.conj()).real.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), 2 * Z)


def test_double_backward_matches_torch():
    grads = []
    for lib in (ember, torch):
        z = lib.tensor(Z, requires_grad=True)
        y = ((z * z * z).exp() * z.conj()).abs().sum()
        g, = lib.autograd.grad(y, z, create_graph=True)
        gg, = lib.autograd.grad((g * lib.tensor(W)).real.sum(), z)
        grads.append((g, gg))
    same(grads[0][0], grads[1][0], rtol=1e-9)
    same(grads[0][1], grads[1][1], rtol=1e-9)


def test_complex_output_needs_a_real_scalar_for_implicit_grad():
    z = ember.tensor(Z, requires_grad=True)
    with pytest.raises(RuntimeError, match="real scalar outputs"):
        (z * 2).sum().backward()


def test_inplace_write_into_a_real_view_of_a_graph_tensor_has_torchs_gradient():
    grads = []
    for lib in (ember, torch):
        leaf = lib.tensor(Z, requires_grad=True)
        z = leaf.clone()
        z.real.mul_(2)
        (z * z.conj()).real.sum().backward()
        grads.append(leaf.grad)
    same(*grads)
    w = ember.tensor(Z)
    w.imag.mul_(2)  # no graph: written as torch writes it
    np.testing.assert_array_equal(w.numpy(), Z.real + 2j * Z.imag)


def test_sgn_of_complex_has_torchs_gradient_and_sign_refuses_complex():
    """sgn(z) = z/|z| (0 at 0) with a nonzero gradient (it was an alias of sign, whose gradient is zero); sign
    of a complex raises NotImplementedError as torch's; sgn of a real tensor is its sign, in place too."""
    z = np.array([1 + 1j, -2 + 0.5j, 0j])
    (e, ge), (t, gt) = both(lambda lib, x: (lambda y: (y.real.sum() + 2 * y.imag.sum(), y))(lib.sgn(x)), z)
    same(e[1], t[1])
    same(ge[0], gt[0])
    for lib in (ember, torch):
        with pytest.raises(NotImplementedError, match="sgn"):
            lib.sign(lib.tensor(z))
    a, b = ember.tensor(z), torch.tensor(z)
    a.sgn_(), b.sgn_()
    same(a, b)
    same(ember.sgn(ember.tensor([-2, 0, 3])), torch.sgn(torch.tensor([-2, 0, 3])))
