"""Prototypical networks for few-shot classification, after jakesnell/prototypical-networks
(protonets/models/few_shot.py, protonets/models/utils.py; MIT): https://github.com/jakesnell/prototypical-networks

A conv-block encoder ending in a ``Flatten`` module; support and query images concatenated through
``view(n_class * n_support, *xs.size()[2:])``; class prototypes as the mean of support embeddings; squared
Euclidean distances by ``unsqueeze(1).expand(n, m, d)`` minus ``unsqueeze(0).expand``; ``F.log_softmax(-dists)``
gathered at ``arange(...).view(n_class, 1, 1).expand(n_class, n_query, 1)`` targets; accuracy from
``log_p_y.max(2)``. Adapted: 5-way 2-shot 3-query episodes of 8x8 fake images drawn from 10 class centres with
NumPy instead of Omniglot; 2 conv blocks of 8 channels; 5 Adam steps; a held-out episode in eval mode.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# A conv bias before batch norm has zero gradient up to rounding, which Adam scales to a full step; training
# mode cancels it, but the eval-mode running means lag behind, so the held-out episode differs by ~1e-3.
METRIC_TOLERANCE = dict(rtol=5e-3, atol=1e-3)

class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


def euclidean_dist(x, y):
    n, m, d = x.size(0), y.size(0), x.size(1)
    assert d == y.size(1)
    x = x.unsqueeze(1).expand(n, m, d)
    y = y.unsqueeze(0).expand(n, m, d)
    return torch.pow(x - y, 2).sum(2)


class Protonet(nn.Module):
    def __init__(self, encoder):
        super(Protonet, self).__init__()
        self.encoder = encoder

    def loss(self, sample):
        xs, xq = sample['xs'], sample['xq']
        n_class, n_support, n_query = xs.size(0), xs.size(1), xq.size(1)
        target_inds = torch.arange(0, n_class).view(n_class, 1, 1).expand(n_class, n_query, 1).long()
        x = torch.cat([xs.view(n_class * n_support, *xs.size()[2:]), xq.view(n_class * n_query, *xq.size()[2:])], 0)
        z = self.encoder.forward(x)
        z_dim = z.size(-1)
        z_proto = z[:n_class * n_support].view(n_class, n_support, z_dim).mean(1)
        zq = z[n_class * n_support:]
        dists = euclidean_dist(zq, z_proto)
        log_p_y = F.log_softmax(-dists, dim=1).view(n_class, n_query, -1)
        loss_val = -log_p_y.gather(2, target_inds).squeeze().view(-1).mean()
        _, y_hat = log_p_y.max(2)
        acc_val = torch.eq(y_hat, target_inds.squeeze()).float().mean()
        return loss_val, {'loss': loss_val.item(), 'acc': acc_val.item()}


def conv_block(in_channels, out_channels):
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels),
                         nn.ReLU(), nn.MaxPool2d(2))


def episode(centres, rng, n_way=5, n_support=2, n_query=3):
    classes = rng.choice(len(centres), n_way, replace=False)
    x = centres[classes][:, None] + 0.7 * rng.standard_normal((n_way, n_support + n_query, *centres.shape[1:]))
    x = torch.from_numpy(x.astype(np.float32))
    return {'xs': x[:, :n_support].contiguous(), 'xq': x[:, n_support:].contiguous()}


def main(init):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((10, 1, 8, 8))
    model = init(torch, Protonet(nn.Sequential(conv_block(1, 8), conv_block(8, 8), Flatten())))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses, accs = [], []
    model.train()
    for step in range(5):
        optimizer.zero_grad()
        loss, output = model.loss(episode(centres, rng))
        loss.backward()
        optimizer.step()
        losses.append(output['loss'])
        accs.append(output['acc'])
    model.eval()
    with torch.no_grad():
        _, output = model.loss(episode(centres, rng))
    return {"losses": losses, "metric": [accs, output['loss'], output['acc']]}
