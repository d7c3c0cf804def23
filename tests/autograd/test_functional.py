"""ember.autograd.functional against torch.autograd.functional on the same functions."""
import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import ember
import ember.autograd.functional as EF
from conftest import assert_close

RNG = np.random.default_rng(0)
X = RNG.standard_normal(3)
Y = RNG.standard_normal((2, 3))
V3 = RNG.standard_normal(3)
V23 = RNG.standard_normal((2, 3))


def E(a):
    return ember.tensor(a, dtype=ember.float64)


def T(a):
    return torch.tensor(a, dtype=torch.float64)


def f_vec(lib):
    return lambda x: lib.exp(x) * x - lib.tanh(x)


def f_two(lib):
    return lambda x, y: (x * y * y, (lib.exp(x) * y).sum(dim=0))


def f_scalar(lib):
    return lambda x: (lib.exp(x) * x * x).sum() + (x * x * x).mean()


def f_scalar2(lib):
    return lambda x, y: (lib.tanh(x * y) * y).sum() + (x * x).sum()


def compare(e, t, what=""):
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), what
        assert_close(e, t, atol=1e-10, rtol=1e-8, what=what)
        assert e.requires_grad == t.requires_grad, f"{what}: requires_grad"
        return
    assert isinstance(e, tuple) and isinstance(t, tuple) and len(e) == len(t), what
    for i, (a, b) in enumerate(zip(e, t)):
        compare(a, b, f"{what}[{i}]")


@pytest.mark.parametrize("create_graph", [False, True])
def test_jacobian_single(create_graph):
    compare(EF.jacobian(f_vec(ember), E(X), create_graph=create_graph),
            TF.jacobian(f_vec(torch), T(X), create_graph=create_graph))


def test_jacobian_tuples():
    compare(EF.jacobian(f_two(ember), (E(X), E(Y))), TF.jacobian(f_two(torch), (T(X), T(Y))))


def test_jacobian_unused_input_and_strict():
    fe = lambda x, y: x * 2  # noqa: E731
    ft = lambda x, y: x * 2  # noqa: E731
    compare(EF.jacobian(fe, (E(X), E(V3))), TF.jacobian(ft, (T(X), T(V3))))
    with pytest.raises(RuntimeError, match="independent of input 1"):
        EF.jacobian(fe, (E(X), E(V3)), strict=True)


def test_hessian_single_and_tuple():
    compare(EF.hessian(f_scalar(ember), E(X)), TF.hessian(f_scalar(torch), T(X)))
    compare(EF.hessian(f_scalar2(ember), (E(X), E(Y))), TF.hessian(f_scalar2(torch), (T(X), T(Y))))


def test_hessian_needs_scalar():
    for F, lib, make in ((EF, ember, E), (TF, torch, T)):  # torch's words
        with pytest.raises(RuntimeError, match="^The Tensor returned by the function given to hessian should contain "
                                               "a single element$"):
            F.hessian(f_vec(lib), make(X))


@pytest.mark.parametrize("create_graph", [False, True])
def test_vjp(create_graph):
    compare(EF.vjp(f_vec(ember), E(X), E(V3), create_graph=create_graph),
            TF.vjp(f_vec(torch), T(X), T(V3), create_graph=create_graph))
    compare(EF.vjp(f_two(ember), (E(X), E(Y)), (E(V23), E(V3))),
            TF.vjp(f_two(torch), (T(X), T(Y)), (T(V23), T(V3))))
    compare(EF.vjp(f_scalar(ember), E(X)), TF.vjp(f_scalar(torch), T(X)))


def test_vjp_v_errors():
    for F, lib, make in ((EF, ember, E), (TF, torch, T)):  # torch's words (its sizes print as torch.Size)
        with pytest.raises(RuntimeError, match="v can only be None"):
            F.vjp(f_vec(lib), make(X))
        with pytest.raises(RuntimeError, match=r"^v has invalid size: should be (torch\.Size\(\[3\]\)|\[3\]) but got"):
            F.vjp(f_vec(lib), make(X), make(V23))


def test_jvp():
    compare(EF.jvp(f_vec(ember), E(X), E(V3)), TF.jvp(f_vec(torch), T(X), T(V3)))
    compare(EF.jvp(f_two(ember), (E(X), E(Y)), (E(V3), E(V23))),
            TF.jvp(f_two(torch), (T(X), T(Y)), (T(V3), T(V23))))


def test_hvp_vhp():
    for name in ("hvp", "vhp"):
        compare(getattr(EF, name)(f_scalar(ember), E(X), E(V3)), getattr(TF, name)(f_scalar(torch), T(X), T(V3)),
                name)
        compare(getattr(EF, name)(f_scalar2(ember), (E(X), E(Y)), (E(V3), E(V23))),
                getattr(TF, name)(f_scalar2(torch), (T(X), T(Y)), (T(V3), T(V23))), name)


def test_create_graph_keeps_link_to_inputs():
    # d/dx of sum(J) where J = jacobian of x*x*x (diagonal 3x^2): 6x, same as torch
    res = {}
    for lib, F, mk in ((ember, EF, E), (torch, TF, T)):
        x = mk(X).requires_grad_()
        jac = F.jacobian(lambda t: t * t * t, x, create_graph=True)
        jac.sum().backward()
        res[lib] = x.grad
    assert_close(res[ember], res[torch], atol=1e-12)


def test_inputs_are_not_modified():
    x = E(X)
    EF.jacobian(f_vec(ember), x)
    assert not x.requires_grad and x.grad is None
