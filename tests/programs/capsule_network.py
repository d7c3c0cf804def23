"""Capsule network with dynamic routing, after gram-ai/capsule-networks (capsule_networks.py; Apache-2.0):
https://github.com/gram-ai/capsule-networks

Primary capsules as parallel convolutions stacked and squashed; digit capsules with a route-weight tensor
(classes, routes, in, out) multiplied by ``x[None, :, :, None, :] @ self.route_weights[:, None, :, :, :]``;
three routing iterations with softmax over routes; the margin loss and the masked reconstruction decoder.
Adapted: 12x12 fake images instead of 28x28 MNIST, 16 conv channels, 4 primary capsule units of 8 channels,
4 classes, 5 Adam steps; ``softmax`` takes ``dim`` directly (the repo transposes around ``F.softmax``).
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from _harness import images

NUM_CLASSES = 4
NUM_ROUTING_ITERATIONS = 3


class CapsuleLayer(nn.Module):
    def __init__(self, num_capsules, num_route_nodes, in_channels, out_channels, kernel_size=None, stride=None,
                 num_iterations=NUM_ROUTING_ITERATIONS):
        super(CapsuleLayer, self).__init__()
        self.num_route_nodes = num_route_nodes
        self.num_iterations = num_iterations
        self.num_capsules = num_capsules
        if num_route_nodes != -1:
            self.route_weights = nn.Parameter(torch.randn(num_capsules, num_route_nodes, in_channels, out_channels))
        else:
            self.capsules = nn.ModuleList(
                [nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=stride, padding=0)
                 for _ in range(num_capsules)])

    @staticmethod
    def squash(tensor, dim=-1):
        squared_norm = (tensor ** 2).sum(dim=dim, keepdim=True)
        scale = squared_norm / (1 + squared_norm)
        return scale * tensor / torch.sqrt(squared_norm)

    def forward(self, x):
        if self.num_route_nodes != -1:
            priors = x[None, :, :, None, :] @ self.route_weights[:, None, :, :, :]
            logits = torch.zeros(*priors.size())
            for i in range(self.num_iterations):
                probs = F.softmax(logits, dim=2)
                outputs = self.squash((probs * priors).sum(dim=2, keepdim=True))
                if i != self.num_iterations - 1:
                    delta_logits = (priors * outputs).sum(dim=-1, keepdim=True)
                    logits = logits + delta_logits
        else:
            outputs = [capsule(x).view(x.size(0), -1, 1) for capsule in self.capsules]
            outputs = torch.cat(outputs, dim=-1)
            outputs = self.squash(outputs)
        return outputs


class CapsuleNet(nn.Module):
    def __init__(self):
        super(CapsuleNet, self).__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=16, kernel_size=5, stride=1)
        self.primary_capsules = CapsuleLayer(num_capsules=4, num_route_nodes=-1, in_channels=16, out_channels=8,
                                             kernel_size=3, stride=2)
        self.digit_capsules = CapsuleLayer(num_capsules=NUM_CLASSES, num_route_nodes=8 * 3 * 3, in_channels=4,
                                           out_channels=8)
        self.decoder = nn.Sequential(nn.Linear(8 * NUM_CLASSES, 32), nn.ReLU(inplace=True), nn.Linear(32, 144),
                                     nn.Sigmoid())

    def forward(self, x, y=None):
        x = F.relu(self.conv1(x), inplace=True)
        x = self.primary_capsules(x)
        x = self.digit_capsules(x).squeeze().transpose(0, 1)
        classes = (x ** 2).sum(dim=-1) ** 0.5
        classes = F.softmax(classes, dim=-1)
        if y is None:
            _, max_length_indices = classes.max(dim=1)
            y = torch.eye(NUM_CLASSES).index_select(dim=0, index=max_length_indices.data)
        reconstructions = self.decoder((x * y[:, :, None]).reshape(x.size(0), -1))
        return classes, reconstructions


class CapsuleLoss(nn.Module):
    def __init__(self):
        super(CapsuleLoss, self).__init__()
        self.reconstruction_loss = nn.MSELoss(reduction='sum')

    def forward(self, images, labels, classes, reconstructions):
        left = F.relu(0.9 - classes, inplace=True) ** 2
        right = F.relu(classes - 0.1, inplace=True) ** 2
        margin_loss = labels * left + 0.5 * (1. - labels) * right
        margin_loss = margin_loss.sum()
        images = images.view(reconstructions.size()[0], -1)
        reconstruction_loss = self.reconstruction_loss(reconstructions, images)
        return (margin_loss + 0.0005 * reconstruction_loss) / images.size(0)


def main(init):
    model = init(torch, CapsuleNet())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    capsule_loss = CapsuleLoss()
    x, y = images(torch, 20, (1, 12, 12), NUM_CLASSES)
    x = x.sigmoid()
    losses = []
    for step in range(5):
        data, labels = x[4 * step:4 * step + 4], y[4 * step:4 * step + 4]
        labels = torch.eye(NUM_CLASSES).index_select(dim=0, index=labels)
        optimizer.zero_grad()
        classes, reconstructions = model(data, labels)
        loss = capsule_loss(data, labels, classes, reconstructions)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        classes, reconstructions = model(x[:6])
    return {"losses": losses, "metric": [classes.numpy(), reconstructions.numpy()]}
