"""TransE knowledge-graph embeddings, after mklimasz/TransE-PyTorch (model.py, main.py; MIT):
https://github.com/mklimasz/TransE-PyTorch

Entity and relation ``nn.Embedding`` tables with a padding row, uniform initialisation in +-6/sqrt(dim), relation
rows L1-normalised once and entity rows L2-normalised in place on ``weight.data[:-1, :]`` at each forward;
L1 distance ``(h + r - t).norm(p=1, dim=1)``; ``nn.MarginRankingLoss(reduction='none')`` against target -1 on
(positive, corrupted) triples; SGD. Adapted: a made-up graph of 12 entities and 3 relations (r0: i -> i+1,
r1: i -> i+3, r2: i -> 11-i, modulo 12) instead of FB15k; dimension 8, batches of 9 triples, 6 steps; the
corrupted head or tail drawn with NumPy; evaluation ranks every tail for the first 6 triples (hits@3, MRR).
"""
import numpy as np
import torch
from torch import nn


class TransE(nn.Module):
    def __init__(self, entity_count, relation_count, norm=1, dim=100, margin=1.0):
        super(TransE, self).__init__()
        self.entity_count = entity_count
        self.relation_count = relation_count
        self.norm = norm
        self.dim = dim
        self.entities_emb = self._init_enitity_emb()
        self.relations_emb = self._init_relation_emb()
        self.criterion = nn.MarginRankingLoss(margin=margin, reduction='none')

    def _init_enitity_emb(self):
        entities_emb = nn.Embedding(num_embeddings=self.entity_count + 1, embedding_dim=self.dim,
                                    padding_idx=self.entity_count)
        uniform_range = 6 / np.sqrt(self.dim)
        entities_emb.weight.data.uniform_(-uniform_range, uniform_range)
        return entities_emb

    def _init_relation_emb(self):
        relations_emb = nn.Embedding(num_embeddings=self.relation_count + 1, embedding_dim=self.dim,
                                     padding_idx=self.relation_count)
        uniform_range = 6 / np.sqrt(self.dim)
        relations_emb.weight.data.uniform_(-uniform_range, uniform_range)
        relations_emb.weight.data[:-1, :].div_(relations_emb.weight.data[:-1, :].norm(p=1, dim=1, keepdim=True))
        return relations_emb

    def forward(self, positive_triplets, negative_triplets):
        self.entities_emb.weight.data[:-1, :].div_(
            self.entities_emb.weight.data[:-1, :].norm(p=2, dim=1, keepdim=True))
        assert positive_triplets.size()[1] == 3
        positive_distances = self._distance(positive_triplets)
        negative_distances = self._distance(negative_triplets)
        return self.loss(positive_distances, negative_distances), positive_distances, negative_distances

    def predict(self, triplets):
        return self._distance(triplets)

    def loss(self, positive_distances, negative_distances):
        target = torch.tensor([-1], dtype=torch.long)
        return self.criterion(positive_distances, negative_distances, target)

    def _distance(self, triplets):
        heads, relations, tails = triplets[:, 0], triplets[:, 1], triplets[:, 2]
        return (self.entities_emb(heads) + self.relations_emb(relations) - self.entities_emb(tails)).norm(
            p=self.norm, dim=1)


def make_graph(n=12):
    triples = [(i, 0, (i + 1) % n) for i in range(n)] + [(i, 1, (i + 3) % n) for i in range(n)]
    return np.array(triples + [(i, 2, n - 1 - i) for i in range(n)], dtype=np.int64)


def main(init):
    rng = np.random.default_rng(0)
    graph = make_graph()
    model = init(torch, TransE(12, 3, norm=1, dim=8, margin=1.0))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for step in range(6):
        batch = graph[rng.choice(len(graph), 9, replace=False)]
        positive_triples = torch.from_numpy(batch)
        head_or_tail = torch.from_numpy(rng.integers(0, 2, 9))
        random_entities = torch.from_numpy(rng.integers(0, 12, 9))
        broken_heads = torch.where(head_or_tail == 1, random_entities, positive_triples[:, 0])
        broken_tails = torch.where(head_or_tail == 0, random_entities, positive_triples[:, 2])
        negative_triples = torch.stack((broken_heads, positive_triples[:, 1], broken_tails), dim=1)
        optimizer.zero_grad()
        loss, pd, nd = model(positive_triples, negative_triples)
        loss.mean().backward()
        optimizer.step()
        losses.append(loss.mean().item())
    with torch.no_grad():
        test = torch.from_numpy(graph[:6])
        entity_ids = torch.arange(12).unsqueeze(0)
        heads = test[:, 0].reshape(-1, 1).repeat(1, 12)
        relations = test[:, 1].reshape(-1, 1).repeat(1, 12)
        tails = test[:, 2].reshape(-1, 1)
        triplets = torch.stack((heads, relations, entity_ids.repeat(6, 1)), dim=2).reshape(-1, 3)
        predictions = model.predict(triplets).reshape(6, -1)
        indices = predictions.argsort()
        zero_tensor, one_tensor = torch.tensor([0]), torch.tensor([1])
        hits_at_3 = torch.where(indices[:, :3] == tails, one_tensor, zero_tensor).sum().item()
        ranks = torch.nonzero(indices == tails)[:, 1].float().add(1.0)
        mrr = (1.0 / ranks).sum().item()
    return {"losses": losses, "metric": [hits_at_3, mrr, predictions.numpy(), model.entities_emb.weight.data.numpy()]}
