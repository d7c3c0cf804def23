"""linear_cross_entropy and LinearCrossEntropyLoss against torch 2.13.0: values and gradients."""
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
from conftest import assert_close
from torch_compare import compare

TF = torch.nn.functional


@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum"), dict(reduction="none"), dict(ignore_index=1),
                                dict(label_smoothing=0.2), dict(reduction="none", label_smoothing=0.1)])
@pytest.mark.parametrize("bias, out_features", [(False, ()), (True, ()), (True, (3,)), (False, (2, 2))])
def test_linear_cross_entropy_class_indices_vs_torch(rng, kw, bias, out_features):
    n, d, c = 6, 4, 5
    arrays = [rng.standard_normal((n, d)), rng.standard_normal((c, *out_features, d)),
              rng.integers(0, c, (n, *out_features))] + ([rng.standard_normal((c, *out_features))] if bias else [])
    call = lambda f: lambda x, w, t, *b: f(x, w, t, linear_bias=b[0] if b else None, **kw)  # noqa: E731
    compare(call(F.linear_cross_entropy), call(TF.linear_cross_entropy), *arrays, grad=[0, 1, 3][:2 + bias])


@pytest.mark.parametrize("shape", [(4, 3), (3,)])
def test_linear_cross_entropy_probabilities_and_weights_vs_torch(rng, shape):
    c = 5
    x, w = rng.standard_normal(shape), rng.standard_normal((c, shape[-1]))
    p = rng.random((*shape[:-1], c))
    cw = rng.random(c) + 0.5
    compare(lambda *a: F.linear_cross_entropy(*a[:3], weight=a[3]),
            lambda *a: TF.linear_cross_entropy(*a[:3], weight=a[3]), x, w, p, cw, grad=[0, 1, 2])


def test_linear_cross_entropy_options_give_the_reference_values(rng):
    x, w, t = rng.standard_normal((7, 3)), rng.standard_normal((4, 3)), rng.integers(0, 4, 7)
    opts = (nn.LinearCrossEntropyOptions(batch_chunk_size=2), torch.nn.LinearCrossEntropyOptions(batch_chunk_size=2))
    compare(lambda *a: F.linear_cross_entropy(*a, options=opts[0]),
            lambda *a: TF.linear_cross_entropy(*a, options=opts[1]), x, w, t, grad=[0, 1])


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 3, 3), lib.ones(2, 3), lib.ones(3, 2)),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 3), lib.ones(2), lib.ones(2, 2)),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 3), lib.ones(2, 4), lib.ones(2, 2)),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 3), lib.ones(2, 3), lib.ones(2, 2),
                                                       ignore_index=0),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(3), lib.ones(2, 4, 3), lib.ones(2, 4)),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 3), lib.ones(2, 3), lib.ones(2),
                                                       linear_bias=lib.ones(3)),
    lambda lib: lib.nn.LinearCrossEntropyLoss(3, 2, weight=lib.ones(3)),
    lambda lib: lib.nn.LinearCrossEntropyLoss(3, 2, label_smoothing=2.0),
])
def test_linear_cross_entropy_errors_as_torch(call):
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(RuntimeError, match="linear_cross_entropy|LinearCrossEntropyLoss"):
        call(ember)


def test_cross_entropy_batch_mismatch_raises_value_error_as_torch():
    for lib in (torch, ember):
        with pytest.raises(ValueError, match="batch_size"):
            lib.nn.functional.cross_entropy(lib.ones(4, 2), lib.zeros(5, 2))


@pytest.mark.parametrize("kw", [dict(), dict(bias=True, out_features=(3,), reduction="sum")])
def test_linear_cross_entropy_loss_module_vs_torch(rng, kw):
    tm = torch.nn.LinearCrossEntropyLoss(4, 5, **kw).double()
    em = nn.LinearCrossEntropyLoss(4, 5, **kw).double()
    assert list(em.state_dict()) == list(tm.state_dict())
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x, t = rng.standard_normal((6, 4)), rng.integers(0, 5, (6, *kw.get("out_features", ())))
    compare(em, tm, x, t, grad=[0])
    ex, tx = ember.tensor(x), torch.tensor(x)
    em(ex, ember.tensor(t)).backward()
    tm(tx, torch.tensor(t)).backward()
    assert_close(em.linear.weight.grad, tm.linear.weight.grad, what="gradient of linear.weight")
