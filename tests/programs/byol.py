"""BYOL, after lucidrains/byol-pytorch (byol_pytorch/byol_pytorch.py; MIT):
https://github.com/lucidrains/byol-pytorch

An online encoder wrapped with a projector MLP (Linear, BatchNorm1d, ReLU, Linear) whose hidden layer is read
through a forward hook, a predictor MLP, a target encoder made by ``copy.deepcopy`` with ``requires_grad`` set
off, the normalised-MSE loss ``2 - 2 * (F.normalize(x) * F.normalize(y)).sum(-1)`` symmetrised over the two
views with the target's outputs ``detach_()``ed, and the exponential moving average that assigns
``ma_params.data = old * beta + (1 - beta) * new`` after each step. Adapted: a small conv net instead of a
ResNet, 8x8 fake images with NumPy noise and flips in place of the kornia augmentations, projection 16,
hidden 32, batch 8, beta 0.9; 5 SGD steps instead of Adam (the biases just before batch norm get gradients that
are zero up to rounding, which Adam would scale to full steps).
"""
import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from _harness import images


def loss_fn(x, y):
    x = F.normalize(x, dim=-1, p=2)
    y = F.normalize(y, dim=-1, p=2)
    return 2 - 2 * (x * y).sum(dim=-1)


def set_requires_grad(model, val):
    for p in model.parameters():
        p.requires_grad = val


class EMA():
    def __init__(self, beta):
        super().__init__()
        self.beta = beta

    def update_average(self, old, new):
        if old is None:
            return new
        return old * self.beta + (1 - self.beta) * new


def update_moving_average(ema_updater, ma_model, current_model):
    for current_params, ma_params in zip(current_model.parameters(), ma_model.parameters()):
        old_weight, up_weight = ma_params.data, current_params.data
        ma_params.data = ema_updater.update_average(old_weight, up_weight)


def MLP(dim, projection_size, hidden_size=4096):
    return nn.Sequential(nn.Linear(dim, hidden_size), nn.BatchNorm1d(hidden_size), nn.ReLU(inplace=True),
                         nn.Linear(hidden_size, projection_size))


class NetWrapper(nn.Module):
    def __init__(self, net, projection_size, projection_hidden_size, layer=-2):
        super().__init__()
        self.net = net
        self.layer = layer
        self.projector = None
        self.projection_size = projection_size
        self.projection_hidden_size = projection_hidden_size
        self.hidden = {}
        self.hook_registered = False

    def _find_layer(self):
        children = [*self.net.children()]
        return children[self.layer]

    def _hook(self, _, input, output):
        self.hidden[input[0].device] = output.flatten(1)

    def _register_hook(self):
        self._find_layer().register_forward_hook(self._hook)
        self.hook_registered = True

    def _get_projector(self, hidden):
        if self.projector is None:
            _, dim = hidden.shape
            self.projector = MLP(dim, self.projection_size, self.projection_hidden_size)
        return self.projector

    def get_representation(self, x):
        if not self.hook_registered:
            self._register_hook()
        self.hidden.clear()
        _ = self.net(x)
        hidden = self.hidden[x.device]
        self.hidden.clear()
        return hidden

    def forward(self, x):
        representation = self.get_representation(x)
        projector = self._get_projector(representation)
        return projector(representation), representation


class BYOL(nn.Module):
    def __init__(self, net, image_size, hidden_layer=-2, projection_size=16, projection_hidden_size=32,
                 moving_average_decay=0.9):
        super().__init__()
        self.net = net
        self.online_encoder = NetWrapper(net, projection_size, projection_hidden_size, layer=hidden_layer)
        self.target_encoder = None
        self.target_ema_updater = EMA(moving_average_decay)
        self.online_predictor = MLP(projection_size, projection_size, projection_hidden_size)
        self.forward(torch.zeros(2, 3, image_size, image_size), torch.zeros(2, 3, image_size, image_size))

    def _get_target_encoder(self):
        if self.target_encoder is None:
            self.target_encoder = copy.deepcopy(self.online_encoder)
            set_requires_grad(self.target_encoder, False)
        return self.target_encoder

    def update_moving_average(self):
        update_moving_average(self.target_ema_updater, self.target_encoder, self.online_encoder)

    def forward(self, image_one, image_two):
        images = torch.cat((image_one, image_two), dim=0)
        online_projections, _ = self.online_encoder(images)
        online_predictions = self.online_predictor(online_projections)
        online_pred_one, online_pred_two = online_predictions.chunk(2, dim=0)
        with torch.no_grad():
            target_encoder = self._get_target_encoder()
            target_projections, _ = target_encoder(images)
            target_projections = target_projections.detach()
            target_proj_one, target_proj_two = target_projections.chunk(2, dim=0)
        loss_one = loss_fn(online_pred_one, target_proj_two.detach())
        loss_two = loss_fn(online_pred_two, target_proj_one.detach())
        loss = loss_one + loss_two
        return loss.mean()


def main(init):
    rng = np.random.default_rng(0)
    resnet = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    learner = init(torch, BYOL(resnet, image_size=8, hidden_layer=-2))
    opt = torch.optim.SGD(learner.parameters(), lr=0.1, momentum=0.9)
    x, _ = images(torch, 40, (3, 8, 8), 10)
    losses = []
    for step in range(5):
        batch = x[8 * step:8 * step + 8]
        view_one = batch + torch.from_numpy(0.2 * rng.standard_normal(batch.shape).astype(np.float32))
        view_two = torch.flip(batch, dims=[3])
        loss = learner(view_one, view_two)
        opt.zero_grad()
        loss.backward()
        opt.step()
        learner.update_moving_average()
        losses.append(loss.item())
    with torch.no_grad():
        learner.eval()
        projection, embedding = learner.online_encoder(x[:4])
    target_w = learner.target_encoder.net[0].weight
    return {"losses": losses, "metric": [projection.numpy(), embedding.numpy(), target_w.numpy(),
                                         target_w.requires_grad]}
