"""Online triplet mining, after adambielski/siamese-triplet (networks.py, losses.py, utils.py; BSD-3-Clause):
https://github.com/adambielski/siamese-triplet

An ``EmbeddingNet`` (conv, PReLU, max-pool, fully connected), a ``BalancedBatchSampler``-style batch (n classes
times n samples), the squared pairwise distance matrix written as ``-2 x x^T + |x|^2 + |x|^2^T``, a
``HardestNegativeTripletSelector`` that picks negatives on a NumPy copy of the distances, and the online triplet
loss ``F.relu(ap - an + margin).mean()``. Adapted: 8x8 fake images instead of MNIST, 4 classes of 3 samples,
5 SGD steps instead of Adam (distances do not move when every embedding shifts, so the last bias's gradient is
rounding noise, which Adam would blow up to a full step); afterwards the same triplets scored with ``nn.TripletMarginLoss`` and ``torch.cdist``.
"""
from itertools import combinations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class EmbeddingNet(nn.Module):
    def __init__(self):
        super(EmbeddingNet, self).__init__()
        self.convnet = nn.Sequential(nn.Conv2d(1, 8, 3), nn.PReLU(), nn.MaxPool2d(2, stride=2),
                                     nn.Conv2d(8, 16, 3), nn.PReLU())
        self.fc = nn.Sequential(nn.Linear(16 * 1 * 1, 32), nn.PReLU(), nn.Linear(32, 2))

    def forward(self, x):
        output = self.convnet(x)
        output = output.view(output.size()[0], -1)
        return self.fc(output)


def pdist(vectors):
    return -2 * vectors.mm(torch.t(vectors)) + vectors.pow(2).sum(dim=1).view(1, -1) \
        + vectors.pow(2).sum(dim=1).view(-1, 1)


def get_triplets(embeddings, labels, margin):
    distance_matrix = pdist(embeddings).cpu().detach().numpy()
    labels = labels.cpu().data.numpy()
    triplets = []
    for label in set(labels):
        label_mask = labels == label
        label_indices = np.where(label_mask)[0]
        negative_indices = np.where(np.logical_not(label_mask))[0]
        for anchor_positive in combinations(label_indices, 2):
            ap_distance = distance_matrix[anchor_positive[0], anchor_positive[1]]
            loss_values = ap_distance - distance_matrix[anchor_positive[0], negative_indices] + margin
            hard_negative = int(np.argmax(loss_values))
            triplets.append([anchor_positive[0], anchor_positive[1], negative_indices[hard_negative]])
    return torch.LongTensor(np.array(triplets))


class OnlineTripletLoss(nn.Module):
    def __init__(self, margin):
        super(OnlineTripletLoss, self).__init__()
        self.margin = margin

    def forward(self, embeddings, target):
        triplets = get_triplets(embeddings, target, self.margin)
        ap_distances = (embeddings[triplets[:, 0]] - embeddings[triplets[:, 1]]).pow(2).sum(1)
        an_distances = (embeddings[triplets[:, 0]] - embeddings[triplets[:, 2]]).pow(2).sum(1)
        losses = F.relu(ap_distances - an_distances + self.margin)
        return losses.mean(), len(triplets)


def main(init):
    rng = np.random.default_rng(0)
    model = init(torch, EmbeddingNet())
    loss_fn = OnlineTripletLoss(1.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    centers = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    losses = []
    for step in range(5):
        labels = np.repeat(np.arange(4), 3)
        x = centers[labels] + 0.5 * rng.standard_normal((12, 1, 8, 8)).astype(np.float32)
        data, target = torch.from_numpy(x), torch.from_numpy(labels)
        optimizer.zero_grad()
        loss, n_triplets = loss_fn(model(data), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        emb = model(data)
        triplets = get_triplets(emb, target, 1.0)
        builtin = nn.TripletMarginLoss(margin=1.0, p=2)(emb[triplets[:, 0]], emb[triplets[:, 1]],
                                                         emb[triplets[:, 2]])
        dist = torch.cdist(emb, emb)
    return {"losses": losses, "metric": [n_triplets, builtin.item(), dist.numpy(), triplets.numpy()]}
