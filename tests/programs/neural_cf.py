"""Neural collaborative filtering (NeuMF), after guoyang9/NCF (model.py, main.py, evaluate.py; read only):
https://github.com/guoyang9/NCF

GMF and MLP towers over separate user/item ``nn.Embedding``s (the MLP's embedding width ``factor_num *
2 ** (num_layers - 1)``), MLP layers built in a loop with dropout, a ``predict_layer`` over their concatenation,
``_init_weight_`` with ``nn.init.normal_(std=0.01)``, ``xavier_uniform_`` and ``kaiming_uniform_(a=1,
nonlinearity='sigmoid')``, ``.view(-1)`` predictions under ``BCEWithLogitsLoss``, and leave-one-out evaluation
by ``torch.topk`` and ``torch.take`` (hit ratio and NDCG at 3). Adapted: 12 users and 15 items with made-up
implicit feedback (users like items of their own residue mod 3), 4 negatives per positive drawn with NumPy,
factor 4, 2 MLP layers, dropout 0, 4 Adam steps.
"""
import numpy as np
import torch
import torch.nn as nn


class NCF(nn.Module):
    def __init__(self, user_num, item_num, factor_num, num_layers, dropout):
        super(NCF, self).__init__()
        self.dropout = dropout
        self.embed_user_GMF = nn.Embedding(user_num, factor_num)
        self.embed_item_GMF = nn.Embedding(item_num, factor_num)
        self.embed_user_MLP = nn.Embedding(user_num, factor_num * (2 ** (num_layers - 1)))
        self.embed_item_MLP = nn.Embedding(item_num, factor_num * (2 ** (num_layers - 1)))
        MLP_modules = []
        for i in range(num_layers):
            input_size = factor_num * (2 ** (num_layers - i))
            MLP_modules.append(nn.Dropout(p=self.dropout))
            MLP_modules.append(nn.Linear(input_size, input_size // 2))
            MLP_modules.append(nn.ReLU())
        self.MLP_layers = nn.Sequential(*MLP_modules)
        self.predict_layer = nn.Linear(factor_num * 2, 1)
        self._init_weight_()

    def _init_weight_(self):
        nn.init.normal_(self.embed_user_GMF.weight, std=0.01)
        nn.init.normal_(self.embed_user_MLP.weight, std=0.01)
        nn.init.normal_(self.embed_item_GMF.weight, std=0.01)
        nn.init.normal_(self.embed_item_MLP.weight, std=0.01)
        for m in self.MLP_layers:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
        nn.init.kaiming_uniform_(self.predict_layer.weight, a=1, nonlinearity='sigmoid')
        for m in self.modules():
            if isinstance(m, nn.Linear) and m.bias is not None:
                m.bias.data.zero_()

    def forward(self, user, item):
        output_GMF = self.embed_user_GMF(user) * self.embed_item_GMF(item)
        interaction = torch.cat((self.embed_user_MLP(user), self.embed_item_MLP(item)), -1)
        output_MLP = self.MLP_layers(interaction)
        concat = torch.cat((output_GMF, output_MLP), -1)
        return self.predict_layer(concat).view(-1)


def hit(gt_item, pred_items):
    return 1 if gt_item in pred_items else 0


def ndcg(gt_item, pred_items):
    if gt_item in pred_items:
        index = pred_items.index(gt_item)
        return np.reciprocal(np.log2(index + 2))
    return 0


def main(init):
    rng = np.random.default_rng(0)
    users, items = 12, 15
    liked = {u: [i for i in range(items) if i % 3 == u % 3] for u in range(users)}
    test_item = {u: liked[u][-1] for u in range(users)}
    train = [(u, i) for u in range(users) for i in liked[u][:-1]]
    model = init(torch, NCF(users, items, 4, 2, 0.0))
    loss_function = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for epoch in range(4):
        model.train()
        rows = []
        for u, i in train:
            rows.append((u, i, 1.0))
            for j in rng.choice([k for k in range(items) if k not in liked[u]], 4, replace=False):
                rows.append((u, int(j), 0.0))
        rows = np.array(rows)
        user = torch.from_numpy(rows[:, 0].astype(np.int64))
        item = torch.from_numpy(rows[:, 1].astype(np.int64))
        label = torch.from_numpy(rows[:, 2].astype(np.float32))
        model.zero_grad()
        prediction = model(user, item)
        loss = loss_function(prediction, label)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    HR, NDCG = [], []
    with torch.no_grad():
        for u in range(users):
            candidates = [test_item[u]] + [k for k in range(items) if k not in liked[u]][:6]
            user = torch.full((len(candidates),), u, dtype=torch.long)
            item = torch.tensor(candidates)
            predictions = model(user, item)
            _, indices = torch.topk(predictions, 3)
            recommends = torch.take(item, indices).numpy().tolist()
            HR.append(hit(test_item[u], recommends))
            NDCG.append(ndcg(test_item[u], recommends))
    return {"losses": losses, "metric": [float(np.mean(HR)), float(np.mean(NDCG)), predictions.numpy()]}
