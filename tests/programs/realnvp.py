"""RealNVP on two moons, after senya-ashukha/real-nvp-pytorch (real-nvp-pytorch.ipynb, MIT):
https://github.com/senya-ashukha/real-nvp-pytorch

Affine coupling layers with alternating binary masks held as a frozen ``nn.Parameter``, a
``torch.distributions.MultivariateNormal`` prior whose ``log_prob`` gives the likelihood, the inverse pass for
sampling. Adapted: moons made with NumPy instead of sklearn.datasets.make_moons; hidden width 32 instead of
256; 6 steps at lr 1e-3; the prior's samples come from NumPy (``prior.sample`` draws from the library's stream)
and are scored with ``prior.log_prob``.
"""
import numpy as np
import torch
from torch import distributions, nn

losses = []


class RealNVP(nn.Module):
    def __init__(self, nets, nett, mask, prior):
        super(RealNVP, self).__init__()
        self.prior = prior
        self.mask = nn.Parameter(mask, requires_grad=False)
        self.t = torch.nn.ModuleList([nett() for _ in range(len(mask))])
        self.s = torch.nn.ModuleList([nets() for _ in range(len(mask))])

    def g(self, z):
        x = z
        for i in range(len(self.t)):
            x_ = x * self.mask[i]
            s = self.s[i](x_) * (1 - self.mask[i])
            t = self.t[i](x_) * (1 - self.mask[i])
            x = x_ + (1 - self.mask[i]) * (x * torch.exp(s) + t)
        return x

    def f(self, x):
        log_det_J, z = x.new_zeros(x.shape[0]), x
        for i in reversed(range(len(self.t))):
            z_ = self.mask[i] * z
            s = self.s[i](z_) * (1 - self.mask[i])
            t = self.t[i](z_) * (1 - self.mask[i])
            z = (1 - self.mask[i]) * (z - t) * torch.exp(-s) + z_
            log_det_J -= s.sum(dim=1)
        return z, log_det_J

    def log_prob(self, x):
        z, logp = self.f(x)
        return self.prior.log_prob(z) + logp

    def sample(self, z):
        logp = self.prior.log_prob(z)
        x = self.g(z)
        return x, logp


def make_moons(n, noise, rng):
    outer = np.linspace(0, np.pi, n // 2)
    inner = np.linspace(0, np.pi, n - n // 2)
    x = np.concatenate([np.stack([np.cos(outer), np.sin(outer)], 1),
                        np.stack([1 - np.cos(inner), 1 - np.sin(inner) - 0.5], 1)])
    return x + noise * rng.standard_normal(x.shape)


def main(init):
    losses.clear()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    nets = lambda: nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(), nn.Linear(32, 32), nn.LeakyReLU(),
                                 nn.Linear(32, 2), nn.Tanh())
    nett = lambda: nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(), nn.Linear(32, 32), nn.LeakyReLU(),
                                 nn.Linear(32, 2))
    masks = torch.from_numpy(np.array([[0, 1], [1, 0]] * 3).astype(np.float32))
    prior = distributions.MultivariateNormal(torch.zeros(2), torch.eye(2))
    flow = init(torch, RealNVP(nets, nett, masks, prior))
    optimizer = torch.optim.Adam([p for p in flow.parameters() if p.requires_grad == True], lr=1e-3)
    for t in range(6):
        noisy_moons = make_moons(64, 0.05, rng).astype(np.float32)
        loss = -flow.log_prob(torch.from_numpy(noisy_moons)).mean()
        optimizer.zero_grad()
        loss.backward(retain_graph=True)
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        z = torch.from_numpy(rng.standard_normal((16, 2)).astype(np.float32))
        x, logp = flow.sample(z)
        z_back, _ = flow.f(x)
    return {"losses": losses, "metric": [x.numpy(), logp.numpy(), z_back.numpy(), flow.mask.numpy()]}
