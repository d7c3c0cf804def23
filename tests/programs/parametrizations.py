"""The PyTorch "Parametrizations Tutorial" (https://pytorch.org/tutorials/intermediate/parametrizations.html,
BSD-3-Clause), followed by training with the built-in parametrizations.

Tutorial part: a ``Symmetric`` parametrization registered with ``nn.utils.parametrize.register_parametrization``,
chained ``Skew`` then ``CayleyMap`` (``torch.linalg.solve``) and a ``MatrixExponential`` (``torch.matrix_exp``),
``parametrize.cached()``, ``right_inverse`` with assignment to the parametrized weight, a pruning mask, and
``remove_parametrizations`` with and without ``leave_parametrized``. Training part: an orthogonal recurrent
matrix (``nn.utils.parametrizations.orthogonal``) feeding a ``weight_norm``-ed and ``spectral_norm``-ed readout
(the parametrization forms), trained with Adam on a toy sequence task. Adapted: sizes 3 to 8; the pruning mask
comes from NumPy (the tutorial draws it with torch.bernoulli).
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.utils.parametrize as parametrize
from torch.nn.utils.parametrizations import orthogonal, spectral_norm, weight_norm

losses = []


class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(-1, -2)

    def right_inverse(self, A):
        return A.triu()


class Skew(nn.Module):
    def forward(self, X):
        A = X.triu(1)
        return A - A.transpose(-1, -2)


class CayleyMap(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.register_buffer("Id", torch.eye(n))

    def forward(self, X):
        # (I + X)(I - X)^{-1}
        return torch.linalg.solve(self.Id - X, self.Id + X)


class MatrixExponential(nn.Module):
    def forward(self, X):
        return torch.matrix_exp(X)


class PruningParametrization(nn.Module):
    def __init__(self, mask):
        super().__init__()
        self.mask = mask

    def forward(self, X):
        return self.mask * X


class OrthogonalRNN(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.inp = nn.Linear(n_in, n_hidden)
        self.rec = orthogonal(nn.Linear(n_hidden, n_hidden, bias=False))
        self.out = spectral_norm(weight_norm(nn.Linear(n_hidden, n_out)), n_power_iterations=2)

    def forward(self, x):
        h = torch.zeros(x.shape[0], self.rec.weight.shape[0])
        with parametrize.cached():  # the recurrent matrix is computed once for all time steps
            for t in range(x.shape[1]):
                h = torch.tanh(self.inp(x[:, t]) + self.rec(h))
        return self.out(h)


def tutorial(init, rng):
    out = {}
    layer = init(torch, nn.Linear(3, 3), "sym")
    parametrize.register_parametrization(layer, "weight", Symmetric())
    A = layer.weight
    out["symmetric"] = [A.detach().numpy(), bool(torch.allclose(A, A.T))]
    out["repr"] = [type(layer).__name__, sorted(layer.parametrizations.keys()),
                   sorted(k for k, _ in layer.named_parameters())]

    layer = init(torch, nn.Linear(3, 3), "orth")
    parametrize.register_parametrization(layer, "weight", Skew())
    parametrize.register_parametrization(layer, "weight", CayleyMap(3))
    X = layer.weight
    out["cayley"] = [X.detach().numpy(), (X.T @ X).detach().numpy(), len(layer.parametrizations.weight)]

    layer = init(torch, nn.Linear(3, 3), "exp")
    parametrize.register_parametrization(layer, "weight", Skew())
    parametrize.register_parametrization(layer, "weight", MatrixExponential())
    with parametrize.cached():
        Y = layer.weight
        out["exp"] = [Y.detach().numpy(), bool(layer.weight is Y), parametrize.is_parametrized(layer, "weight")]
    out["exp_uncached"] = bool(layer.weight is Y)
    loss = layer(torch.ones(2, 3)).pow(2).sum()
    loss.backward()
    out["exp_grad"] = layer.parametrizations.weight.original.grad.numpy()

    layer = init(torch, nn.Linear(3, 3), "assign")
    parametrize.register_parametrization(layer, "weight", Symmetric())
    with torch.no_grad():
        layer.weight = torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]])
    out["assigned"] = [layer.weight.detach().numpy(), layer.parametrizations.weight.original.detach().numpy()]

    layer = init(torch, nn.Linear(3, 4), "prune")
    mask = torch.from_numpy((rng.random((4, 3)) < 0.8).astype(np.float32))
    parametrize.register_parametrization(layer, "weight", PruningParametrization(mask))
    out["pruned"] = layer.weight.detach().numpy()
    parametrize.remove_parametrizations(layer, "weight")  # leave_parametrized=True: the masked weight stays
    out["removed"] = [layer.weight.detach().numpy(), type(layer).__name__]

    layer = init(torch, nn.Linear(3, 3), "unparam")
    parametrize.register_parametrization(layer, "weight", Symmetric())
    with torch.no_grad():
        layer.weight = torch.zeros(3, 3) + torch.arange(9.0).view(3, 3)  # stored as right_inverse's triu
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    out["unparametrized"] = layer.weight.detach().numpy()
    return out


def main(init):
    losses.clear()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    result = tutorial(init, rng)
    model = init(torch, OrthogonalRNN(2, 6, 1), "rnn")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    x = torch.from_numpy(rng.standard_normal((8, 5, 2)).astype(np.float32))
    y = x[:, :, 0].sum(1, keepdim=True) * 0.3
    for step in range(5):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    W = model.rec.weight.detach()
    result["orthogonal"] = [(W.T @ W).numpy(), model.out.weight.detach().numpy(),
                            sorted(k for k, _ in model.named_parameters()),
                            sorted(model.state_dict().keys())]
    return {"losses": losses, "metric": result}
