"""Scaled dot-product attention, MultiheadAttention and the Transformer encoder against torch 2.13.0."""
import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from conftest import assert_close
from torch_compare import compare, f32

TF = torch.nn.functional


@pytest.mark.parametrize("kw", [dict(), dict(is_causal=True), dict(scale=0.3), dict(is_causal=True, scale=2.0)])
def test_sdpa_vs_torch(rng, kw):
    compare(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw),
            lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **kw),
            f32(rng, 2, 3, 4, 8), f32(rng, 2, 3, 4, 8), f32(rng, 2, 3, 4, 5), atol=1e-5)


def test_sdpa_masks_vs_torch(rng):
    bool_mask = rng.random((4, 6)) > 0.3
    bool_mask[:, 0] = True  # every query keeps one key
    compare(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=ember.tensor(bool_mask)),
            lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, attn_mask=torch.tensor(bool_mask)),
            f32(rng, 2, 4, 8), f32(rng, 2, 6, 8), f32(rng, 2, 6, 3))
    compare(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
            lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m),
            f32(rng, 2, 4, 8), f32(rng, 2, 6, 8), f32(rng, 2, 6, 3), f32(rng, 4, 6))


@pytest.mark.parametrize("mask", ["none", "causal", "bool", "float_inf", "float"])
@pytest.mark.parametrize("size", [1.0, 40.0])  # scores within exp's safe range (no row maxima), and beyond it
def test_sdpa_fused_kernel_whole_and_split_vs_torch(rng, batch_split, mask, size):
    """The one-op attention: softmax from unshifted exp with the mask as 0/1 factors where the scores allow,
    else shifted by row maxima; values and gradients as torch's, on one thread and split over the batch."""
    L, S = 5, 6
    kw = dict(is_causal=True) if mask == "causal" else {}
    m = None
    if mask == "bool":
        m = rng.random((L, S)) > 0.3
        m[:, 0] = True
    elif mask == "float_inf":
        m = np.where(rng.random((L, S)) > 0.3, 0.0, -np.inf).astype(np.float32)
        m[:, 0] = 0.0
    elif mask == "float":
        m = rng.standard_normal((L, S)).astype(np.float32)
    args = [f32(rng, 3, 2, L, 8) * size, f32(rng, 3, 2, S, 8), f32(rng, 3, 2, S, 4)]
    if m is not None:
        ember_mask, torch_mask = ember.tensor(m), torch.tensor(m)
        compare(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=ember_mask),
                lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, attn_mask=torch_mask), *args)
    else:
        compare(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw),
                lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **kw), *args)


def test_sdpa_dropout_statistics():
    q = ember.zeros(1, 200, 4)
    v = ember.ones(1, 200, 1)
    ember.manual_seed(0)
    out = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)  # uniform weights: out = kept fraction * 2
    assert abs(out.mean().item() - 1.0) < 0.05 and out.std().item() > 0.05


def test_sdpa_gradgradcheck(rng):
    q, k, v = (ember.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True) for _ in range(3))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v))
    assert gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), (q, k, v))


def _copy_into(em, tm):
    """Load torch's weights into the ember module."""
    em.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})


def _check_grads(em, tm, pairs):
    for e, t, what in pairs:
        assert_close(e.grad, t.grad, atol=1e-5, rtol=1e-4, what=what)
    tp = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        assert_close(p.grad, tp[name].grad, atol=1e-5, rtol=1e-4, what=f"grad of {name}")


@pytest.mark.parametrize("kw, call", [
    (dict(), dict()),
    (dict(batch_first=True), dict(average_attn_weights=False)),
    (dict(bias=False), dict(need_weights=False)),
    (dict(kdim=6, vdim=5), dict()),
    (dict(), dict(mask="bool")),
    (dict(batch_first=True), dict(mask="float", kpm=True)),
    (dict(), dict(mask="bool3d", kpm=True)),
    (dict(), dict(is_causal=True)),
])
def test_multihead_attention_vs_torch(rng, kw, call):
    E, H, L, S, N = 8, 2, 4, 5, 3
    tm = torch.nn.MultiheadAttention(E, H, **kw)
    em = nn.MultiheadAttention(E, H, **kw)
    _copy_into(em, tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    bf = kw.get("batch_first", False)
    shape = lambda n, f: (N, n, f) if bf else (n, N, f)  # noqa: E731
    if call.get("is_causal"):
        S = L
    arrays = [f32(rng, *shape(L, E)), f32(rng, *shape(S, kw.get("kdim", E))), f32(rng, *shape(S, kw.get("vdim", E)))]
    extra_e, extra_t = {}, {}
    mask = call.get("mask")
    if mask == "bool":
        m = rng.random((L, S)) > 0.6
        m[:, 0] = False
        extra_e["attn_mask"], extra_t["attn_mask"] = ember.tensor(m), torch.tensor(m)
    elif mask == "bool3d":
        m = rng.random((N * H, L, S)) > 0.6
        m[..., 0] = False  # key 0 is never padded either: no fully masked row
        extra_e["attn_mask"], extra_t["attn_mask"] = ember.tensor(m), torch.tensor(m)
    elif mask == "float":
        m = f32(rng, L, S)
        extra_e["attn_mask"], extra_t["attn_mask"] = ember.tensor(m), torch.tensor(m)
    if call.get("kpm"):
        k = rng.random((N, S)) > 0.7
        k[:, 0] = False
        extra_e["key_padding_mask"], extra_t["key_padding_mask"] = ember.tensor(k), torch.tensor(k)
    if call.get("is_causal"):
        m = np.triu(np.ones((L, S), bool), 1)
        extra_e["attn_mask"], extra_t["attn_mask"] = ember.tensor(m), torch.tensor(m)
        extra_e["is_causal"] = extra_t["is_causal"] = True
    for key in ("need_weights", "average_attn_weights"):
        if key in call:
            extra_e[key] = extra_t[key] = call[key]
    es = [ember.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    eo, ew = em(*es, **extra_e)
    to, tw = tm(*ts, **extra_t)
    assert_close(eo, to, atol=1e-5, what="output")
    assert_close(ew, tw, atol=1e-6, what="attention weights")
    gy = f32(rng, *to.shape)
    loss_e = (eo * ember.tensor(gy)).sum() + (0 if ew is None else ew.sum() * 0.5 + (ew * ew).sum())
    loss_t = (to * torch.tensor(gy)).sum() + (0 if tw is None else tw.sum() * 0.5 + (tw * tw).sum())
    loss_e.backward()
    loss_t.backward()
    _check_grads(em, tm, [(e, t, f"grad of input {i}") for i, (e, t) in enumerate(zip(es, ts))])


def test_multihead_attention_unbatched_vs_torch(rng):
    tm, em = torch.nn.MultiheadAttention(8, 4), nn.MultiheadAttention(8, 4)
    _copy_into(em, tm)
    x = f32(rng, 5, 8)
    kpm = np.array([False, False, True, False, True])
    eo, ew = em(*(ember.tensor(x),) * 3, key_padding_mask=ember.tensor(kpm))
    to, tw = tm(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(kpm))
    assert_close(eo, to, atol=1e-5, what="output")
    assert_close(ew, tw, atol=1e-6, what="weights")


def test_multihead_attention_init_and_errors():
    m = nn.MultiheadAttention(16, 4)
    w = m.in_proj_weight.detach().numpy()
    bound = np.sqrt(6 / (16 + 48))  # xavier_uniform on (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not m.in_proj_bias.detach().numpy().any() and not m.out_proj.bias.detach().numpy().any()
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 16, but got 8"):
        m(ember.randn(3, 2, 8), ember.randn(3, 2, 8), ember.randn(3, 2, 8))
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(2, 2\), but should be \(3, 3\)"):
        x = ember.randn(3, 2, 16)
        m(x, x, x, attn_mask=ember.zeros(2, 2))


@pytest.mark.parametrize("kw", [
    dict(),
    dict(activation="gelu", norm_first=True, batch_first=True),
    dict(layer_norm_eps=1e-3, bias=False),
])
def test_transformer_encoder_vs_torch(rng, kw):
    torch.manual_seed(0)
    tlayer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, **kw)
    tm = torch.nn.TransformerEncoder(tlayer, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    em = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, **kw), 2,
                               norm=nn.LayerNorm(8))
    _copy_into(em, tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    x = f32(rng, 3, 5, 8)
    m = np.triu(np.full((5, 5), -np.inf, np.float32), 1) if kw.get("batch_first") else None
    kpm = np.array([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]]) if kw.get("batch_first") else None
    for train in (True, False):  # dropout 0: train mode must match too
        em.train(train)
        tm.train(train)
        ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        eo = em(ex, mask=None if m is None else ember.tensor(m),
                src_key_padding_mask=None if kpm is None else ember.tensor(kpm))
        to = tm(tx, mask=None if m is None else torch.tensor(m),
                src_key_padding_mask=None if kpm is None else torch.tensor(kpm))
        assert_close(eo, to, atol=1e-5, rtol=1e-4, what=f"output (train={train})")
        gy = f32(rng, *to.shape)
        (eo * ember.tensor(gy)).sum().backward()
        (to * torch.tensor(gy)).sum().backward()
        _check_grads(em, tm, [(ex, tx, "grad of input")])
        em.zero_grad()
        tm.zero_grad()


def test_transformer_encoder_layer_dropout_active_in_training():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5)
    x = ember.randn(4, 2, 8)
    layer.eval()
    assert np.array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())
    layer.train()
    assert not np.allclose(layer(x).detach().numpy(), layer(x).detach().numpy())
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
