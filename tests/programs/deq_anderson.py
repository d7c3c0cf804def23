"""Deep equilibrium model with Anderson acceleration and an implicit backward hook, after chapter 4 of the
"Deep Implicit Layers" tutorial by Kolter, Duvenaud and Johnson (http://implicit-layers-tutorial.org/
deep_equilibrium_models/; its code read only).

A ``ResNetLayer`` cell (two convolutions, three ``GroupNorm``s, weights from ``normal_(0, 0.01)``) iterated to its
fixed point by Anderson acceleration: histories ``X``/``F`` written row by row into preallocated tensors, the
bordered least-squares system ``H`` built with ``torch.bmm(G, G.transpose(1, 2))`` and solved batched; the
fixed point found under ``torch.no_grad``, re-attached by one more call, and a ``register_hook`` on the output
that solves the backward fixed point with ``autograd.grad(f0, z0, y, retain_graph=True)`` inside the hook.
Adapted: ``torch.linalg.solve`` for the retired ``torch.solve``; 8x8 fake images, 8 channels, 4 groups, at most
12 Anderson iterations (tolerance 1e-4), batch 8, 3 Adam steps; the residual histories are compared.
"""
import numpy as np
import torch
import torch.autograd as autograd
import torch.nn as nn

from _harness import images


class ResNetLayer(nn.Module):
    def __init__(self, n_channels, n_inner_channels, kernel_size=3, num_groups=8):
        super().__init__()
        self.conv1 = nn.Conv2d(n_channels, n_inner_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.conv2 = nn.Conv2d(n_inner_channels, n_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.norm1 = nn.GroupNorm(num_groups, n_inner_channels)
        self.norm2 = nn.GroupNorm(num_groups, n_channels)
        self.norm3 = nn.GroupNorm(num_groups, n_channels)
        self.conv1.weight.data.normal_(0, 0.01)
        self.conv2.weight.data.normal_(0, 0.01)

    def forward(self, z, x):
        y = self.norm1(torch.relu(self.conv1(z)))
        return self.norm3(torch.relu(z + self.norm2(x + self.conv2(y))))


def anderson(f, x0, m=5, lam=1e-4, max_iter=50, tol=1e-2, beta=1.0):
    bsz, d, H, W = x0.shape
    X = torch.zeros(bsz, m, d * H * W, dtype=x0.dtype)
    F = torch.zeros(bsz, m, d * H * W, dtype=x0.dtype)
    X[:, 0], F[:, 0] = x0.view(bsz, -1), f(x0).view(bsz, -1)
    X[:, 1], F[:, 1] = F[:, 0], f(F[:, 0].view_as(x0)).view(bsz, -1)
    H = torch.zeros(bsz, m + 1, m + 1, dtype=x0.dtype)
    H[:, 0, 1:] = H[:, 1:, 0] = 1
    y = torch.zeros(bsz, m + 1, 1, dtype=x0.dtype)
    y[:, 0] = 1
    res = []
    for k in range(2, max_iter):
        n = min(k, m)
        G = F[:, :n] - X[:, :n]
        H[:, 1:n + 1, 1:n + 1] = torch.bmm(G, G.transpose(1, 2)) + lam * torch.eye(n, dtype=x0.dtype)[None]
        alpha = torch.linalg.solve(H[:, :n + 1, :n + 1], y[:, :n + 1])[:, 1:n + 1, 0]
        X[:, k % m] = beta * (alpha[:, None] @ F[:, :n])[:, 0] + (1 - beta) * (alpha[:, None] @ X[:, :n])[:, 0]
        F[:, k % m] = f(X[:, k % m].view_as(x0)).view(bsz, -1)
        res.append((F[:, k % m] - X[:, k % m]).norm().item() / (1e-5 + F[:, k % m].norm().item()))
        if res[-1] < tol:
            break
    return X[:, k % m].view_as(x0), res


class DEQFixedPoint(nn.Module):
    def __init__(self, f, solver, **kwargs):
        super().__init__()
        self.f = f
        self.solver = solver
        self.kwargs = kwargs

    def forward(self, x):
        with torch.no_grad():
            z, self.forward_res = self.solver(lambda z: self.f(z, x), torch.zeros_like(x), **self.kwargs)
        z = self.f(z, x)
        z0 = z.clone().detach().requires_grad_()
        f0 = self.f(z0, x)

        def backward_hook(grad):
            g, self.backward_res = self.solver(lambda y: autograd.grad(f0, z0, y, retain_graph=True)[0] + grad,
                                               grad, **self.kwargs)
            return g

        z.register_hook(backward_hook)
        return z


def main(init):
    chan = 8
    f = ResNetLayer(chan, 16, kernel_size=3, num_groups=4)
    deq = DEQFixedPoint(f, anderson, tol=1e-4, max_iter=12, m=5)
    model = init(torch, nn.Sequential(nn.Conv2d(3, chan, kernel_size=3, bias=True, padding=1), nn.BatchNorm2d(chan),
                                      deq, nn.BatchNorm2d(chan), nn.AvgPool2d(8, 8), nn.Flatten(),
                                      nn.Linear(chan, 10)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = images(torch, 24, (3, 8, 8), 10)
    losses, forward_res, backward_res = [], [], []
    model.train()
    for step in range(3):
        X, Y = x[8 * step:8 * step + 8], y[8 * step:8 * step + 8]
        yp = model(X)
        loss = nn.CrossEntropyLoss()(yp, Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        forward_res.append(deq.forward_res)
        backward_res.append(deq.backward_res)
    return {"losses": losses, "metric": [forward_res, backward_res, f.conv1.weight.detach().numpy()]}
