"""pytorch/examples regression: https://github.com/pytorch/examples/blob/main/regression/main.py (BSD-3-Clause).

Adapted: the target polynomial and the batches are drawn by NumPy (the libraries' random streams differ);
at most 40 batches.
"""
from itertools import count

import numpy as np
import torch
import torch.nn.functional as F

POLY_DEGREE = 4
rng = np.random.default_rng(0)
W_target = torch.tensor(rng.standard_normal((POLY_DEGREE, 1)).astype(np.float32)) * 5
b_target = torch.tensor(rng.standard_normal(1).astype(np.float32)) * 5


def make_features(x):
    """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)


def f(x):
    """Approximated function."""
    return x.mm(W_target) + b_target.item()


def poly_desc(W, b):
    """Creates a string description of a polynomial."""
    result = 'y = '
    for i, w in enumerate(W):
        result += '{:+.2f} x^{} '.format(w, i + 1)
    result += '{:+.2f}'.format(b[0])
    return result


def get_batch(batch_size=32):
    """Builds a batch i.e. (x, f(x)) pair."""
    random = torch.tensor(rng.standard_normal(batch_size).astype(np.float32))
    x = make_features(random)
    y = f(x)
    return x, y


def main(init):
    global rng
    rng = np.random.default_rng(1)
    losses = []
    fc = init(torch, torch.nn.Linear(W_target.size(0), 1))
    for batch_idx in count(1):
        batch_x, batch_y = get_batch()
        fc.zero_grad()
        output = F.smooth_l1_loss(fc(batch_x), batch_y)
        loss = output.item()
        losses.append(loss)
        output.backward()
        for param in fc.parameters():
            param.data.add_(-0.1 * param.grad)
        if loss < 1e-3 or batch_idx == 40:
            break
    desc = poly_desc(fc.weight.view(-1), fc.bias)
    return {"losses": losses, "metric": [fc.weight.detach().numpy(), desc]}
