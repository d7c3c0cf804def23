"""pytorch/examples gcn: https://github.com/pytorch/examples/blob/main/gcn/main.py (BSD-3-Clause).

Adapted: a made-up graph (40 nodes in 3 communities, 12 binary features each) written as cora.content and
cora.cites in a temporary folder instead of the Cora download; the node split comes from NumPy (torch.randperm
draws from torch's stream); dropout 0; 5 epochs.
"""
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim import Adam

from _harness import Args



class GraphConv(nn.Module):
    def __init__(self, input_dim, output_dim, use_bias=False):
        super(GraphConv, self).__init__()
        self.kernel = nn.Parameter(torch.Tensor(input_dim, output_dim))
        nn.init.xavier_normal_(self.kernel)
        self.bias = None
        if use_bias:
            self.bias = nn.Parameter(torch.Tensor(output_dim))
            nn.init.zeros_(self.bias)

    def forward(self, input_tensor, adj_mat):
        support = torch.mm(input_tensor, self.kernel)
        output = torch.spmm(adj_mat, support)
        if self.bias is not None:
            output = output + self.bias
        return output


class GCN(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, use_bias=True, dropout_p=0.1):
        super(GCN, self).__init__()
        self.gc1 = GraphConv(input_dim, hidden_dim, use_bias=use_bias)
        self.gc2 = GraphConv(hidden_dim, output_dim, use_bias=use_bias)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, input_tensor, adj_mat):
        x = self.gc1(input_tensor, adj_mat)
        x = F.relu(x)
        x = self.dropout(x)
        x = self.gc2(x, adj_mat)
        return F.log_softmax(x, dim=1)


def load_cora(path='./cora', device='cpu'):
    content_path = os.path.join(path, 'cora.content')
    cites_path = os.path.join(path, 'cora.cites')
    content_tensor = np.genfromtxt(content_path, dtype=np.dtype(str))
    cites_tensor = np.genfromtxt(cites_path, dtype=np.int32)
    features = torch.FloatTensor(content_tensor[:, 1:-1].astype(np.int32))
    scale_vector = torch.sum(features, dim=1)
    scale_vector = 1 / scale_vector
    scale_vector[scale_vector == float('inf')] = 0
    scale_vector = torch.diag(scale_vector).to_sparse()
    features = scale_vector @ features
    classes, labels = np.unique(content_tensor[:, -1], return_inverse=True)
    labels = torch.LongTensor(labels)
    idx = content_tensor[:, 0].astype(np.int32)
    idx_map = {id: pos for pos, id in enumerate(idx)}
    edges = np.array(list(map(lambda edge: [idx_map[edge[0]], idx_map[edge[1]]], cites_tensor)), dtype=np.int32)
    V = len(idx)
    E = edges.shape[0]
    adj_mat = torch.sparse_coo_tensor(edges.T, torch.ones(E), (V, V), dtype=torch.int64)
    adj_mat = torch.eye(V) + adj_mat
    degree_mat = torch.sum(adj_mat, dim=1)
    degree_mat = torch.sqrt(1 / degree_mat)
    degree_mat[degree_mat == float('inf')] = 0
    degree_mat = torch.diag(degree_mat).to_sparse()
    adj_mat = degree_mat @ adj_mat @ degree_mat
    return features.to_sparse().to(device), labels.to(device), adj_mat.to_sparse().to(device)


def write_graph(path):
    rng = np.random.default_rng(0)
    community = rng.integers(0, 3, 40)
    feats = (rng.random((40, 12)) < 0.2 + 0.5 * (np.arange(12)[None] % 3 == community[:, None])).astype(int)
    with open(os.path.join(path, 'cora.content'), 'w') as f:
        for i in range(40):
            f.write(f"{1000 + i} " + " ".join(map(str, feats[i])) + f" class{community[i]}\n")
    with open(os.path.join(path, 'cora.cites'), 'w') as f:
        for _ in range(80):
            a, b = rng.integers(0, 40, 2)
            if a != b and (community[a] == community[b] or rng.random() < 0.2):
                f.write(f"{1000 + a} {1000 + b}\n")


def main(init):
    losses, evals = [], []

    def train_iter(epoch, model, optimizer, criterion, input, target, mask_train, mask_val, print_every=10):
        model.train()
        optimizer.zero_grad()
        output = model(*input)
        loss = criterion(output[mask_train], target[mask_train])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        evals.append([test(model, criterion, input, target, mask_train), test(model, criterion, input, target,
                                                                              mask_val)])

    def test(model, criterion, input, target, mask):
        model.eval()
        with torch.no_grad():
            output = model(*input)
            output, target = output[mask], target[mask]
            loss = criterion(output, target)
            acc = (output.argmax(dim=1) == target).float().sum() / len(target)
        return loss.item(), acc.item()

    args = Args(epochs=5, lr=0.01, l2=5e-4, dropout_p=0.0, hidden_dim=16, val_every=20, include_bias=False,
                no_accel=False, dry_run=False, seed=42)
    use_accel = not args.no_accel and torch.accelerator.is_available()
    torch.manual_seed(args.seed)
    device = torch.accelerator.current_accelerator() if use_accel else torch.device('cpu')
    with tempfile.TemporaryDirectory() as tmp:
        write_graph(tmp)
        features, labels, adj_mat = load_cora(tmp, device=device)
    idx = torch.tensor(np.random.default_rng(1).permutation(len(labels))).to(device)
    idx_test, idx_val, idx_train = idx[:10], idx[10:20], idx[20:]
    gcn = GCN(features.shape[1], args.hidden_dim, labels.max().item() + 1, args.include_bias, args.dropout_p).to(device)
    init(torch, gcn)
    optimizer = Adam(gcn.parameters(), lr=args.lr, weight_decay=args.l2)
    criterion = nn.NLLLoss()
    for epoch in range(args.epochs):
        train_iter(epoch + 1, gcn, optimizer, criterion, (features, adj_mat), labels, idx_train, idx_val,
                   args.val_every)
    return {"losses": losses, "metric": [evals, test(gcn, criterion, (features, adj_mat), labels, idx_test)]}
