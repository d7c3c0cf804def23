"""Exact Gaussian-process regression with learned hyperparameters, after swyoon/pytorch-minimal-gaussian-process
(gp.py; no licence file, read only): https://github.com/swyoon/pytorch-minimal-gaussian-process

Log-scale hyperparameters held as 0-d ``nn.Parameter``s made by ``torch.tensor(np.log(...))`` (float64 scalars
beside float32 data, so type promotion keeps the kernel float32), exposed through ``exp`` properties; an RBF
kernel from ``|x|^2 + |z|^2^T - 2 x z^T``; ``fit`` factors ``K`` by ``torch.linalg.cholesky`` and forms
``alpha`` with two ``torch.linalg.solve`` calls; the negative log marginal likelihood minimised by Adam; the
predictive mean and variance. Adapted: 24 noisy samples of sin(3x) drawn with NumPy; 8 Adam steps at lr 0.05;
the prediction also written with ``solve_triangular`` and ``cholesky_solve`` and compared.
"""
import numpy as np
import torch
import torch.nn as nn


class GP(nn.Module):
    def __init__(self, length_scale=1., noise_scale=1., amplitude_scale=1.):
        super().__init__()
        self.length_scale_ = nn.Parameter(torch.tensor(np.log(length_scale)))
        self.noise_scale_ = nn.Parameter(torch.tensor(np.log(noise_scale)))
        self.amplitude_scale_ = nn.Parameter(torch.tensor(np.log(amplitude_scale)))

    @property
    def length_scale(self):
        return torch.exp(self.length_scale_)

    @property
    def noise_scale(self):
        return torch.exp(self.noise_scale_)

    @property
    def amplitude_scale(self):
        return torch.exp(self.amplitude_scale_)

    def forward(self, x):
        k = self.kernel_mat(self.X, x)
        v = torch.linalg.solve(self.L, k)
        mu = k.T.mm(self.alpha)
        var = self.amplitude_scale + self.noise_scale - torch.diag(v.T.mm(v))
        return mu, var

    def fit(self, X, y):
        K = self.kernel_mat(X, X) + self.noise_scale * torch.eye(len(X))
        L = torch.linalg.cholesky(K)
        alpha = torch.linalg.solve(L.T, torch.linalg.solve(L, y))
        log_ml = -0.5 * y.T.mm(alpha) - torch.log(torch.diag(L)).sum() - len(X) * 0.5 * np.log(2 * np.pi)
        self.X, self.y, self.L, self.alpha = X, y, L, alpha
        return log_ml

    def kernel_mat(self, X, Z):
        Xsq = (X ** 2).sum(dim=1, keepdim=True)
        Zsq = (Z ** 2).sum(dim=1, keepdim=True)
        sqdist = Xsq + Zsq.T - 2 * X.mm(Z.T)
        return self.amplitude_scale * torch.exp(-0.5 * sqdist / self.length_scale ** 2)

    def train_step(self, X, y, opt):
        opt.zero_grad()
        nll = -self.fit(X, y).sum()
        nll.backward()
        opt.step()
        return {'loss': nll.item(), 'length': self.length_scale.detach(), 'noise': self.noise_scale.detach()}


def main(init):
    rng = np.random.default_rng(0)
    X = np.sort(rng.uniform(-2, 2, (24, 1)), axis=0).astype(np.float32)
    y = (np.sin(3 * X) + 0.1 * rng.standard_normal(X.shape)).astype(np.float32)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    model = init(torch, GP(length_scale=0.5, noise_scale=0.3))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for step in range(8):
        out = model.train_step(X, y, opt)
        losses.append(out['loss'])
    Xs = torch.linspace(-2.5, 2.5, 11).unsqueeze(1)
    with torch.no_grad():
        model.fit(X, y)
        mu, var = model(Xs)
        k = model.kernel_mat(X, Xs)
        v = torch.linalg.solve_triangular(model.L, k, upper=False)
        mu2 = k.T @ torch.cholesky_solve(y, model.L)
    return {"losses": losses, "metric": [mu.numpy(), var.numpy(), (v - torch.linalg.solve(model.L, k)).abs().max()
                                         .item() < 1e-4, mu2.numpy(), str(mu.dtype).split('.')[-1],
                                         out['length'].item(), out['noise'].item()]}
