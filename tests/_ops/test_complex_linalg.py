"""linalg.eig and linalg.eigvals against torch 2.13.0: values, and first and second derivatives of losses that
do not depend on each eigenvector's arbitrary unit factor."""
import numpy as np
import pytest
import torch

import ember


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (0, 2, 2)])
def test_eig_values_and_gradients_match_torch(shape):
    A = np.random.default_rng(0).standard_normal(shape)
    weights = np.arange(shape[-1] ** 2, dtype=np.float64).reshape(shape[-1], shape[-1])
    res = []
    for lib in (ember, torch):
        a = lib.tensor(A, requires_grad=True)
        w, V = lib.linalg.eig(a)
        loss = (V.abs() * lib.tensor(weights)).sum() + (w * w).real.sum() + lib.linalg.eigvals(a).imag.pow(2).sum()
        g, = lib.autograd.grad(loss, a, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), a)
        res.append([w.detach().numpy(), np.abs(V.detach().numpy()), g.detach().numpy(), gg.numpy()])
    assert res[0][0].dtype == np.complex128
    for e, t in zip(*res):
        np.testing.assert_allclose(e, t, rtol=1e-9, atol=1e-9)


def test_eig_of_float32_is_complex64_and_errors_match_torch():
    w, V = ember.linalg.eig(ember.eye(3))
    assert w.dtype is ember.complex64 and V.dtype is ember.complex64
    for bad in (lambda lib: lib.zeros(2, 3), lambda lib: lib.zeros(3), lambda lib: lib.zeros(2, 2).long()):
        with pytest.raises(RuntimeError):
            torch.linalg.eig(bad(torch))
        with pytest.raises(RuntimeError):
            ember.linalg.eig(bad(ember))


def test_vector_norm_of_complex_values_is_torchs():
    """The norm of the moduli, real-valued, with torch's complex gradient x |x|^(p-2) / n^(p-1); a real dtype= for a
    complex input is refused as torch does (ember raised a KeyError building the message)."""
    vals = [[1 + 2j, 3 - 1j, -0.5j], [2, 1j, 1 - 1j]]
    for ord in (2, 3, 1, float("inf"), 0.5):
        got = {}
        for lib in (torch, ember):
            x = lib.tensor(vals, requires_grad=True)
            n = lib.linalg.vector_norm(x, ord, dim=1)
            n.sum().backward()
            got[lib] = (n.detach().numpy(), x.grad.numpy(), str(n.dtype))
        np.testing.assert_allclose(got[ember][0], got[torch][0], rtol=1e-6)
        np.testing.assert_allclose(got[ember][1], got[torch][1], rtol=1e-5, atol=1e-7)
        assert got[ember][2] == got[torch][2]
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="dtype should be complex for complex inputs, but got Float"):
            lib.linalg.vector_norm(lib.tensor([1 + 2j]), dtype=lib.float32)
