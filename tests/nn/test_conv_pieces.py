"""A convolution's input gradient made a few images at a time (to bound its memory) matches torch's."""
import numpy as np
import pytest
import torch

import ember
from ember.nn._functional import conv as conv_impl


@pytest.mark.parametrize("piece_bytes", [1, 2 * 36 * 21 * 8, 1 << 30])  # 1, 2 or all 5 images
@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_gradients_in_pieces_match_torch(monkeypatch, piece_bytes, groups):
    monkeypatch.setattr(conv_impl, "GRAD_COLUMNS_BYTES", piece_bytes)
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 4, 7, 6)), rng.standard_normal((6, 4 // groups, 3, 3)), rng.standard_normal(6)
    res = []
    for lib in (ember, torch):
        tx, tw, tb = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        out = lib.nn.functional.conv2d(tx, tw, tb, stride=(1, 2), padding=1, groups=groups)
        (out * out).sum().backward()
        res.append([t.detach().numpy() for t in (out, tx.grad, tw.grad, tb.grad)])
    for e, t in zip(*res):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)
