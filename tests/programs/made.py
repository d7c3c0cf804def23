"""MADE, after karpathy/pytorch-made (made.py, run.py; MIT): https://github.com/karpathy/pytorch-made

``MaskedLinear`` subclasses ``nn.Linear`` with a mask buffer set by ``self.mask.data.copy_(torch.from_numpy(
mask.astype(np.uint8).T))`` and applies ``F.linear(input, self.mask * self.weight, self.bias)`` (a uint8 mask
times a float weight); connectivity from NumPy-drawn degrees, resampled each step (``num_masks``) with a seeded
``np.random.RandomState``; ensembles over masks at test time; the sum of ``binary_cross_entropy_with_logits``
per batch. Adapted: 12-bit binarised vectors with structure (each bit repeats its neighbour with probability
0.8) instead of binarised MNIST; hidden 32-32, 2 masks, batch 16, 6 Adam steps; test NLL averaged over both masks.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MaskedLinear(nn.Linear):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__(in_features, out_features, bias)
        self.register_buffer('mask', torch.ones(out_features, in_features))

    def set_mask(self, mask):
        self.mask.data.copy_(torch.from_numpy(mask.astype(np.uint8).T))

    def forward(self, input):
        return F.linear(input, self.mask * self.weight, self.bias)


class MADE(nn.Module):
    def __init__(self, nin, hidden_sizes, nout, num_masks=1, natural_ordering=False):
        super().__init__()
        self.nin, self.nout, self.hidden_sizes = nin, nout, hidden_sizes
        assert self.nout % self.nin == 0, "nout must be integer multiple of nin"
        self.net = []
        hs = [nin] + hidden_sizes + [nout]
        for h0, h1 in zip(hs, hs[1:]):
            self.net.extend([MaskedLinear(h0, h1), nn.ReLU()])
        self.net.pop()
        self.net = nn.Sequential(*self.net)
        self.natural_ordering = natural_ordering
        self.num_masks = num_masks
        self.seed = 0
        self.m = {}
        self.update_masks()

    def update_masks(self):
        if self.m and self.num_masks == 1:
            return
        L = len(self.hidden_sizes)
        rng = np.random.RandomState(self.seed)
        self.seed = (self.seed + 1) % self.num_masks
        self.m[-1] = np.arange(self.nin) if self.natural_ordering else rng.permutation(self.nin)
        for l in range(L):
            self.m[l] = rng.randint(self.m[l - 1].min(), self.nin - 1, size=self.hidden_sizes[l])
        masks = [self.m[l - 1][:, None] <= self.m[l][None, :] for l in range(L)]
        masks.append(self.m[L - 1][:, None] < self.m[-1][None, :])
        if self.nout > self.nin:
            k = int(self.nout / self.nin)
            masks[-1] = np.concatenate([masks[-1]] * k, axis=1)
        layers = [l for l in self.net.modules() if isinstance(l, MaskedLinear)]
        for l, m in zip(layers, masks):
            l.set_mask(m)

    def forward(self, x):
        return self.net(x)


def binary_data(n, d, rng):
    x = np.zeros((n, d), dtype=np.float32)
    x[:, 0] = rng.random(n) < 0.5
    for j in range(1, d):
        keep = rng.random(n) < 0.8
        x[:, j] = np.where(keep, x[:, j - 1], rng.random(n) < 0.5)
    return x


def main(init):
    rng = np.random.default_rng(0)
    xtr, xte = torch.from_numpy(binary_data(96, 12, rng)), torch.from_numpy(binary_data(32, 12, rng))
    model = init(torch, MADE(12, [32, 32], 12, num_masks=2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    losses = []
    model.train()
    for step in range(6):
        xb = xtr[16 * step:16 * step + 16]
        model.update_masks()
        xbhat = model(xb)
        loss = F.binary_cross_entropy_with_logits(xbhat, xb, reduction='sum') / xb.size(0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        xbhat = torch.zeros_like(xte)
        for s in range(2):
            model.update_masks()
            xbhat += model(xte)
        xbhat /= 2
        test_loss = F.binary_cross_entropy_with_logits(xbhat, xte, reduction='sum').item() / xte.size(0)
    return {"losses": losses, "metric": [test_loss, model.net[0].mask.numpy(), xbhat.numpy()]}
