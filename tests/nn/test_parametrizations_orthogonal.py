"""nn.utils.parametrizations.orthogonal against torch: the weight each map makes from the same starting
weights, its gradient, assignment, and torch's errors."""
import numpy as np
import pytest
import torch

import ember


def _linear(lib, n_in, n_out, seed=0):
    layer = lib.nn.Linear(n_in, n_out, bias=False)
    w = np.random.default_rng(seed).standard_normal((n_out, n_in)).astype(np.float32)
    with lib.no_grad():
        layer.weight.copy_(lib.tensor(w))
    return layer


CASES = [(4, 4, "matrix_exp", True), (4, 4, "cayley", True), (4, 4, "householder", True),
         (5, 3, "householder", False), (3, 5, "householder", False), (4, 4, "householder", False)]


@pytest.mark.parametrize("n_in,n_out,orth_map,triv", CASES)
def test_orthogonal_weight_and_grad_as_torch(n_in, n_out, orth_map, triv):
    res = {}
    for lib in (torch, ember):
        layer = lib.nn.utils.parametrizations.orthogonal(_linear(lib, n_in, n_out), orthogonal_map=orth_map,
                                                         use_trivialization=triv)
        orig = layer.parametrizations.weight.original
        with lib.no_grad():  # move off the starting point so the map's derivative is not at zero
            orig.add_(lib.tensor(np.linspace(-0.2, 0.3, orig.numel(), dtype=np.float32).reshape(orig.shape)))
        x = lib.tensor(np.arange(2 * n_in, dtype=np.float32).reshape(2, n_in) / 5)
        layer(x).pow(2).sum().backward()
        res[lib.__name__] = (layer.weight.detach().numpy(), orig.grad.numpy())
    for a, b in zip(res["ember"], res["torch"]):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_orthogonal_assignment_and_state_as_torch():
    res = {}
    for lib in (torch, ember):
        layer = lib.nn.utils.parametrizations.orthogonal(_linear(lib, 3, 3))
        with lib.no_grad():
            layer.weight = lib.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # already orthogonal
        res[lib.__name__] = (layer.weight.detach().numpy(), sorted(layer.state_dict()),
                             layer.parametrizations.weight[0].base.numpy())
    np.testing.assert_allclose(res["ember"][0], res["torch"][0], atol=1e-6)
    assert res["ember"][1] == res["torch"][1]
    np.testing.assert_allclose(res["ember"][2], res["torch"][2], atol=1e-6)


def test_orthogonal_errors_as_torch():
    for lib in (torch, ember):
        orth = lib.nn.utils.parametrizations.orthogonal
        with pytest.raises(ValueError, match="Expected a matrix"):
            orth(lib.nn.Linear(3, 3), name="bias")
        with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
            orth(lib.nn.Linear(3, 3), orthogonal_map="qr")
        with pytest.raises(ValueError, match="has no parameter or buffer"):
            orth(lib.nn.Linear(3, 3), name="nothing")
        layer = orth(lib.nn.Linear(3, 3), orthogonal_map="cayley", use_trivialization=False)
        with pytest.raises(NotImplementedError, match="not possible to assign"):
            with lib.no_grad():
                layer.weight = lib.eye(3)
