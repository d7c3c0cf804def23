"""A mixture density network (Bishop 1994) on the inverse-sine toy problem, after sagelywizard/pytorch-mdn
(mdn/mdn.py and example.py, MIT): https://github.com/sagelywizard/pytorch-mdn

The network outputs mixing weights, scales and means; it trains on the negative log-likelihood written with
``torch.distributions`` (``MixtureSameFamily`` of ``Independent(Normal)``), the way newer MDN code does, and
also reports pytorch-mdn's hand-written likelihood (products of Gaussian densities). Sampling follows
pytorch-mdn's ``sample`` with the component choice and the noise from NumPy. Adapted: 96 points, hidden 16,
5 mixture components, 8 Adam steps in batches of 32.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

ONEOVERSQRT2PI = 1.0 / math.sqrt(2 * math.pi)
losses = []


class MDN(nn.Module):
    def __init__(self, in_features, out_features, num_gaussians):
        super(MDN, self).__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.num_gaussians = num_gaussians
        self.pi = nn.Sequential(nn.Linear(in_features, num_gaussians), nn.Softmax(dim=1))
        self.sigma = nn.Linear(in_features, out_features * num_gaussians)
        self.mu = nn.Linear(in_features, out_features * num_gaussians)

    def forward(self, minibatch):
        pi = self.pi(minibatch)
        sigma = torch.exp(self.sigma(minibatch))
        sigma = sigma.view(-1, self.num_gaussians, self.out_features)
        mu = self.mu(minibatch)
        mu = mu.view(-1, self.num_gaussians, self.out_features)
        return pi, sigma, mu


def gaussian_probability(sigma, mu, target):
    target = target.unsqueeze(1).expand_as(sigma)
    ret = ONEOVERSQRT2PI * torch.exp(-0.5 * ((target - mu) / sigma) ** 2) / sigma
    return torch.prod(ret, 2)


def mdn_loss(pi, sigma, mu, target):
    prob = pi * gaussian_probability(sigma, mu, target)
    nll = -torch.log(torch.sum(prob, dim=1))
    return torch.mean(nll)


def mixture(pi, sigma, mu):
    return MixtureSameFamily(Categorical(probs=pi), Independent(Normal(mu, sigma), 1))


def sample(pi, sigma, mu, rng):
    pis = [int(np.searchsorted(np.cumsum(row), rng.random() * row.sum())) for row in pi.detach().numpy()]
    draws = sigma.data.new(sigma.size(0), sigma.size(2)).zero_()
    draws += torch.from_numpy(rng.standard_normal(tuple(draws.shape)).astype(np.float32))
    for i, idx in enumerate(pis):
        draws[i] = draws[i].mul(sigma[i, idx]).add(mu[i, idx])
    return draws


def main(init):
    losses.clear()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    # Bishop's toy inverse problem: x = y + 0.3 sin(2 pi y) + noise, predict y from x (several branches)
    y = rng.uniform(0, 1, (96, 1)).astype(np.float32)
    x = (y + 0.3 * np.sin(2 * np.pi * y) + rng.uniform(-0.1, 0.1, y.shape)).astype(np.float32)
    x_data, y_data = torch.from_numpy(x), torch.from_numpy(y)
    model = init(torch, nn.Sequential(nn.Linear(1, 16), nn.Tanh(), MDN(16, 1, 5)))
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(8):
        i = (epoch % 3) * 32
        minibatch, labels = x_data[i:i + 32], y_data[i:i + 32]
        model.zero_grad()
        pi, sigma, mu = model(minibatch)
        loss = -mixture(pi, sigma, mu).log_prob(labels).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        pi, sigma, mu = model(x_data[:16])
        dist = mixture(pi, sigma, mu)
        hand = mdn_loss(pi, sigma, mu, y_data[:16]).item()
        samples = sample(pi, sigma, mu, rng)
        mean, var = dist.mean, dist.variance
    return {"losses": losses, "metric": [hand, samples.numpy(), mean.numpy(), var.numpy()]}
