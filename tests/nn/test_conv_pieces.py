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


@pytest.mark.parametrize("small_columns", [0, 1 << 30])  # im2col by kernel offsets, or by one strided copy
@pytest.mark.parametrize("dims, kw", [(1, dict(stride=2, padding=1)), (1, dict(padding="same", dilation=2)),
                                      (2, dict(stride=(2, 1), padding=(0, 2), groups=2)),
                                      (2, dict(padding="same", dilation=(1, 2)))])
def test_conv_columns_both_ways_match_torch(monkeypatch, small_columns, dims, kw):
    monkeypatch.setattr(conv_impl, "SMALL_COLUMNS", small_columns)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 9) if dims == 1 else (3, 4, 7, 8))
    w = rng.standard_normal((6, 4 // kw.get("groups", 1)) + (4,) * dims)  # an even kernel: 'same' pads unevenly
    b = rng.standard_normal(6)
    res = []
    for lib in (ember, torch):
        tx, tw, tb = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        out = getattr(lib.nn.functional, f"conv{dims}d")(tx, tw, tb, **kw)
        (out * out).sum().backward()
        res.append([t.detach().numpy() for t in (out, tx.grad, tw.grad, tb.grad)])
    for e, t in zip(*res):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


ROWS_CASES = [  # stride 1, output as wide as the input: im2col and col2im by flat shifts of whole rows
    ((3, 4, 7, 6), (5, 4, 3, 3), dict(padding=1)),
    ((2, 4, 6, 3), (4, 2, 5, 5), dict(padding=2, groups=2)),  # the kernel wider than the input
    ((2, 3, 5, 7), (4, 3, 4, 4), dict(padding="same", dilation=(2, 1))),  # uneven 'same' pads
    ((2, 3, 5, 6), (4, 3, 3, 3), dict(padding=(0, 1))),
    ((2, 3, 4, 6), (4, 3, 3, 3), dict(padding=(3, 1))),  # rows wholly in the padding
    ((2, 3, 6, 9), (4, 3, 2, 3), dict(padding=(1, 2), dilation=(1, 2))),
]


@pytest.mark.parametrize("piece_bytes", [1, 1 << 30])
@pytest.mark.parametrize("xs, ws, kw", ROWS_CASES)
def test_conv2d_rows_path_matches_torch(monkeypatch, piece_bytes, xs, ws, kw):
    monkeypatch.setattr(conv_impl, "SMALL_COLUMNS", 0)
    monkeypatch.setattr(conv_impl, "GRAD_COLUMNS_BYTES", piece_bytes)
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    res = []
    for lib in (ember, torch):
        tx, tw, tb = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        out = lib.nn.functional.conv2d(tx, tw, tb, **kw)
        (out * out).sum().backward()
        res.append([t.detach().numpy() for t in (out, tx.grad, tw.grad, tb.grad)])
    for e, t in zip(*res):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


def test_conv2d_rows_path_non_finite_weight_matches_torch(monkeypatch):
    # the columns a shift carries into the neighbouring row are zeroed, not multiplied by zeros:
    # an infinite weight must reach exactly the input positions torch's gradient reaches
    monkeypatch.setattr(conv_impl, "SMALL_COLUMNS", 0)
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, 3, 3))
    w[1, 0, 0, 2] = np.inf
    res = []
    for lib in (ember, torch):
        tx = lib.tensor(x, requires_grad=True)
        lib.nn.functional.conv2d(tx, lib.tensor(w), padding=1).sum().backward()
        res.append(tx.grad.numpy())
    np.testing.assert_array_equal(np.isnan(res[0]), np.isnan(res[1]))
    np.testing.assert_allclose(res[0], res[1], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("piece_bytes", [1, 1 << 30])  # a piece per image, or the whole slice at once
@pytest.mark.parametrize("small_columns", [0, 1 << 30])
@pytest.mark.parametrize("kw, groups", [(dict(padding=1), 1), (dict(padding=1), 2),
                                        (dict(stride=(2, 1), padding=(0, 2)), 1)])
def test_unrecorded_conv2d_matches_torch(monkeypatch, batch_split, piece_bytes, small_columns, kw, groups):
    # no_grad: no op, and the columns made in pieces that share one buffer
    monkeypatch.setattr(conv_impl, "COLUMNS_PIECE_BYTES", piece_bytes)
    monkeypatch.setattr(conv_impl, "SMALL_COLUMNS", small_columns)
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((5, 4, 7, 6)), rng.standard_normal((6, 4 // groups, 3, 3)), rng.standard_normal(6)
    with ember.no_grad():
        out = ember.nn.functional.conv2d(*(ember.tensor(a, requires_grad=True) for a in (x, w, b)), groups=groups, **kw)
    assert out.grad_fn is None and not out.requires_grad
    ref = torch.nn.functional.conv2d(*map(torch.tensor, (x, w, b)), groups=groups, **kw)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-10, atol=1e-10)
