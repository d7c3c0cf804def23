"""Lazy 3-D convolutions and norms, LPPool3d and MaxUnpool3d against torch 2.13.0."""
import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
from conftest import assert_close
from torch_compare import compare

TF = torch.nn.functional


def _copy_state(em, tm):
    em.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})


@pytest.mark.parametrize("name, args, shape", [
    ("LazyConv3d", (4, 3), (2, 3, 5, 6, 7)),
    ("LazyConv3d", (4, (2, 3, 1)), (3, 4, 5, 6)),  # unbatched
    ("LazyConvTranspose3d", (2, 3), (1, 4, 3, 4, 5)),
    ("LazyBatchNorm3d", (), (2, 3, 2, 3, 4)),
    ("LazyInstanceNorm3d", (), (2, 3, 2, 3, 4)),
])
def test_lazy_3d_modules_vs_torch(rng, name, args, shape):
    tm, em = getattr(torch.nn, name)(*args).double(), getattr(nn, name)(*args).double()
    x = rng.standard_normal(shape)
    tm(torch.tensor(x))
    em(ember.tensor(x))
    assert type(em).__name__ == type(tm).__name__ and em.weight.shape == tuple(tm.weight.shape)
    _copy_state(em, tm)
    compare(em, tm, x)


@pytest.mark.parametrize("p, kw, shape", [
    (2.0, dict(kernel_size=2), (2, 3, 4, 6, 8)),
    (1.5, dict(kernel_size=(2, 3, 2), stride=(1, 2, 2)), (1, 2, 5, 6, 5)),
    (3.0, dict(kernel_size=2, ceil_mode=True), (2, 5, 5, 7)),  # unbatched, partial windows
])
def test_lp_pool3d_vs_torch(rng, p, kw, shape):
    x = np.abs(rng.standard_normal(shape)) + 0.1
    compare(lambda t: F.lp_pool3d(t, p, **kw), lambda t: TF.lp_pool3d(t, p, **kw), x)
    compare(nn.LPPool3d(p, **kw), torch.nn.LPPool3d(p, **kw), x)


@pytest.mark.parametrize("kw, shape, output_size", [
    (dict(kernel_size=2), (2, 3, 4, 6, 8), None),
    (dict(kernel_size=2), (2, 3, 5, 7, 6), (5, 7, 6)),
    (dict(kernel_size=3, stride=1, padding=1), (2, 4, 4, 5), None),  # unbatched, overlapping windows
])
def test_max_unpool3d_vs_torch(rng, kw, shape, output_size):
    n = int(np.prod(shape))
    x = ((rng.permutation(n) - n / 2) * 0.1).reshape(shape)  # no ties: one argmax per window
    out, idx = TF.max_pool3d(torch.tensor(x), return_indices=True, **kw)
    args = (out.numpy(), idx.numpy())
    compare(lambda v, i: F.max_unpool3d(v, i, output_size=output_size, **kw),
            lambda v, i: TF.max_unpool3d(v, i, output_size=output_size, **kw), *args)
    e, t = nn.MaxUnpool3d(**kw), torch.nn.MaxUnpool3d(**kw)
    compare(lambda v, i: e(v, i, output_size), lambda v, i: t(v, i, output_size), *args)


def test_max_unpool3d_bad_index_raises_as_torch():
    v, i = ember.ones(1, 1, 1, 1, 1), ember.tensor([[[[[9]]]]])
    with pytest.raises(RuntimeError, match="max_unpool3d"):
        F.max_unpool3d(v, i, 2)
    with pytest.raises(RuntimeError):
        TF.max_unpool3d(torch.ones(1, 1, 1, 1, 1), torch.tensor([[[[[9]]]]]), 2)


# ----------------------------------------------------------------------------- MultiheadAttention extras
@pytest.mark.parametrize("add_bias_kv, add_zero_attn, batch_first, masks, kdim", [
    (True, False, False, False, None),
    (False, True, True, True, None),
    (True, True, False, True, None),
    (True, True, True, False, 3),  # separate projections
])
def test_multihead_attention_bias_kv_zero_attn_vs_torch(rng, add_bias_kv, add_zero_attn, batch_first, masks, kdim):
    kw = dict(add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn, batch_first=batch_first, kdim=kdim, vdim=kdim)
    tm, em = torch.nn.MultiheadAttention(4, 2, **kw).double(), nn.MultiheadAttention(4, 2, **kw).double()
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    _copy_state(em, tm)
    L, S, N = 3, 5, 2
    shape = (lambda t, e: (N, t, e)) if batch_first else (lambda t, e: (t, N, e))
    arrays = [rng.standard_normal(shape(L, 4)), rng.standard_normal(shape(S, kdim or 4)),
              rng.standard_normal(shape(S, kdim or 4))]
    kpm = np.zeros((N, S), bool)
    kpm[1, -2:] = True
    am = rng.standard_normal((L, S)) < -1  # bool, like the padding mask
    extra = (lambda lib: dict(key_padding_mask=lib.tensor(kpm), attn_mask=lib.tensor(am))) if masks else \
        (lambda lib: {})
    compare(lambda *a: em(*a, **extra(ember), average_attn_weights=False),
            lambda *a: tm(*a, **extra(torch), average_attn_weights=False), *arrays)
    eo, to = em(*map(ember.tensor, arrays), need_weights=False), tm(*map(torch.tensor, arrays), need_weights=False)
    compare(lambda *a: em(*a, need_weights=False)[0], lambda *a: tm(*a, need_weights=False)[0], *arrays)
    assert eo[1] is None and to[1] is None
    for name in ("bias_k", "bias_v") if add_bias_kv else ():  # both saw the same two backward passes
        assert_close(getattr(em, name).grad, getattr(tm, name).grad, what=f"gradient of {name}")


def test_multi_head_attention_forward_static_kv_vs_torch(rng):
    E, H, L, S, N = 4, 2, 3, 4, 2
    q = rng.standard_normal((L, N, E))
    w, b, ow, ob = (rng.standard_normal(s) for s in ((3 * E, E), (3 * E,), (E, E), (E,)))
    sk, sv = rng.standard_normal((N * H, S, E // H)), rng.standard_normal((N * H, S, E // H))
    compare(lambda *a: F.multi_head_attention_forward(a[0], a[0], a[0], E, H, *a[1:3], None, None, True, 0.0,
                                                      *a[3:5], static_k=a[5], static_v=a[6]),
            lambda *a: TF.multi_head_attention_forward(a[0], a[0], a[0], E, H, *a[1:3], None, None, True, 0.0,
                                                       *a[3:5], static_k=a[5], static_v=a[6]),
            q, w, b, ow, ob, sk, sv)


def test_huber_loss_refuses_a_complex_delta_as_torch():
    import torch
    for lib in (ember, torch):
        with pytest.raises(TypeError, match="delta must be a float or int"):
            lib.nn.HuberLoss(delta=1 + 2j)
        assert lib.nn.HuberLoss(delta=2).delta == 2
