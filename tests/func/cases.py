"""Functions written once for ember and torch (``lib`` is either), with their input shapes."""
from __future__ import annotations

import numpy as np


def _rnn_cell(L, x, h, w_ih, w_hh):
    return L.tanh(x @ w_ih.t() + h @ w_hh.t())


def _attention(L, q, k, v):
    return L.nn.functional.scaled_dot_product_attention(q, k, v)


# name -> (fn(lib, *tensors) -> tensor, input shapes)
CASES = {
    "elementwise": (lambda L, x, y: (x.sin() * y.exp() / (1 + y * y) - x.tanh() + x.sigmoid().log()), [(3,), (3,)]),
    "binary": (lambda L, x, y: L.atan2(x, y) + L.maximum(x, y) + x.abs() ** 1.5, [(2, 3), (3,)]),
    "reductions": (lambda L, x: L.stack([x.sum(1), x.mean(1), x.amax(1), x.var(1), L.logsumexp(x, 1)]), [(3, 4)]),
    "shape": (lambda L, x: x.reshape(4, 3).t()[1:, ::2].flatten().cumsum(0) + L.cat([x[0], x[1]])[:3].sum(), [(3, 4)]),
    "matmul": (lambda L, x, w: (x @ w).relu(), [(2, 3), (3, 4)]),
    "linear": (lambda L, x, w, b: L.nn.functional.linear(x, w, b).tanh(), [(2, 3), (4, 3), (4,)]),
    "conv": (lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, padding=1), [(1, 2, 4, 4), (2, 2, 3, 3), (2,)]),
    "norms": (lambda L, x, w, b: L.nn.functional.layer_norm(x, (4,), w, b) + L.nn.functional.group_norm(x.reshape(1, 4, 3), 2).reshape(3, 4),
              [(3, 4), (4,), (4,)]),
    "softmax": (lambda L, x: L.softmax(x, 1) * L.log_softmax(x, 0), [(3, 4)]),
    "attention": (_attention, [(2, 3, 4), (2, 3, 4), (2, 3, 4)]),
    "rnn_cell": (_rnn_cell, [(2, 3), (2, 4), (4, 3), (4, 4)]),
    "losses": (lambda L, x, y: L.nn.functional.mse_loss(x, y) + L.nn.functional.cross_entropy(x, y.softmax(1)), [(3, 4), (3, 4)]),
}


def inputs(lib, shapes, seed: int = 0):
    """Float64 tensors of the given shapes, the same values for either library."""
    rng = np.random.default_rng(seed)
    return [lib.tensor(rng.standard_normal(s)) for s in shapes]
