"""Lazy modules and uninitialized parameters against torch 2.13.0's."""
import copy
import math
import re

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from ember.nn.modules import lazy as L
from ember.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy
from conftest import assert_close

# (ember lazy class, torch lazy class, constructor args, input shape, ember's non-lazy equivalent)
CASES = [
    (L.LazyLinear, torch.nn.LazyLinear, (4,), (2, 3), lambda: nn.Linear(3, 4)),
    (L.LazyConv1d, torch.nn.LazyConv1d, (6, 3), (2, 4, 7), lambda: nn.Conv1d(4, 6, 3)),
    (L.LazyConv2d, torch.nn.LazyConv2d, (6, 3), (2, 4, 5, 5), lambda: nn.Conv2d(4, 6, 3)),
    (L.LazyConvTranspose1d, torch.nn.LazyConvTranspose1d, (6, 3), (2, 4, 5), lambda: nn.ConvTranspose1d(4, 6, 3)),
    (L.LazyConvTranspose2d, torch.nn.LazyConvTranspose2d, (6, 3), (2, 4, 3, 3),
     lambda: nn.ConvTranspose2d(4, 6, 3)),
    (L.LazyBatchNorm1d, torch.nn.LazyBatchNorm1d, (), (5, 4), lambda: nn.BatchNorm1d(4)),
    (L.LazyBatchNorm2d, torch.nn.LazyBatchNorm2d, (), (3, 4, 2, 2), lambda: nn.BatchNorm2d(4)),
    (L.LazyInstanceNorm1d, torch.nn.LazyInstanceNorm1d, (), (2, 4, 5),
     lambda: nn.InstanceNorm1d(4, affine=True, track_running_stats=True)),
    (L.LazyInstanceNorm2d, torch.nn.LazyInstanceNorm2d, (), (2, 4, 3, 3),
     lambda: nn.InstanceNorm2d(4, affine=True, track_running_stats=True)),
]
IDS = [c[0].__name__ for c in CASES]


def _kinds(m):
    return {k: type(v).__name__ for k, v in list(m._parameters.items()) + list(m._buffers.items())}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_before_forward_matches_torch(case):
    ecls, tcls, args, _, _ = case
    e, t = ecls(*args), tcls(*args)
    assert repr(e) == repr(t)
    assert _kinds(e) == _kinds(t)
    assert e.has_uninitialized_params() and t.has_uninitialized_params()
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert all(isinstance(p, UninitializedParameter) for p in e.parameters())
    assert {k: type(v).__name__ for k, v in e.state_dict().items()} == \
           {k: type(v).__name__ for k, v in t.state_dict().items()}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_first_forward_becomes_the_layer(case):
    ecls, tcls, args, shape, plain = case
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    e, t = ecls(*args), tcls(*args)
    e(ember.tensor(x)), t(torch.tensor(x))
    assert type(e) is ecls.cls_to_become and type(t).__name__ == type(e).__name__
    assert repr(e) == repr(t)
    assert not hasattr(e, "_initialize_hook") and not e._forward_pre_hooks
    assert {k: tuple(v.shape) for k, v in e.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in t.state_dict().items()}
    assert all(type(p) is nn.Parameter for p in e.parameters())
    assert all(type(b) is ember.Tensor for b in e.buffers())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_init_draws_what_the_layer_draws(case):
    ecls, _, args, shape, plain = case
    ember.manual_seed(7)
    ref = plain()
    x = ember.zeros(*shape)
    ember.manual_seed(7)
    m = ecls(*args)
    m.initialize_parameters(x)
    assert type(m) is ecls and not m.has_uninitialized_params()  # only a forward changes the class
    ref_sd, sd = ref.state_dict(), m.state_dict()
    assert list(sd) == list(ref_sd)
    for k in sd:
        np.testing.assert_array_equal(sd[k].numpy(), ref_sd[k].numpy())


@pytest.mark.parametrize("case", CASES[:5], ids=IDS[:5])
def test_init_bounds_follow_torch_rule(case):
    # torch: kaiming_uniform(a=sqrt(5)) weight and U(+-1/sqrt(fan_in)) bias, fan_in = in/groups * prod(k)
    ecls, _, args, shape, _ = case
    ember.manual_seed(0)
    m = ecls(*args)
    m(ember.zeros(*shape))
    w = m.weight.detach().numpy()
    fan_in = w.shape[1] * int(np.prod(w.shape[2:]))
    bound = 1 / math.sqrt(fan_in)  # gain sqrt(2/(1+5)) * sqrt(3/fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_backward_after_materialization(case):
    ecls, tcls, args, shape, _ = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    e, t = ecls(*args), tcls(*args)
    e(ember.tensor(x)), t(torch.tensor(x))
    with torch.no_grad():
        for p in t.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    e.load_state_dict({k: ember.tensor(v.numpy().copy()) for k, v in t.state_dict().items()})
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = e(xe), t(xt)
    assert_close(ye, yt, atol=1e-5, rtol=1e-4, what="output")
    gy = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    ye.backward(ember.tensor(gy)), yt.backward(torch.tensor(gy))
    assert_close(xe.grad, xt.grad, atol=1e-4, rtol=1e-4, what="input grad")
    for (n, pe), (_, pt) in zip(e.named_parameters(), t.named_parameters()):
        assert_close(pe.grad, pt.grad, atol=1e-4, rtol=1e-4, what=n)
    for (n, be), (_, bt) in zip(e.named_buffers(), t.named_buffers()):
        assert_close(be, bt, atol=1e-5, rtol=1e-4, what=n)


def test_uninitialized_parameter_refuses_use_as_torch():
    e, t = UninitializedParameter(), torch.nn.parameter.UninitializedParameter()
    assert repr(e) == repr(t) == "<UninitializedParameter>" and str(e) == str(t)
    assert isinstance(e, nn.Parameter) and is_lazy(e) and e.requires_grad
    assert e.dtype is ember.float32 and tuple(e.size()) == tuple(t.size()) == (0,)
    assert e.is_floating_point() and e.grad is None
    for f in (lambda p: p.shape,):
        with pytest.raises(RuntimeError, match="uninitialized parameter or buffer"):
            f(t)
        with pytest.raises(RuntimeError, match="uninitialized parameter or buffer"):
            f(e)
    for f in (lambda p: p + 1, lambda p: p.sum(), lambda p: p.detach(), lambda p: p.numel(),
              lambda p: p.dim(), lambda p: p.numpy(), lambda p: p.requires_grad_(False)):
        with pytest.raises(ValueError, match="uninitialized parameter"):
            f(t)
        with pytest.raises(ValueError, match="uninitialized parameter"):
            f(e)
    with pytest.raises(ValueError):
        ember.add(e, 1)


def test_materialize_as_torch():
    for dtype, kw in ((None, {}), (ember.float64, {"dtype": ember.float64})):
        p = UninitializedParameter(requires_grad=False, **kw)
        p.materialize((2, 3))
        assert type(p) is nn.Parameter and tuple(p.shape) == (2, 3) and not p.requires_grad
        assert p.dtype is (dtype or ember.float32)
    p = UninitializedParameter()
    p.materialize(4, dtype=ember.float64)
    assert tuple(p.shape) == (4,) and p.dtype is ember.float64
    b, tb = UninitializedBuffer(), torch.nn.parameter.UninitializedBuffer()
    assert repr(b) == repr(tb) and b.persistent == tb.persistent and b.requires_grad == tb.requires_grad
    assert isinstance(b, nn.Parameter) == isinstance(tb, torch.nn.Parameter)
    b.materialize(3), tb.materialize(3)
    assert type(b) is ember.Tensor and tuple(b.shape) == tuple(tb.shape) == (3,)


def test_cast_before_forward_keeps_them_lazy():
    e, t = L.LazyBatchNorm1d().double(), torch.nn.LazyBatchNorm1d().double()
    assert _kinds(e) == _kinds(t)
    assert e.weight.dtype is ember.float64 and e.running_mean.dtype is ember.float64
    e(ember.randn(4, 3, dtype=ember.float64))
    assert e.weight.dtype is ember.float64 and e.running_var.dtype is ember.float64


def test_load_state_dict_materializes_with_loaded_shapes():
    src, tsrc = nn.Linear(3, 4), torch.nn.Linear(3, 4)
    e, t = L.LazyLinear(4), torch.nn.LazyLinear(4)
    assert tuple(e.load_state_dict(src.state_dict())) == tuple(t.load_state_dict(tsrc.state_dict()))
    # like torch: materialized and loaded, but still the lazy class with in_features 0 until a forward
    assert type(e) is L.LazyLinear and repr(e) == repr(t) and type(e.weight) is nn.Parameter
    np.testing.assert_array_equal(e.weight.detach().numpy(), src.weight.detach().numpy())
    e(ember.randn(2, 3)), t(torch.randn(2, 3))
    assert repr(e) == repr(t) and type(e) is nn.Linear
    np.testing.assert_array_equal(e.bias.detach().numpy(), src.bias.detach().numpy())  # the forward did not re-draw them


def test_load_state_dict_lazy_into_lazy_and_partial():
    e, t = L.LazyLinear(4), torch.nn.LazyLinear(4)
    assert tuple(e.load_state_dict(L.LazyLinear(4).state_dict())) == \
           tuple(t.load_state_dict(torch.nn.LazyLinear(4).state_dict()))
    assert _kinds(e) == _kinds(t)
    e, t = L.LazyLinear(4), torch.nn.LazyLinear(4)
    re = e.load_state_dict({"weight": ember.zeros(4, 3)}, strict=False)
    rt = t.load_state_dict({"weight": torch.zeros(4, 3)}, strict=False)
    assert tuple(re) == tuple(rt) and _kinds(e) == _kinds(t)
    # an uninitialized entry cannot go into an initialized module
    with pytest.raises(RuntimeError, match="shape of an uninitialized"):
        torch.nn.Linear(3, 4).load_state_dict(torch.nn.LazyLinear(4).state_dict())
    with pytest.raises(RuntimeError, match="shape of an uninitialized"):
        nn.Linear(3, 4).load_state_dict(L.LazyLinear(4).state_dict())


def test_state_dict_keep_vars_and_bn_loading():
    e = L.LazyBatchNorm2d()
    sd = e.state_dict(keep_vars=True)
    assert sd["weight"] is e.weight and sd["running_mean"] is e.running_mean
    src = nn.BatchNorm2d(3)
    src(ember.randn(2, 3, 2, 2))
    e.load_state_dict(src.state_dict())
    assert not e.has_uninitialized_params()
    np.testing.assert_array_equal(e.running_var.numpy(), src.running_var.numpy())
    assert int(e.num_batches_tracked.item()) == 1


def test_errors_as_torch():
    for ecls, tcls, args, x in ((L.LazyConv2d, torch.nn.LazyConv2d, (4, 3), (2, 3, 4, 5, 6)),
                                (L.LazyConv2d, torch.nn.LazyConv2d, (4, 3, 1, 0, 1, 2), (2, 3, 5, 5))):
        with pytest.raises(Exception) as te:
            tcls(*args)(torch.zeros(x))
        with pytest.raises(te.type, match=re.escape(str(te.value)[:20])):
            ecls(*args)(ember.zeros(*x))
    with pytest.raises(TypeError):
        L.LazyLinear(4)(ember.zeros(2, 3), 5)
    with pytest.raises(NotImplementedError):
        L.LazyModuleMixin.initialize_parameters(L.LazyLinear(2))


def test_lazy_in_a_network_and_deepcopy():
    net = nn.Sequential(L.LazyLinear(5), nn.ReLU(), L.LazyLinear(2))
    twin = copy.deepcopy(net)
    assert twin[0].weight is not net[0].weight and is_lazy(twin[0].weight)
    assert net(ember.randn(3, 7)).shape == (3, 2)
    assert [type(m) for m in net] == [nn.Linear, nn.ReLU, nn.Linear] and net[2].in_features == 5
    assert is_lazy(twin[0].weight)  # the copy is untouched
    assert twin(ember.randn(1, 4)).shape == (1, 2)
