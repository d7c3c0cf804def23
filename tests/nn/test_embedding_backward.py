"""Embedding's backward sums rows in torch's order: the weight gradient is torch's bit for bit."""
import numpy as np
import pytest
import torch

import ember


@pytest.mark.parametrize("vocab,n,dim,padding_idx", [(65, 2048, 16, None), (1000, 300, 8, 3), (3, 500, 4, None),
                                                     (7, 0, 5, None), (50, 64, 3, 0)])
def test_weight_grad_bitwise(vocab, n, dim, padding_idx):
    rng = np.random.default_rng(vocab + n)
    idx = rng.integers(0, vocab, size=(n // 4 if n >= 4 else n, 4) if n else (0,))
    w = rng.standard_normal((vocab, dim)).astype(np.float32)
    g = rng.standard_normal(idx.shape + (dim,)).astype(np.float32)
    ew = ember.tensor(w, requires_grad=True)
    ember.nn.functional.embedding(ember.tensor(idx), ew, padding_idx=padding_idx).backward(ember.tensor(g))
    tw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=padding_idx).backward(torch.tensor(g))
    assert np.array_equal(ew.grad.numpy(), tw.grad.numpy())


@pytest.mark.parametrize("repeats", [40, 100])
def test_weight_grad_bitwise_uneven(repeats):
    """One index far more frequent than the rest (the rows summed round by round, or by add.at past 64 rounds)."""
    rng = np.random.default_rng(repeats)
    idx = rng.integers(0, 100, size=400)
    idx[rng.permutation(400)[:repeats]] = 7
    g = rng.standard_normal((400, 5)).astype(np.float32)
    ew, tw = ember.zeros(100, 5, requires_grad=True), torch.zeros(100, 5, requires_grad=True)
    ember.nn.functional.embedding(ember.tensor(idx), ew).backward(ember.tensor(g))
    torch.nn.functional.embedding(torch.tensor(idx), tw).backward(torch.tensor(g))
    assert np.array_equal(ew.grad.numpy(), tw.grad.numpy())
