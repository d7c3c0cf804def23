"""nn.utils.prune against torch 2.13.0: the same layers pruned the same way give the same masks, weights,
state dict keys, gradients and errors."""
import numpy as np
import pytest
import torch
import torch.nn.utils.prune  # noqa: F401  (torch does not import it with torch.nn.utils)

import ember
from conftest import assert_close


def _pair(make, seed=0):
    """The same layer in ember and torch (ember's weights copied from torch's)."""
    torch.manual_seed(seed)
    t = make(torch)
    e = make(ember)
    e.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()})
    return e, t


def _same_state(e, t):
    es, ts = e.state_dict(), t.state_dict()
    assert list(es) == list(ts)
    for k in ts:
        assert_close(es[k], ts[k], what=k)


def _conv(lib):
    return lib.nn.Conv2d(3, 6, 3)


def _linear(lib):
    return lib.nn.Linear(7, 5)


@pytest.mark.parametrize("amount", [0.3, 4, 0, 1.0])
def test_l1_unstructured(amount):
    e, t = _pair(_conv)
    ember.nn.utils.prune.l1_unstructured(e, "weight", amount=amount)
    torch.nn.utils.prune.l1_unstructured(t, "weight", amount=amount)
    _same_state(e, t)
    assert_close(e.weight, t.weight)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]


def test_iterative_pruning_forward_backward_and_remove():
    e, t = _pair(_conv)
    for lib, m in ((ember, e), (torch, t)):
        lib.nn.utils.prune.l1_unstructured(m, "bias", amount=3)
        lib.nn.utils.prune.l1_unstructured(m, "weight", amount=0.2)
        lib.nn.utils.prune.ln_structured(m, "weight", amount=0.5, n=2, dim=0)
        lib.nn.utils.prune.ln_structured(m, "weight", amount=1, n=1, dim=-1)
        assert lib.nn.utils.prune.is_pruned(m)
    _same_state(e, t)
    hooks = [h for h in e._forward_pre_hooks.values() if getattr(h, "_tensor_name", "") == "weight"]
    assert [type(m).__name__ for m in hooks[0]] == ["L1Unstructured", "LnStructured", "LnStructured"]
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    eo, to = e(ember.tensor(x)), t(torch.tensor(x))
    assert_close(eo, to)
    eo.sum().backward()
    to.sum().backward()
    assert_close(e.weight_orig.grad, t.weight_orig.grad)
    assert_close(e.bias_orig.grad, t.bias_orig.grad)
    for lib, m in ((ember, e), (torch, t)):
        lib.nn.utils.prune.remove(m, "weight")
        lib.nn.utils.prune.remove(m, "bias")
        assert not lib.nn.utils.prune.is_pruned(m)
    _same_state(e, t)
    assert isinstance(e.weight, ember.nn.Parameter)


def test_global_unstructured_and_custom_mask():
    (e1, t1), (e2, t2) = _pair(_conv, 1), _pair(_linear, 2)
    mask = np.random.default_rng(3).random((5,)) > 0.5
    ember.nn.utils.prune.custom_from_mask(e2, "bias", ember.tensor(mask))
    torch.nn.utils.prune.custom_from_mask(t2, "bias", torch.tensor(mask))
    ember.nn.utils.prune.l1_unstructured(e2, "weight", amount=3)
    torch.nn.utils.prune.l1_unstructured(t2, "weight", amount=3)
    ember.nn.utils.prune.global_unstructured([(e1, "weight"), (e2, "weight")],
                                             pruning_method=ember.nn.utils.prune.L1Unstructured, amount=0.4)
    torch.nn.utils.prune.global_unstructured([(t1, "weight"), (t2, "weight")],
                                             pruning_method=torch.nn.utils.prune.L1Unstructured, amount=0.4)
    _same_state(e1, t1)
    _same_state(e2, t2)
    assert int((e1.weight == 0).sum()) + int((e2.weight == 0).sum()) == \
        int((t1.weight == 0).sum()) + int((t2.weight == 0).sum())


def test_random_pruning_counts():
    # the draws differ between the libraries; the numbers pruned must not
    (e, t), (e2, t2) = _pair(_conv), _pair(_conv)
    for lib, m, m2 in ((ember, e, e2), (torch, t, t2)):
        lib.nn.utils.prune.random_unstructured(m, "weight", amount=0.3)
        lib.nn.utils.prune.random_structured(m2, "weight", amount=2, dim=0)
    assert int((e.weight_mask == 0).sum()) == int((t.weight_mask == 0).sum())
    assert int((e2.weight_mask.sum(dim=(1, 2, 3)) == 0).sum()) == int((t2.weight_mask.sum(dim=(1, 2, 3)) == 0).sum())


@pytest.mark.parametrize("call", [
    lambda lib, m: lib.nn.utils.prune.l1_unstructured(m, "weight", amount=-1),
    lambda lib, m: lib.nn.utils.prune.l1_unstructured(m, "weight", amount=1.5),
    lambda lib, m: lib.nn.utils.prune.l1_unstructured(m, "weight", amount=1000),
    lambda lib, m: lib.nn.utils.prune.l1_unstructured(m, "weight", amount="half"),
    lambda lib, m: lib.nn.utils.prune.ln_structured(m, "bias", amount=1, n=2, dim=0),
    lambda lib, m: lib.nn.utils.prune.ln_structured(m, "weight", amount=1, n=2, dim=2),
    lambda lib, m: lib.nn.utils.prune.remove(m, "weight"),
    lambda lib, m: lib.nn.utils.prune.global_unstructured(
        [(m, "weight")], pruning_method=lib.nn.utils.prune.LnStructured, amount=1, n=2, dim=0),
    lambda lib, m: lib.nn.utils.prune.global_unstructured(3, pruning_method=lib.nn.utils.prune.L1Unstructured,
                                                          amount=1),
])
def test_errors_as_torch(call):
    e, t = _pair(_linear)
    with pytest.raises(Exception) as te:
        call(torch, t)
    with pytest.raises(type(te.value)):
        call(ember, e)
    # a failed pruning leaves the module as it was
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
