"""Barlow Twins, after facebookresearch/barlowtwins (main.py; MIT):
https://github.com/facebookresearch/barlowtwins

A backbone whose classifier is ``nn.Identity()``, a Linear-BatchNorm1d-ReLU projector, ``nn.BatchNorm1d(affine=
False)`` on both views' embeddings, the cross-correlation ``bn(z1).T @ bn(z2)`` divided in place by the batch
size, ``torch.diagonal(c).add_(-1).pow_(2).sum()`` (in-place ops on a view of a graph tensor), the off-diagonal
elements through ``flatten()[:-1].view(n - 1, n + 1)[:, 1:]``, and the repo's LARS optimizer (a
``torch.optim.Optimizer`` subclass with weight-decay and adaptation filters, trust ratio by ``torch.where``, a
momentum buffer in ``self.state``) with biases and norms in their own parameter group. Adapted: a small conv
backbone instead of ResNet-50, 8x8 fake images with NumPy noise and flips as the two augmentations, projector
32-32-32, batch 16, 5 steps, the cosine warm-up learning rate of ``adjust_learning_rate`` over 10 steps.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim

from _harness import Args, images


def off_diagonal(x):
    n, m = x.shape
    assert n == m
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                                      nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16),
                                      nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)))
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class BarlowTwins(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.backbone = Backbone()
        self.backbone.fc = nn.Identity()
        sizes = [16] + list(map(int, args.projector.split('-')))
        layers = []
        for i in range(len(sizes) - 2):
            layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=False))
            layers.append(nn.BatchNorm1d(sizes[i + 1]))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Linear(sizes[-2], sizes[-1], bias=False))
        self.projector = nn.Sequential(*layers)
        self.bn = nn.BatchNorm1d(sizes[-1], affine=False)

    def forward(self, y1, y2):
        z1 = self.projector(self.backbone(y1))
        z2 = self.projector(self.backbone(y2))
        c = self.bn(z1).T @ self.bn(z2)
        c.div_(self.args.batch_size)
        on_diag = torch.diagonal(c).add_(-1).pow_(2).sum()
        off_diag = off_diagonal(c).pow_(2).sum()
        return on_diag + self.args.lambd * off_diag


class LARS(optim.Optimizer):
    def __init__(self, params, lr, weight_decay=0, momentum=0.9, eta=0.001, weight_decay_filter=None,
                 lars_adaptation_filter=None):
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta,
                        weight_decay_filter=weight_decay_filter, lars_adaptation_filter=lars_adaptation_filter)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g['params']:
                dp = p.grad
                if dp is None:
                    continue
                if g['weight_decay_filter'] is None or not g['weight_decay_filter'](p):
                    dp = dp.add(p, alpha=g['weight_decay'])
                if g['lars_adaptation_filter'] is None or not g['lars_adaptation_filter'](p):
                    param_norm = torch.norm(p)
                    update_norm = torch.norm(dp)
                    one = torch.ones_like(param_norm)
                    q = torch.where(param_norm > 0.,
                                    torch.where(update_norm > 0, (g['eta'] * param_norm / update_norm), one), one)
                    dp = dp.mul(q)
                param_state = self.state[p]
                if 'mu' not in param_state:
                    param_state['mu'] = torch.zeros_like(p)
                mu = param_state['mu']
                mu.mul_(g['momentum']).add_(dp)
                p.add_(mu, alpha=-g['lr'])


def exclude_bias_and_norm(p):
    return p.ndim == 1


def adjust_learning_rate(args, optimizer, step):
    max_steps = args.epochs * args.steps_per_epoch
    warmup_steps = 2 * args.steps_per_epoch
    base_lr = args.batch_size / 256
    if step < warmup_steps:
        lr = base_lr * step / warmup_steps
    else:
        step -= warmup_steps
        max_steps -= warmup_steps
        q = 0.5 * (1 + math.cos(math.pi * step / max_steps))
        end_lr = base_lr * 0.001
        lr = base_lr * q + end_lr * (1 - q)
    optimizer.param_groups[0]['lr'] = lr * args.learning_rate_weights
    optimizer.param_groups[1]['lr'] = lr * args.learning_rate_biases


def main(init):
    args = Args(projector='32-32-32', batch_size=16, lambd=0.0051, epochs=5, steps_per_epoch=2,
                learning_rate_weights=0.2, learning_rate_biases=0.0048, weight_decay=1e-6)
    rng = np.random.default_rng(0)
    model = init(torch, BarlowTwins(args))
    param_weights, param_biases = [], []
    for param in model.parameters():
        if param.ndim == 1:
            param_biases.append(param)
        else:
            param_weights.append(param)
    parameters = [{'params': param_weights}, {'params': param_biases}]
    optimizer = LARS(parameters, lr=0, weight_decay=args.weight_decay, weight_decay_filter=exclude_bias_and_norm,
                     lars_adaptation_filter=exclude_bias_and_norm)
    x, _ = images(torch, 80, (3, 8, 8), 10)
    losses = []
    for step in range(5):
        batch = x[16 * step:16 * step + 16]
        y1 = batch + torch.from_numpy(0.3 * rng.standard_normal(batch.shape).astype(np.float32))
        y2 = torch.flip(batch, dims=[3]) * torch.from_numpy(rng.uniform(0.6, 1.4, (16, 1, 1, 1)).astype(np.float32))
        adjust_learning_rate(args, optimizer, step + 1)
        optimizer.zero_grad()
        loss = model.forward(y1, y2)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        model.eval()
        feats = F.normalize(model.backbone(x[:8]), dim=1)
    mu = optimizer.state[param_weights[0]]['mu']
    return {"losses": losses, "metric": [feats.numpy(), mu.numpy(), optimizer.param_groups[1]['lr']]}
