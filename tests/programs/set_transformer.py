"""Set Transformer on max-regression, after juho-lee/set_transformer (modules.py, models.py,
max_regression_demo.ipynb; MIT): https://github.com/juho-lee/set_transformer

The repo's ``MAB`` splits heads with ``torch.cat(Q.split(dim_split, 2), 0)``, attends with ``Q_.bmm(K_.transpose(1,
2))`` and merges back with ``split(Q.size(0), 0)``; ``ISAB`` through learned inducing points and ``PMA`` through
seed vectors (``nn.init.xavier_uniform_`` on 3-D parameters); the ``SetTransformer`` encoder-decoder; the L1
loss against each set's maximum. Adapted: sets of 6 scalars instead of the demo's random lengths, hidden 16,
2 heads, 4 inducing points, 6 Adam steps; a second pooling head built from ``nn.MultiheadAttention`` with
``kdim``/``vdim`` and a ``key_padding_mask`` hiding each set's last element, returning per-head weights.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MAB(nn.Module):
    def __init__(self, dim_Q, dim_K, dim_V, num_heads, ln=False):
        super(MAB, self).__init__()
        self.dim_V = dim_V
        self.num_heads = num_heads
        self.fc_q = nn.Linear(dim_Q, dim_V)
        self.fc_k = nn.Linear(dim_K, dim_V)
        self.fc_v = nn.Linear(dim_K, dim_V)
        if ln:
            self.ln0 = nn.LayerNorm(dim_V)
            self.ln1 = nn.LayerNorm(dim_V)
        self.fc_o = nn.Linear(dim_V, dim_V)

    def forward(self, Q, K):
        Q = self.fc_q(Q)
        K, V = self.fc_k(K), self.fc_v(K)
        dim_split = self.dim_V // self.num_heads
        Q_ = torch.cat(Q.split(dim_split, 2), 0)
        K_ = torch.cat(K.split(dim_split, 2), 0)
        V_ = torch.cat(V.split(dim_split, 2), 0)
        A = torch.softmax(Q_.bmm(K_.transpose(1, 2)) / math.sqrt(self.dim_V), 2)
        O = torch.cat((Q_ + A.bmm(V_)).split(Q.size(0), 0), 2)
        O = O if getattr(self, 'ln0', None) is None else self.ln0(O)
        O = O + F.relu(self.fc_o(O))
        O = O if getattr(self, 'ln1', None) is None else self.ln1(O)
        return O


class SAB(nn.Module):
    def __init__(self, dim_in, dim_out, num_heads, ln=False):
        super(SAB, self).__init__()
        self.mab = MAB(dim_in, dim_in, dim_out, num_heads, ln=ln)

    def forward(self, X):
        return self.mab(X, X)


class ISAB(nn.Module):
    def __init__(self, dim_in, dim_out, num_heads, num_inds, ln=False):
        super(ISAB, self).__init__()
        self.I = nn.Parameter(torch.Tensor(1, num_inds, dim_out))
        nn.init.xavier_uniform_(self.I)
        self.mab0 = MAB(dim_out, dim_in, dim_out, num_heads, ln=ln)
        self.mab1 = MAB(dim_in, dim_out, dim_out, num_heads, ln=ln)

    def forward(self, X):
        H = self.mab0(self.I.repeat(X.size(0), 1, 1), X)
        return self.mab1(X, H)


class PMA(nn.Module):
    def __init__(self, dim, num_heads, num_seeds, ln=False):
        super(PMA, self).__init__()
        self.S = nn.Parameter(torch.Tensor(1, num_seeds, dim))
        nn.init.xavier_uniform_(self.S)
        self.mab = MAB(dim, dim, dim, num_heads, ln=ln)

    def forward(self, X):
        return self.mab(self.S.repeat(X.size(0), 1, 1), X)


class SetTransformer(nn.Module):
    def __init__(self, dim_input, num_outputs, dim_output, num_inds=4, dim_hidden=16, num_heads=2, ln=True):
        super(SetTransformer, self).__init__()
        self.enc = nn.Sequential(ISAB(dim_input, dim_hidden, num_heads, num_inds, ln=ln),
                                 ISAB(dim_hidden, dim_hidden, num_heads, num_inds, ln=ln))
        self.dec = nn.Sequential(PMA(dim_hidden, num_heads, num_outputs, ln=ln),
                                 SAB(dim_hidden, dim_hidden, num_heads, ln=ln), nn.Linear(dim_hidden, dim_output))

    def forward(self, X):
        return self.dec(self.enc(X))


class MHAPool(nn.Module):
    def __init__(self, dim_input, dim_hidden=16, num_heads=2):
        super().__init__()
        self.seed = nn.Parameter(torch.zeros(1, 1, dim_hidden))
        nn.init.xavier_uniform_(self.seed)
        self.mha = nn.MultiheadAttention(dim_hidden, num_heads, kdim=dim_input, vdim=dim_input, batch_first=True)
        self.out = nn.Linear(dim_hidden, 1)

    def forward(self, X, key_padding_mask):
        o, w = self.mha(self.seed.repeat(X.size(0), 1, 1), X, X, key_padding_mask=key_padding_mask,
                        need_weights=True, average_attn_weights=False)
        return self.out(o).squeeze(-1), w


def gen_data(rng, batch_size, max_length=6):
    x = rng.integers(1, 100, (batch_size, max_length, 1)).astype(np.float32)
    y = np.max(x, axis=1)
    return torch.from_numpy(x), torch.from_numpy(y)


def main(init):
    rng = np.random.default_rng(0)
    model = init(torch, SetTransformer(dim_input=1, num_outputs=1, dim_output=1))
    pool = init(torch, MHAPool(1), key="pool")
    optimizer = torch.optim.Adam(list(model.parameters()) + list(pool.parameters()), lr=1e-3)
    criterion = nn.L1Loss()
    mask = torch.zeros(8, 6, dtype=torch.bool)
    mask[:, -1] = True
    losses = []
    for step in range(6):
        x, y = gen_data(rng, 8)
        optimizer.zero_grad()
        loss = criterion(model(x).squeeze(-1), y)
        pooled, _ = pool(x, mask)
        loss = loss + criterion(pooled, x[:, :-1].max(1).values)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        x, y = gen_data(rng, 8)
        pred = model(x).squeeze(-1)
        pooled, weights = pool(x, mask)
    return {"losses": losses, "metric": [pred.numpy(), pooled.numpy(), weights.numpy()]}
