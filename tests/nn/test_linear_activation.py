"""Linear, Bilinear, Embedding, Dropout, Flatten and the activation modules against torch 2.13.0."""
import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from conftest import assert_close
from torch_compare import compare, f32


def _copy_params(e, t):
    e.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()})


def _compare_module(e, t, *arrays, **kw):
    """Outputs, input gradients and parameter gradients of the same module in ember and torch."""
    _copy_params(e, t)
    compare(e, t, *arrays, **kw)
    tp = dict(t.named_parameters())
    for name, p in e.named_parameters():
        assert_close(p.grad, tp[name].grad, atol=kw.get("atol", 1e-5), rtol=1e-4, what=f"grad of {name}")


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear(rng, bias, shape):
    _compare_module(nn.Linear(3, 4, bias=bias), torch.nn.Linear(3, 4, bias=bias), f32(rng, *shape))


@pytest.mark.parametrize("rows,features", [(64, 256), (48, 100), (7, 3), (None, 5)])
def test_linear_bias_rows_joined_and_split(rows, features, batch_split, monkeypatch):
    """The bias added along joined rows (64 x 256 becomes 2 x 8192) and its gradient summed in blocks of rows,
    on one thread and split between three, against torch's addmm."""
    from ember import _backend
    monkeypatch.setattr(_backend, "SPLIT_SIDE", 1)
    rng = np.random.default_rng(3)
    lead = () if rows is None else (rows,)  # (None: an unbatched input)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (lead + (16,), (features, 16), (features,)))
    g = rng.standard_normal(lead + (features,)).astype(np.float32)
    ins = [(ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)) for a in (x, w, b)]
    out = F.linear(*(e for e, _ in ins))
    ref = torch.nn.functional.linear(*(t for _, t in ins))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    out.backward(ember.tensor(g))
    ref.backward(torch.tensor(g))
    for e, t in ins:
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_linear_default_init_bounds_and_repr():
    ember.manual_seed(0)
    m = nn.Linear(50, 40)
    bound = 1 / np.sqrt(50)  # kaiming_uniform(a=sqrt(5)) gives the same bound as the bias
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound and abs(w.std() - bound / np.sqrt(3)) < 0.01
    assert np.abs(b).max() <= bound
    assert repr(m) == repr(torch.nn.Linear(50, 40)) and repr(nn.Linear(2, 3, bias=False)) == \
        repr(torch.nn.Linear(2, 3, bias=False))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x5 and 50x40\)"):
        m(ember.zeros(2, 5))


def test_linear_double_backward(rng):
    x = ember.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    b = ember.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(F.linear, (x, w, b)) and gradgradcheck(F.linear, (x, w, b))


def test_bilinear(rng):
    e, t = nn.Bilinear(3, 2, 4), torch.nn.Bilinear(3, 2, 4)
    _compare_module(e, t, f32(rng, 5, 3), f32(rng, 5, 2), atol=1e-4)
    assert repr(e) == repr(t)


@pytest.mark.parametrize("padding_idx", [None, 1, -1])
def test_embedding(rng, padding_idx):
    t = torch.nn.Embedding(6, 3, padding_idx=padding_idx)
    e = nn.Embedding(6, 3, padding_idx=padding_idx)
    _copy_params(e, t)
    idx = np.array([[0, 1, 5], [1, 1, 2]], dtype=np.int64)
    eo, to = e(ember.tensor(idx)), t(torch.tensor(idx))
    assert_close(eo, to)
    gy = f32(rng, 2, 3, 3)
    eo.backward(ember.tensor(gy))
    to.backward(torch.tensor(gy))
    assert_close(e.weight.grad, t.weight.grad, what="weight grad")
    assert repr(e) == repr(t)
    if padding_idx is not None:
        assert nn.Embedding(4, 2, padding_idx=padding_idx).weight[padding_idx].abs().sum().item() == 0.0


def test_embedding_scale_grad_by_freq_and_max_norm(rng):
    w = f32(rng, 5, 3) * 3
    idx = np.array([0, 2, 2, 4, 2], dtype=np.int64)
    kw = dict(max_norm=1.5, scale_grad_by_freq=True)
    e = nn.Embedding.from_pretrained(ember.tensor(w.copy()), freeze=False, **kw)
    t = torch.nn.Embedding.from_pretrained(torch.tensor(w.copy()), freeze=False, **kw)
    eo, to = e(ember.tensor(idx)), t(torch.tensor(idx))
    assert_close(eo, to, atol=1e-6)
    assert_close(e.weight, t.weight, atol=1e-6, what="renormed weight")
    gy = f32(rng, 5, 3)
    eo.backward(ember.tensor(gy))
    to.backward(torch.tensor(gy))
    assert_close(e.weight.grad, t.weight.grad, what="weight grad")
    assert repr(e) == repr(t)
    assert not nn.Embedding.from_pretrained(ember.tensor(w)).weight.requires_grad


def test_embedding_double_backward_and_errors(rng):
    w = ember.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    idx = ember.tensor([[0, 3], [3, 1]])
    assert gradgradcheck(lambda a: F.embedding(idx, a, padding_idx=3), (w,))
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(ember.tensor([4]), w)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=3)


def test_dropout_train_eval_and_scaling():
    ember.manual_seed(0)
    x = ember.ones(200, 50)
    m = nn.Dropout(0.3)
    y = m(x).numpy()
    kept = y != 0
    assert np.allclose(y[kept], 1 / 0.7) and abs(kept.mean() - 0.7) < 0.02
    assert m.eval()(x) is x
    assert F.dropout(x, 1.0).numpy().sum() == 0 and F.dropout(x, 0.0) is x
    z = ember.ones(3, 4)
    F.dropout(z, 0.5, inplace=True)
    assert set(np.unique(z.numpy())) <= {0.0, 2.0}
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    assert repr(m) == repr(torch.nn.Dropout(0.3))


def test_dropout_gradient_matches_mask():
    ember.manual_seed(1)
    x = ember.ones(10, 10, requires_grad=True)
    y = F.dropout(x, 0.4)
    y.sum().backward()
    assert np.array_equal(x.grad.numpy(), y.detach().numpy())


@pytest.mark.parametrize("cls, shape", [("Dropout1d", (4, 6, 30)), ("Dropout2d", (4, 6, 5, 6)),
                                        ("Dropout2d", (4, 6, 30)), ("Dropout1d", (6, 30))])
def test_channel_dropout_zeroes_whole_channels(cls, shape):
    ember.manual_seed(2)
    y = getattr(nn, cls)(0.5)(ember.ones(*shape)).numpy()
    flat = y.reshape(shape[:-1 if cls == "Dropout1d" or len(shape) == 3 else -2] + (-1,))
    assert all(len(np.unique(c)) == 1 for c in flat.reshape(-1, flat.shape[-1]))
    assert set(np.unique(y)) == {0.0, 2.0}
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        nn.Dropout1d()(ember.ones(2, 2, 2, 2))


def test_flatten_unflatten(rng):
    x = f32(rng, 2, 3, 4, 5)
    compare(nn.Flatten(), torch.nn.Flatten(), x)
    compare(nn.Flatten(0, 2), torch.nn.Flatten(0, 2), x)
    compare(nn.Unflatten(1, (3, 1)), torch.nn.Unflatten(1, (3, 1)), x)
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten()) and \
        repr(nn.Unflatten(1, (2, 3))) == repr(torch.nn.Unflatten(1, (2, 3)))
    assert nn.Identity(3, foo=1)(ember.ones(2)).tolist() == [1.0, 1.0]


ACTIVATIONS = [("ReLU", {}), ("ReLU6", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {"alpha": 0.7}),
               ("SELU", {}), ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("SiLU", {}), ("Mish", {}),
               ("Softplus", {"beta": 2.0, "threshold": 5.0}), ("Tanh", {}), ("Sigmoid", {}),
               ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("Softmax", {"dim": 1}),
               ("LogSoftmax", {"dim": 0}), ("Softmin", {"dim": -1})]


@pytest.mark.parametrize("name, kw", ACTIVATIONS)
def test_activation_modules(rng, name, kw):
    x = f32(rng, 4, 5) * 3
    e, t = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    compare(e, t, x, atol=1e-5)
    assert repr(e) == repr(t)


@pytest.mark.parametrize("name, kw", [("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.1}), ("ELU", {}),
                                      ("Hardtanh", {}), ("SiLU", {})])
def test_inplace_activations(rng, name, kw):
    x = f32(rng, 3, 4)
    e = ember.tensor(x.copy())
    t = torch.tensor(x.copy())
    out = getattr(nn, name)(inplace=True, **kw)(e)
    getattr(torch.nn, name)(inplace=True, **kw)(t)
    assert out is e
    assert_close(e, t)
    assert repr(getattr(nn, name)(inplace=True, **kw)) == repr(getattr(torch.nn, name)(inplace=True, **kw))
