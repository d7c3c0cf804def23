"""A graph attention network in the edge-list form of gordicaleksa/pytorch-GAT (its GATLayerImp3, MIT):
https://github.com/gordicaleksa/pytorch-GAT/blob/main/models/definitions/GAT.py, with its Cora training loop.

Per-edge scores are lifted with ``index_select``, the neighbourhood softmax sums with ``scatter_add_`` and
messages are aggregated with ``index_add_`` (pytorch-GAT uses scatter_add_ there too; both are in use in GNN
code). Adapted: a made-up graph (30 nodes in 3 communities, 10 features, self loops) instead of Cora; two layers
(4 heads of 6 features, then one head), dropout 0; 6 epochs of full-batch Adam.
"""
import numpy as np
import torch
import torch.nn as nn
from torch.optim import Adam

losses = []


class GATLayer(nn.Module):
    src_nodes_dim = 0
    trg_nodes_dim = 1
    nodes_dim = 0
    head_dim = 1

    def __init__(self, num_in_features, num_out_features, num_of_heads, concat=True, activation=nn.ELU(),
                 dropout_prob=0.6, add_skip_connection=True, bias=True):
        super().__init__()
        self.num_of_heads = num_of_heads
        self.num_out_features = num_out_features
        self.concat = concat
        self.add_skip_connection = add_skip_connection
        self.linear_proj = nn.Linear(num_in_features, num_of_heads * num_out_features, bias=False)
        self.scoring_fn_target = nn.Parameter(torch.Tensor(1, num_of_heads, num_out_features))
        self.scoring_fn_source = nn.Parameter(torch.Tensor(1, num_of_heads, num_out_features))
        if bias and concat:
            self.bias = nn.Parameter(torch.Tensor(num_of_heads * num_out_features))
        elif bias:
            self.bias = nn.Parameter(torch.Tensor(num_out_features))
        else:
            self.register_parameter('bias', None)
        if add_skip_connection:
            self.skip_proj = nn.Linear(num_in_features, num_of_heads * num_out_features, bias=False)
        else:
            self.register_parameter('skip_proj', None)
        self.leakyReLU = nn.LeakyReLU(0.2)
        self.activation = activation
        self.dropout = nn.Dropout(p=dropout_prob)
        self.init_params()

    def init_params(self):
        nn.init.xavier_uniform_(self.linear_proj.weight)
        nn.init.xavier_uniform_(self.scoring_fn_target)
        nn.init.xavier_uniform_(self.scoring_fn_source)
        if self.bias is not None:
            torch.nn.init.zeros_(self.bias)

    def forward(self, data):
        in_nodes_features, edge_index = data
        num_of_nodes = in_nodes_features.shape[self.nodes_dim]
        in_nodes_features = self.dropout(in_nodes_features)
        # (N, FIN) -> (N, NH, FOUT)
        nodes_features_proj = self.linear_proj(in_nodes_features).view(-1, self.num_of_heads, self.num_out_features)
        nodes_features_proj = self.dropout(nodes_features_proj)
        scores_source = (nodes_features_proj * self.scoring_fn_source).sum(dim=-1)
        scores_target = (nodes_features_proj * self.scoring_fn_target).sum(dim=-1)
        scores_source_lifted, scores_target_lifted, nodes_features_proj_lifted = self.lift(
            scores_source, scores_target, nodes_features_proj, edge_index)
        scores_per_edge = self.leakyReLU(scores_source_lifted + scores_target_lifted)
        attentions_per_edge = self.neighborhood_aware_softmax(scores_per_edge, edge_index[self.trg_nodes_dim],
                                                              num_of_nodes)
        attentions_per_edge = self.dropout(attentions_per_edge)
        nodes_features_proj_lifted_weighted = nodes_features_proj_lifted * attentions_per_edge
        out_nodes_features = self.aggregate_neighbors(nodes_features_proj_lifted_weighted, edge_index, num_of_nodes)
        out_nodes_features = self.skip_concat_bias(in_nodes_features, out_nodes_features)
        return (out_nodes_features, edge_index)

    def neighborhood_aware_softmax(self, scores_per_edge, trg_index, num_of_nodes):
        # subtracting the global max keeps exp finite and leaves each neighbourhood's softmax unchanged
        scores_per_edge = scores_per_edge - scores_per_edge.max()
        exp_scores_per_edge = scores_per_edge.exp()
        denominator = self.sum_edge_scores_neighborhood_aware(exp_scores_per_edge, trg_index, num_of_nodes)
        attentions_per_edge = exp_scores_per_edge / (denominator + 1e-16)
        return attentions_per_edge.unsqueeze(-1)

    def sum_edge_scores_neighborhood_aware(self, exp_scores_per_edge, trg_index, num_of_nodes):
        trg_index_broadcasted = self.explicit_broadcast(trg_index, exp_scores_per_edge)
        size = list(exp_scores_per_edge.shape)
        size[self.nodes_dim] = num_of_nodes
        neighborhood_sums = torch.zeros(size, dtype=exp_scores_per_edge.dtype, device=exp_scores_per_edge.device)
        neighborhood_sums.scatter_add_(self.nodes_dim, trg_index_broadcasted, exp_scores_per_edge)
        return neighborhood_sums.index_select(self.nodes_dim, trg_index)

    def aggregate_neighbors(self, nodes_features_proj_lifted_weighted, edge_index, num_of_nodes):
        size = list(nodes_features_proj_lifted_weighted.shape)
        size[self.nodes_dim] = num_of_nodes
        out_nodes_features = torch.zeros(size, dtype=nodes_features_proj_lifted_weighted.dtype,
                                         device=nodes_features_proj_lifted_weighted.device)
        return out_nodes_features.index_add_(self.nodes_dim, edge_index[self.trg_nodes_dim],
                                             nodes_features_proj_lifted_weighted)

    def lift(self, scores_source, scores_target, nodes_features_matrix_proj, edge_index):
        src_nodes_index = edge_index[self.src_nodes_dim]
        trg_nodes_index = edge_index[self.trg_nodes_dim]
        scores_source = scores_source.index_select(self.nodes_dim, src_nodes_index)
        scores_target = scores_target.index_select(self.nodes_dim, trg_nodes_index)
        nodes_features_matrix_proj_lifted = nodes_features_matrix_proj.index_select(self.nodes_dim, src_nodes_index)
        return scores_source, scores_target, nodes_features_matrix_proj_lifted

    def explicit_broadcast(self, this, other):
        for _ in range(this.dim(), other.dim()):
            this = this.unsqueeze(-1)
        return this.expand_as(other)

    def skip_concat_bias(self, in_nodes_features, out_nodes_features):
        if not out_nodes_features.is_contiguous():
            out_nodes_features = out_nodes_features.contiguous()
        if self.add_skip_connection:
            if out_nodes_features.shape[-1] == in_nodes_features.shape[-1]:
                out_nodes_features += in_nodes_features.unsqueeze(1)
            else:
                out_nodes_features += self.skip_proj(in_nodes_features).view(-1, self.num_of_heads,
                                                                             self.num_out_features)
        if self.concat:
            out_nodes_features = out_nodes_features.view(-1, self.num_of_heads * self.num_out_features)
        else:
            out_nodes_features = out_nodes_features.mean(dim=self.head_dim)
        if self.bias is not None:
            out_nodes_features += self.bias
        return out_nodes_features if self.activation is None else self.activation(out_nodes_features)


class GAT(torch.nn.Module):
    def __init__(self, num_of_layers, num_heads_per_layer, num_features_per_layer, add_skip_connection=True,
                 bias=True, dropout=0.6):
        super().__init__()
        num_heads_per_layer = [1] + num_heads_per_layer
        gat_layers = []
        for i in range(num_of_layers):
            layer = GATLayer(num_in_features=num_features_per_layer[i] * num_heads_per_layer[i],
                             num_out_features=num_features_per_layer[i + 1],
                             num_of_heads=num_heads_per_layer[i + 1],
                             concat=True if i < num_of_layers - 1 else False,
                             activation=nn.ELU() if i < num_of_layers - 1 else None,
                             dropout_prob=dropout, add_skip_connection=add_skip_connection, bias=bias)
            gat_layers.append(layer)
        self.gat_net = nn.Sequential(*gat_layers)

    def forward(self, data):
        return self.gat_net(data)


def make_graph(n=30, features=10, classes=3, seed=0):
    """Nodes in ``classes`` communities: dense edges inside a community, few across, plus self loops."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    x = (rng.random((n, features)) < 0.3).astype(np.float32) + labels[:, None] * (np.arange(features) % classes == 0)
    x = x / np.maximum(x.sum(1, keepdims=True), 1)  # pytorch-GAT row-normalises Cora's features
    edges = [(i, i) for i in range(n)]
    for i in range(n):
        for j in range(n):
            if i != j and rng.random() < (0.3 if labels[i] == labels[j] else 0.03):
                edges.append((i, j))
    return x.astype(np.float32), labels, np.array(edges, dtype=np.int64).T


def main(init):
    losses.clear()
    torch.manual_seed(0)
    x, y, edges = make_graph()
    node_features, node_labels, edge_index = torch.tensor(x), torch.tensor(y), torch.tensor(edges)
    train_indices, val_indices = torch.arange(0, 18), torch.arange(18, 30)
    gat = init(torch, GAT(num_of_layers=2, num_heads_per_layer=[4, 1], num_features_per_layer=[10, 6, 3],
                          dropout=0.0))
    loss_fn = nn.CrossEntropyLoss(reduction='mean')
    optimizer = Adam(gat.parameters(), lr=5e-3, weight_decay=5e-4)
    graph_data = (node_features, edge_index)
    train_labels = node_labels.index_select(0, train_indices)
    for epoch in range(6):
        gat.train()
        nodes_unnormalized_scores = gat(graph_data)[0].index_select(0, train_indices)
        loss = loss_fn(nodes_unnormalized_scores, train_labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    gat.eval()
    with torch.no_grad():
        scores = gat(graph_data)[0].index_select(0, val_indices)
        class_predictions = torch.argmax(scores, dim=-1)
        accuracy = torch.sum(torch.eq(class_predictions, node_labels.index_select(0, val_indices)).long()).item()
    return {"losses": list(losses), "metric": [scores.numpy(), accuracy / len(val_indices)]}
