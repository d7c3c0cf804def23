"""Causal linear attention (the "Transformers are RNNs" feature map elu(x)+1), after idiap/fast-transformers
(fast_transformers/attention/linear_attention.py, causal_linear_attention.py, feature_maps/base.py; MIT):
https://github.com/idiap/fast-transformers

Queries and keys mapped by ``F.elu(x) + 1``; non-causal attention as ``einsum("nshd,nshm->nhmd", K, V)`` and
``1 / einsum("nlhd,nhd->nlh", Q, K.sum(dim=1))``; causal attention as prefix sums of ``K^T V`` (the library's
CUDA/C++ ``causal_dot_product`` kernel, written here with ``cumsum`` over outer products) normalised by the
cumulative key sums. Wrapped in a tiny character-level language model: embedding, two pre-norm blocks, a head.
Adapted: a synthetic token stream, d_model 16, 2 heads, sequences of 12, 6 AdamW steps; a check that the
non-causal layer equals softmax-free attention computed the quadratic way.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from _harness import text


def elu_feature_map(x):
    return F.elu(x) + 1


class LinearAttention(nn.Module):
    def __init__(self, eps=1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, queries, keys, values):
        Q, K = elu_feature_map(queries), elu_feature_map(keys)
        KV = torch.einsum("nshd,nshm->nhmd", K, values)
        Z = 1 / (torch.einsum("nlhd,nhd->nlh", Q, K.sum(dim=1)) + self.eps)
        return torch.einsum("nlhd,nhmd,nlh->nlhm", Q, KV, Z)


class CausalLinearAttention(nn.Module):
    def __init__(self, eps=1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, queries, keys, values):
        Q, K = elu_feature_map(queries), elu_feature_map(keys)
        Z = 1 / (torch.einsum("nlhi,nlhi->nlh", Q, K.cumsum(1)) + self.eps)
        KV = torch.einsum("nlhd,nlhm->nlhdm", K, values).cumsum(1)
        V = torch.einsum("nlhd,nlhdm->nlhm", Q, KV)
        return V * Z[..., None]


class AttentionLayer(nn.Module):
    def __init__(self, attention, d_model, n_heads):
        super().__init__()
        self.inner_attention = attention
        self.query_projection = nn.Linear(d_model, d_model)
        self.key_projection = nn.Linear(d_model, d_model)
        self.value_projection = nn.Linear(d_model, d_model)
        self.out_projection = nn.Linear(d_model, d_model)
        self.n_heads = n_heads

    def forward(self, x):
        N, L, _ = x.shape
        H = self.n_heads
        queries = self.query_projection(x).view(N, L, H, -1)
        keys = self.key_projection(x).view(N, L, H, -1)
        values = self.value_projection(x).view(N, L, H, -1)
        new_values = self.inner_attention(queries, keys, values).reshape(N, L, -1)
        return self.out_projection(new_values)


class Block(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attention = AttentionLayer(CausalLinearAttention(), d_model, n_heads)
        self.ff = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.ff(self.norm2(x))


class LM(nn.Module):
    def __init__(self, vocab, d_model=16, n_heads=2, n_layers=2, max_len=12):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(1, max_len, d_model).normal_(std=0.02))
        self.blocks = nn.Sequential(*[Block(d_model, n_heads) for _ in range(n_layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, idx):
        x = self.tok(idx) + self.pos[:, :idx.shape[1]]
        return self.head(self.norm(self.blocks(x)))


def main(init):
    vocab = 11
    data = torch.from_numpy(text(600, vocab))
    model = init(torch, LM(vocab))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    rng = np.random.default_rng(0)
    losses = []
    for step in range(6):
        starts = rng.integers(0, len(data) - 13, 8)
        x = torch.stack([data[s:s + 12] for s in starts])
        y = torch.stack([data[s + 1:s + 13] for s in starts])
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, vocab), y.view(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    q, k, v = (torch.from_numpy(rng.standard_normal((2, 5, 2, 4)).astype(np.float32)) for _ in range(3))
    fast = LinearAttention()(q, k, v)
    phi_q, phi_k = elu_feature_map(q), elu_feature_map(k)
    scores = torch.einsum("nlhd,nshd->nhls", phi_q, phi_k)
    slow = torch.einsum("nhls,nshd->nlhd", scores / scores.sum(-1, keepdim=True), v)
    causal = CausalLinearAttention()(q, k, v)
    return {"losses": losses, "metric": [fast.numpy(), (fast - slow).abs().max().item() < 1e-5, causal.numpy()]}
