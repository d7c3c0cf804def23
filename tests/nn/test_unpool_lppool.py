"""max_unpool, lp_pool and feature_alpha_dropout against torch 2.13.0 and finite differences."""
import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from torch_compare import compare, leaf

TF = torch.nn.functional


def distinct(rng, *shape, dtype=np.float32):
    """Values without ties, so that max pooling's argmax is unique."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.1).reshape(shape).astype(dtype)


def pooled(x, dims, **kw):
    """torch's max pooling of x with indices, as arrays (the input to unpooling)."""
    pool = TF.max_pool1d if dims == 1 else TF.max_pool2d
    out, idx = pool(torch.tensor(x), return_indices=True, **kw)
    return out.numpy(), idx.numpy()


# ----------------------------------------------------------------------------- max_unpool
UNPOOL = [
    (1, (2, 3, 9), dict(kernel_size=2), None),
    (1, (2, 3, 9), dict(kernel_size=2), [9]),
    (1, (3, 10), dict(kernel_size=3, stride=2, padding=1), None),  # unbatched
    (1, (2, 2, 8), dict(kernel_size=2, stride=1), None),  # overlapping windows: repeated indices
    (2, (2, 3, 8, 8), dict(kernel_size=2), None),
    (2, (2, 3, 9, 7), dict(kernel_size=2), (9, 7)),
    (2, (2, 3, 9, 7), dict(kernel_size=2), (2, 3, 9, 7)),
    (2, (1, 2, 9, 10), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 0)), (9, 10)),
    (2, (3, 6, 6), dict(kernel_size=3, stride=1, padding=1), None),  # unbatched, overlapping
]


@pytest.mark.parametrize("dims, shape, kw, output_size", UNPOOL)
def test_max_unpool_vs_torch(rng, dims, shape, kw, output_size):
    out, idx = pooled(distinct(rng, *shape), dims, **kw)
    ef, tf = (F.max_unpool1d, TF.max_unpool1d) if dims == 1 else (F.max_unpool2d, TF.max_unpool2d)
    compare(lambda x, i: ef(x, i, output_size=output_size, **kw),
            lambda x, i: tf(x, i, output_size=output_size, **kw), out, idx)


@pytest.mark.parametrize("dims", [1, 2])
def test_max_unpool_modules_vs_torch(rng, dims):
    shape = (2, 3, 9) if dims == 1 else (2, 3, 7, 9)
    out, idx = pooled(distinct(rng, *shape), dims, kernel_size=3, stride=2)
    e = (nn.MaxUnpool1d if dims == 1 else nn.MaxUnpool2d)(3, stride=2)
    t = (torch.nn.MaxUnpool1d if dims == 1 else torch.nn.MaxUnpool2d)(3, stride=2)
    compare(lambda x, i: e(x, i, output_size=shape[2:]), lambda x, i: t(x, i, output_size=shape[2:]), out, idx)
    compare(lambda x, i: e(x, i), lambda x, i: t(x, i), out, idx)


def test_max_unpool_gradients_by_finite_differences(rng):
    out, idx = pooled(distinct(rng, 2, 2, 6, 5, dtype=np.float64), 2, kernel_size=2, stride=2, padding=1)
    i = ember.tensor(idx)
    assert gradcheck(lambda x: F.max_unpool2d(x, i, 2, 2, 1, output_size=(6, 5)), (leaf(out),))
    assert gradgradcheck(lambda x: F.max_unpool2d(x, i, 2, 2, 1, output_size=(6, 5)), (leaf(out),))
    out, idx = pooled(distinct(rng, 2, 7, dtype=np.float64), 1, kernel_size=3, stride=2)
    i = ember.tensor(idx)
    assert gradcheck(lambda x: F.max_unpool1d(x, i, 3, 2), (leaf(out),))
    assert gradgradcheck(lambda x: F.max_unpool1d(x, i, 3, 2), (leaf(out),))


def _raises_like_torch(ember_call, torch_call, op):
    with pytest.raises(Exception) as t:
        torch_call()
    with pytest.raises(t.type, match=op):
        ember_call()


@pytest.mark.parametrize("case", ["too_large", "too_small", "wrong_len", "index_high", "index_low", "index_dtype",
                                  "index_shape", "input_dim", "int_input"])
@pytest.mark.parametrize("dims", [1, 2])
def test_max_unpool_errors_as_torch(rng, case, dims):
    shape = (1, 2, 8) if dims == 1 else (1, 2, 4, 4)
    out, idx = pooled(distinct(rng, *shape), dims, kernel_size=2)
    size = shape[2:]
    kw = {}
    if case == "too_large":
        kw["output_size"] = tuple(s + 3 for s in size)
    elif case == "too_small":
        kw["output_size"] = tuple(s - 2 for s in size)
    elif case == "wrong_len":
        kw["output_size"] = size + (1, 2, 3)
    elif case == "index_high":
        idx = idx + 100
    elif case == "index_low":
        idx = idx - 100
    elif case == "index_dtype":
        idx = idx.astype(np.int32)
    elif case == "index_shape":
        idx = idx[..., :1]
    elif case == "input_dim":
        out, idx = out[0, 0], idx[0, 0]
    elif case == "int_input":
        out = out.astype(np.int32)
    name = f"max_unpool{dims}d"
    ef, tf = getattr(F, name), getattr(TF, name)
    _raises_like_torch(lambda: ef(ember.tensor(out), ember.tensor(idx), 2, **kw),
                       lambda: tf(torch.tensor(out), torch.tensor(idx), 2, **kw), name)


def test_max_unpool_reprs_match_torch():
    for e, t in [(nn.MaxUnpool1d(3, 1, 1), torch.nn.MaxUnpool1d(3, 1, 1)), (nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)),
                 (nn.MaxUnpool2d((2, 3), padding=1), torch.nn.MaxUnpool2d((2, 3), padding=1))]:
        assert repr(e) == repr(t)


# ----------------------------------------------------------------------------- lp_pool
LP2D = [
    (2.0, dict(kernel_size=2)),
    (3, dict(kernel_size=(3, 2), stride=(2, 1))),
    (1.5, dict(kernel_size=3, stride=2, ceil_mode=True)),
    (1.0, dict(kernel_size=2, stride=1)),
    (float("inf"), dict(kernel_size=2)),
    (-float("inf"), dict(kernel_size=3, stride=2, ceil_mode=True)),
]


def _lp_input(rng, *shape, dtype=np.float32):
    """Normal values with zeroed windows and zero entries, where the gradient formula has its edge cases."""
    x = rng.standard_normal(shape)
    x[..., :2, :2] = 0.0
    x[..., -1, 3] = 0.0
    return x.astype(dtype)


@pytest.mark.parametrize("p, kw", LP2D)
def test_lp_pool2d_vs_torch(rng, p, kw):
    x = _lp_input(rng, 2, 3, 7, 8)
    if np.isfinite(p) and p != int(p):
        x = np.abs(x)  # a fractional power of a negative number is NaN in both, with NaN gradients
    compare(lambda t: F.lp_pool2d(t, p, **kw), lambda t: TF.lp_pool2d(t, p, **kw), x)


@pytest.mark.parametrize("p, kw", [(2.0, dict(kernel_size=2)), (3, dict(kernel_size=3, stride=2, ceil_mode=True)),
                                   (1.5, dict(kernel_size=3, stride=1)), (float("inf"), dict(kernel_size=3))])
def test_lp_pool1d_vs_torch(rng, p, kw):
    x = _lp_input(rng, 2, 3, 9)
    if np.isfinite(p) and p != int(p):
        x = np.abs(x)
    compare(lambda t: F.lp_pool1d(t, p, **kw), lambda t: TF.lp_pool1d(t, p, **kw), x)
    compare(lambda t: F.lp_pool1d(t, p, **kw), lambda t: TF.lp_pool1d(t, p, **kw), x[0])  # unbatched


def test_lp_pool_negative_power_sums_as_torch():
    """An odd power can make a window's sum negative, and its root NaN, or a window's sum zero."""
    x = np.array([[[[-2.0, 1.0], [0.5, -1.0]], [[1.0, 1.0], [-1.0, -1.0]]]], dtype=np.float32)
    compare(lambda t: F.lp_pool2d(t, 3, 2), lambda t: TF.lp_pool2d(t, 3, 2), x)


def test_lp_pool_gradients_by_finite_differences(rng):
    x = np.abs(rng.standard_normal((1, 2, 5, 6))) + 0.5
    assert gradcheck(lambda t: F.lp_pool2d(t, 2.0, 2, 1), (leaf(x),))
    assert gradgradcheck(lambda t: F.lp_pool2d(t, 2.0, 2, 1), (leaf(x),))
    assert gradcheck(lambda t: F.lp_pool1d(t, 3, 3, 2, True), (leaf(x[0]),))
    assert gradgradcheck(lambda t: F.lp_pool1d(t, 3, 3, 2, True), (leaf(x[0]),))


def test_lp_pool_modules_and_reprs_match_torch(rng):
    x = _lp_input(rng, 2, 3, 7, 8)
    for args, kw in [((2, 3), {}), ((1.5, (2, 3)), dict(stride=(1, 2))), ((2.0, 2), dict(ceil_mode=True))]:
        e, t = nn.LPPool2d(*args, **kw), torch.nn.LPPool2d(*args, **kw)
        assert repr(e) == repr(t)
        compare(e, t, np.abs(x))
    e, t = nn.LPPool1d(2.0, 3, 2, True), torch.nn.LPPool1d(2.0, 3, 2, True)
    assert repr(e) == repr(t)
    compare(e, t, x[:, :, 0])


# ----------------------------------------------------------------------------- feature_alpha_dropout
ALPHA = 1.7580993408473766


def test_feature_alpha_dropout_drops_whole_channels():
    ember.manual_seed(0)
    p = 0.4
    x = ember.randn(64, 16, 5, 3, requires_grad=True)
    y = F.feature_alpha_dropout(x, p, training=True)
    a = ((ALPHA ** 2 * p + 1) * (1 - p)) ** -0.5
    yv, xv = y.detach().numpy(), x.detach().numpy()
    kept = np.isclose(yv, a * xv + a * ALPHA * p, atol=1e-5)
    dropped = np.isclose(yv, a * ALPHA * (p - 1), atol=1e-6)
    assert (kept | dropped).all()
    per_channel = kept.reshape(64, 16, -1)
    assert (per_channel.all(axis=2) | ~per_channel.any(axis=2)).all()  # all or nothing in each channel
    frac = 1 - per_channel.all(axis=2).mean()
    assert abs(frac - p) < 0.05
    y.sum().backward()
    assert np.allclose(x.grad.numpy(), np.where(kept, a, 0.0))
    # torch's dropped channels hold the same value, and its kept ones the same affine map of the input
    t = torch.randn(64, 16, 3)
    tv = TF.feature_alpha_dropout(t, p, training=True).numpy()
    t_dropped = np.isclose(tv, a * ALPHA * (p - 1), atol=1e-6)
    t_kept = np.isclose(tv, a * t.numpy() + a * ALPHA * p, atol=1e-5)
    assert t_dropped.any() and (t_dropped | t_kept).all()


def test_feature_alpha_dropout_keeps_mean_and_variance():
    ember.manual_seed(1)
    y = F.feature_alpha_dropout(ember.randn(400, 200, 8), 0.3, training=True).numpy()
    assert abs(y.mean()) < 0.03 and abs(y.var() - 1) < 0.03


def test_feature_alpha_dropout_edge_cases_as_torch(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    x[0, 0, 0] = np.inf
    e, t = ember.tensor(x), torch.tensor(x)
    assert F.feature_alpha_dropout(e, 0.5) is e  # training=False by default, as torch's
    assert F.feature_alpha_dropout(e, 0.0, training=True) is e
    np.testing.assert_array_equal(F.feature_alpha_dropout(e, 1.0, training=True).numpy(),
                                  TF.feature_alpha_dropout(t, 1.0, training=True).numpy())
    m, tm = nn.FeatureAlphaDropout(0.2), torch.nn.FeatureAlphaDropout(0.2)
    assert repr(m) == repr(tm)
    assert repr(nn.FeatureAlphaDropout(0.3, True)) == repr(torch.nn.FeatureAlphaDropout(0.3, True))
    assert m.eval()(e) is e
    # 2-D input: torch's mask covers (N, C), i.e. every entry
    ember.manual_seed(2)
    a = ((ALPHA ** 2 * 0.5 + 1) * 0.5) ** -0.5
    y = nn.FeatureAlphaDropout(0.5)(ember.randn(200, 50)).numpy()
    assert 0.45 < np.isclose(y, a * ALPHA * -0.5).mean() < 0.55
    _raises_like_torch(lambda: F.feature_alpha_dropout(ember.randn(5), 0.5, True),
                       lambda: TF.feature_alpha_dropout(torch.randn(5), 0.5, True), "feature_alpha_dropout")
    _raises_like_torch(lambda: F.feature_alpha_dropout(ember.randn(2, 3), 1.5, True),
                       lambda: TF.feature_alpha_dropout(torch.randn(2, 3), 1.5, True), "dropout probability")


def test_feature_alpha_dropout_inplace():
    ember.manual_seed(3)
    x = ember.randn(4, 8, 3)
    before = x.numpy().copy()
    y = F.feature_alpha_dropout(x, 0.5, training=True, inplace=True)
    assert y is x and not np.array_equal(x.numpy(), before)


# ----------------------------------------------------------------------------- aliases
def test_adaptive_max_pool_with_indices_vs_torch(rng):
    x = distinct(rng, 2, 3, 9, 7)
    compare(lambda t: F.adaptive_max_pool2d_with_indices(t, (4, 3)),
            lambda t: TF.adaptive_max_pool2d_with_indices(t, (4, 3)), x)
    compare(lambda t: F.adaptive_max_pool1d_with_indices(t, 4),
            lambda t: TF.adaptive_max_pool1d_with_indices(t, 4), x[:, :, 0])
