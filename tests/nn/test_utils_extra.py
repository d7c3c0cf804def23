"""nn.utils: the hook-based spectral_norm, BatchNorm fusion, skip_init, stateless.functional_call, memory-format
conversion, and nn.init's sparse_ / deprecated aliases: the same code under ember and torch 2.13.0."""
import warnings

import pytest
import torch

import ember
from tests.conftest import assert_close

LIBS = (ember, torch)


def _both(fn):
    return [fn(m) for m in LIBS]


def _same(pair, atol=1e-6, what=""):
    e, t = pair
    if isinstance(e, (tuple, list)):
        for i, (a, b) in enumerate(zip(e, t)):
            _same((a, b), atol, f"{what}[{i}]")
        return
    if isinstance(t, torch.Tensor):
        assert_close(e, t, atol=atol, what=what)
    else:
        assert e == t, what


def _spectral_run(m, module_fn, steps=3):
    m.manual_seed(1)
    mod = m.nn.utils.spectral_norm(module_fn(m), n_power_iterations=2)
    x = m.linspace(-1, 1, 2 * mod.weight_orig.shape[1 if mod.weight_orig.dim() == 2 else 0] * 1)
    out = []
    for step in range(steps):
        if step == 2:
            mod.eval()  # eval: no power iteration, u and v stay
        w = mod.weight_orig
        y = (mod(x.reshape(2, -1)) if w.dim() == 2 else mod(m.ones(1, 3, 5))).sum()
        y.backward()
        out += [y.detach(), mod.weight_u.clone(), mod.weight_v.clone(), w.grad.clone()]
    out.append(sorted(mod.state_dict().keys()))
    m.nn.utils.remove_spectral_norm(mod)
    out += [mod.weight.detach(), sorted(mod.state_dict().keys()), type(mod.weight).__name__]
    return out


@pytest.mark.parametrize("build", [lambda m: m.nn.Linear(4, 3), lambda m: m.nn.ConvTranspose1d(3, 2, 2)],
                         ids=["linear", "conv_transpose"])
def test_spectral_norm_matches_torch(build):
    _same(_both(lambda m: _spectral_run(m, build)), atol=1e-5)


def test_spectral_norm_errors():
    for m in LIBS:
        mod = m.nn.utils.spectral_norm(m.nn.Linear(2, 2))
        with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
            m.nn.utils.spectral_norm(mod)
        with pytest.raises(ValueError, match="spectral_norm of 'bias' not found"):
            m.nn.utils.remove_spectral_norm(mod, "bias")
        with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
            m.nn.utils.spectral_norm(m.nn.Linear(2, 2), n_power_iterations=0)
        assert m.nn.utils.spectral_norm(m.nn.Linear(2, 2)).state_dict()._metadata[""]["spectral_norm"] == \
            {"weight.version": 1}


def _conv_bn(m, transpose):
    m.manual_seed(0)
    conv = (m.nn.ConvTranspose2d(3, 4, 2) if transpose else m.nn.Conv2d(3, 4, 2, bias=False)).eval()
    bn = m.nn.BatchNorm2d(4).eval()
    with m.no_grad():
        bn.running_mean.copy_(m.linspace(-1, 1, 4))
        bn.running_var.copy_(m.linspace(0.5, 2, 4))
        bn.weight.copy_(m.linspace(0.3, 1.2, 4))
    x = m.randn(2, 3, 5, 5)
    fused = m.nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    return [fused(x), bn(conv(x)), fused.weight, fused.bias, type(fused.weight).__name__, fused is conv]


@pytest.mark.parametrize("transpose", [False, True])
def test_fuse_conv_bn(transpose):
    _same(_both(lambda m: _conv_bn(m, transpose)), atol=1e-5)


def _linear_bn(m, features):
    m.manual_seed(0)
    lin, bn = m.nn.Linear(3, 4).eval(), m.nn.BatchNorm1d(features).eval()
    with m.no_grad():
        bn.running_mean.fill_(0.5)
        bn.running_var.fill_(2.0)
    fused = m.nn.utils.fuse_linear_bn_eval(lin, bn)
    w, b = m.nn.utils.fuse_linear_bn_weights(lin.weight, None, bn.running_mean, bn.running_var, 1e-3, bn.weight,
                                             bn.bias)
    x = m.randn(5, 3)
    return [fused(x), bn(lin(x)) if features > 1 else None, w, b, b.requires_grad]


@pytest.mark.parametrize("features", [4, 1])
def test_fuse_linear_bn(features):
    _same(_both(lambda m: _linear_bn(m, features)), atol=1e-5)


def test_fuse_errors():
    for m in LIBS:
        with pytest.raises(AssertionError, match="Fusion only for eval!"):
            m.nn.utils.fuse_conv_bn_eval(m.nn.Conv2d(1, 2, 1), m.nn.BatchNorm2d(2).eval())
        with pytest.raises(AssertionError, match="linear.out_features=4 and bn.num_features=3"):
            m.nn.utils.fuse_linear_bn_eval(m.nn.Linear(2, 4).eval(), m.nn.BatchNorm1d(3).eval())
        with pytest.raises(AssertionError, match="must not be None"):
            m.nn.utils.fuse_conv_bn_eval(m.nn.Conv2d(1, 2, 1).eval(),
                                         m.nn.BatchNorm2d(2, track_running_stats=False).eval())


def test_skip_init_leaves_the_generator():
    def run(m):
        m.manual_seed(0)
        mod = m.nn.utils.skip_init(m.nn.Linear, 3, 2, bias=False)
        return [m.rand(3), tuple(mod.weight.shape), mod.weight.requires_grad, mod.bias]
    _same(_both(run))
    for m in LIBS:
        with pytest.raises(RuntimeError, match="Expected a Module"):
            m.nn.utils.skip_init(int)
        with pytest.raises(RuntimeError, match="Module must support a 'device' arg"):
            m.nn.utils.skip_init(m.nn.ReLU)


def test_stateless_functional_call_warns_and_swaps():
    def run(m):
        lin = m.nn.Linear(2, 2)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y = m.nn.utils.stateless.functional_call(lin, {"weight": m.eye(2), "bias": m.ones(2)}, m.tensor([1., 2.]))
        return [y.detach(), [(c.category.__name__, str(c.message)) for c in w]]
    _same(_both(run))


@pytest.mark.parametrize("dims", [2, 3])
def test_convert_conv_weight_memory_format(dims):
    def run(m):
        m.manual_seed(0)
        conv = getattr(m.nn, f"Conv{dims}d")(2, 3, 2)
        net = m.nn.Sequential(conv, m.nn.Sequential(getattr(m.nn, f"ConvTranspose{dims}d")(3, 2, 2)))
        fmt = m.channels_last if dims == 2 else m.channels_last_3d
        before = conv.weight
        out = getattr(m.nn.utils, f"convert_conv{dims}d_weight_memory_format")(net, fmt)
        return [out is net, conv.weight is before, conv.weight.detach(), net[1][0].weight.detach(),
                conv.weight.is_contiguous(memory_format=fmt), net[1][0].weight.is_contiguous(memory_format=fmt)]
    _same(_both(run))


def test_init_sparse_and_deprecated_aliases():
    def run(m):
        m.manual_seed(0)
        w = m.empty(6, 4)
        m.nn.init.sparse_(w, 0.5, std=0.1)
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            a = m.nn.init.sparse(m.empty(3, 5), 0.2)
            b = m.nn.init.eye(m.empty(2, 3))
            c = m.nn.init.dirac(m.empty(4, 2, 3), groups=2)
            d = m.nn.init.normal(m.empty(3))
        return [w, a, b, c, d, [(r.category.__name__, str(r.message)) for r in rec]]
    _same(_both(run))
    for m in LIBS:
        with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
            m.nn.init.sparse_(m.empty(3), 0.1)


def test_spectral_norm_state_dict_loads_across_libraries():
    """A torch spectral-normed Conv2d's state dict (weight_orig, weight_u, weight_v) loads into ember's, and the
    eval-mode outputs agree (no power iteration in eval)."""
    torch.manual_seed(0)
    t = torch.nn.utils.spectral_norm(torch.nn.Conv2d(2, 3, 3))
    t(torch.randn(1, 2, 5, 5))  # one training step moves u and v
    e = ember.nn.utils.spectral_norm(ember.nn.Conv2d(2, 3, 3))
    e.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t.state_dict().items()})
    t.eval()
    e.eval()
    x = torch.randn(2, 2, 5, 5)
    assert_close(e(ember.tensor(x.numpy())), t(x), atol=1e-5)
    assert_close(e.weight, t.weight, atol=1e-6)


def test_spectral_norm_loads_legacy_state_dicts():
    """A state dict from before ``weight_v`` existed (it holds ``weight``): v is solved for, as torch's hook does;
    the hook outlives remove_spectral_norm in torch, and so here: a later strict load misses the old keys."""
    def run(m):
        m.manual_seed(0)
        a = m.nn.utils.spectral_norm(m.nn.Linear(2, 3))  # W^T W (2 x 2) invertible: a well-posed solve
        a(m.ones(1, 2))
        sd = {k: v for k, v in a.state_dict().items() if k != "weight_v"}
        sd["weight"] = a.weight.detach()
        b = m.nn.utils.spectral_norm(m.nn.Linear(2, 3))
        b.load_state_dict(sd)
        m.nn.utils.remove_spectral_norm(b)
        with pytest.raises(RuntimeError) as info:
            b.load_state_dict(b.state_dict())
        return [b.weight.detach(), str(info.value).split("for Linear:")[1]]
    _same(_both(run), atol=1e-5)
