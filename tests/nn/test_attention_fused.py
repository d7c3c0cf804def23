"""The fused attention op (softmax(q k^T s + mask) v in one op) against torch: values, gradients,
double backward; and multi-head attention with masks on its fused path."""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F


def _pair(a, requires_grad=True):
    return ember.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


@pytest.mark.parametrize("mask_kind", [None, "bool", "float", "causal"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sdpa_values_and_grads(mask_kind, dtype, batch_split):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7)))
    (eq, tq), (ek, tk), (ev, tv) = _pair(q), _pair(k), _pair(v)
    kw_e, kw_t = {}, {}
    if mask_kind == "bool":
        m = rng.random((5, 6)) > 0.3
        m[:, 0] = True
        kw_e["attn_mask"], kw_t["attn_mask"] = ember.tensor(m), torch.tensor(m)
    elif mask_kind == "float":
        m = rng.standard_normal((2, 1, 5, 6)).astype(dtype)
        kw_e["attn_mask"], kw_t["attn_mask"] = ember.tensor(m), torch.tensor(m)
    elif mask_kind == "causal":
        kw_e["is_causal"] = kw_t["is_causal"] = True
    out = F.scaled_dot_product_attention(eq, ek, ev, **kw_e)
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **kw_t)
    assert type(out.grad_fn).__name__ == "_AttentionBackward0"
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), **tol)
    g = rng.standard_normal(out.shape).astype(dtype)
    by_grad = ember.autograd.grad(out, (eq, ek, ev), ember.tensor(g), retain_graph=True)
    out.backward(ember.tensor(g))
    ref.backward(torch.tensor(g))
    for e, t, e2 in zip((eq, ek, ev), (tq, tk, tv), by_grad):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), **tol)
        np.testing.assert_allclose(e2.numpy(), t.grad.numpy(), **tol)


def test_sdpa_double_backward():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s) for s in ((2, 4, 3), (2, 5, 3), (2, 5, 2)))
    mask = rng.random((4, 5)) > 0.2
    mask[:, 0] = True
    ins = [ember.tensor(a, requires_grad=True) for a in (q, k, v)]
    fn = lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=ember.tensor(mask))  # noqa: E731
    assert ember.autograd.gradcheck(fn, tuple(ins))
    assert ember.autograd.gradgradcheck(fn, tuple(ins))
    # and torch's second derivatives on the same inputs
    tins = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    gq, = ember.autograd.grad(fn(*ins).pow(2).sum(), ins[0], create_graph=True)
    tgq, = torch.autograd.grad(torch.nn.functional.scaled_dot_product_attention(
        *tins, attn_mask=torch.tensor(mask)).pow(2).sum(), tins[0], create_graph=True)
    ember.autograd.backward(gq.sum())
    tgq.sum().backward()
    for e, t in zip(ins, tins):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", ["none", "padding", "both_bool", "float_attn"])
def test_mha_fused_path(masks, batch_first, batch_split):
    """Self-attention (one in-projection product, in the layout the input is stored in) against torch."""
    rng = np.random.default_rng(2)
    L, N, E, H = 5, 3, 8, 2
    tm = torch.nn.MultiheadAttention(E, H, batch_first=batch_first)
    em = ember.nn.MultiheadAttention(E, H, batch_first=batch_first)
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = rng.standard_normal((N, L, E) if batch_first else (L, N, E)).astype(np.float32)
    (ex, tx) = _pair(x)
    kw_e, kw_t = {}, {}
    if masks in ("padding", "both_bool"):
        kpm = np.zeros((N, L), bool)
        kpm[0, -2:] = True
        kw_e["key_padding_mask"], kw_t["key_padding_mask"] = ember.tensor(kpm), torch.tensor(kpm)
    if masks == "both_bool":
        am = np.triu(np.ones((L, L), bool), 1)
        kw_e["attn_mask"], kw_t["attn_mask"] = ember.tensor(am), torch.tensor(am)
    if masks == "float_attn":
        am = rng.standard_normal((L, L)).astype(np.float32)
        kw_e["attn_mask"], kw_t["attn_mask"] = ember.tensor(am), torch.tensor(am)
    out, w = em(ex, ex, ex, need_weights=False, **kw_e)
    ref, tw = tm(tx, tx, tx, need_weights=False, **kw_t)
    assert w is None and tw is None
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_mha_packed_self_attention_double_backward():
    """The packed self-attention op (batch_first self-attention) under create_graph: second-order gradients
    of the input and the parameters against torch's, in float64."""
    rng = np.random.default_rng(5)
    N, L, E, H = 2, 4, 6, 3
    tm = torch.nn.MultiheadAttention(E, H, batch_first=True).double()
    em = ember.nn.MultiheadAttention(E, H, batch_first=True).double()
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = rng.standard_normal((N, L, E))
    am = np.triu(np.ones((L, L), bool), 1)
    results = []
    for lib, m in ((ember, em), (torch, tm)):
        xt = lib.tensor(x, requires_grad=True)
        # (torch's fused kernel has no double backward: its math path, taken when it returns the weights)
        out = m(xt, xt, xt, need_weights=lib is torch, attn_mask=lib.tensor(am))[0]
        if lib is ember:
            assert "_SelfAttentionBackward0" in _node_names(out.grad_fn)
        gx, = lib.autograd.grad((out * out).sum(), xt, create_graph=True)
        (gx * gx).sum().backward()
        results.append([xt.grad.numpy()] + [p.grad.numpy() for p in m.parameters()])
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-9, atol=1e-12)


def _node_names(fn) -> set:
    """The class names of the nodes of a graph."""
    names, seen, todo = set(), set(), [fn]
    while todo:
        f = todo.pop()
        if f is not None and id(f) not in seen:
            seen.add(id(f))
            names.add(type(f).__name__)
            todo.extend(n for n, _ in f.next_functions)
    return names


@pytest.mark.parametrize("batch_first", [True, False])
def test_mha_is_causal_without_mask_raises_as_torch(batch_first):
    messages = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = lib.nn.MultiheadAttention(8, 2, batch_first=batch_first)
        x = lib.ones(2, 3, 8)
        with pytest.raises(RuntimeError) as err:
            m(x, x, x, is_causal=True, need_weights=False)
        messages.append(str(err.value))
    assert messages[1] == messages[0]
