"""The functionals added to fill torch.nn.functional's gaps, against torch 2.13.0 and finite differences."""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from conftest import assert_close
from torch_compare import compare, f32, f64, leaf

TF = torch.nn.functional


def _both(name, **kw):
    return (lambda *a: getattr(F, name)(*a, **kw)), (lambda *a: getattr(TF, name)(*a, **kw))


# ----------------------------------------------------------------------------- activations
@pytest.mark.parametrize("name,kw", [("glu", {}), ("glu", {"dim": 1}), ("hardshrink", {}),
                                     ("hardshrink", {"lambd": 1.0}), ("softshrink", {}),
                                     ("softshrink", {"lambd": 0.2}), ("rrelu", {}), ("tanhshrink", {}),
                                     ("softsign", {}), ("logsigmoid", {}), ("celu", {"alpha": 2.0}),
                                     ("hardsigmoid", {}), ("hardswish", {})])
def test_activations_match_torch(rng, name, kw):
    compare(*_both(name, **kw), f32(rng, 3, 4, 6))


@pytest.mark.parametrize("name", ["glu", "hardshrink", "softshrink", "tanhshrink", "softsign"])
def test_activations_gradcheck(rng, name):
    x = leaf(f64(rng, 2, 4))
    fn = getattr(F, name)
    assert gradcheck(fn, (x,)) and gradgradcheck(fn, (x,))


def test_activation_errors():
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 1 is size 3"):
        F.glu(ember.zeros(2, 3))
    with pytest.raises(RuntimeError, match="glu does not support scalars"):
        F.glu(ember.tensor(1.0))
    with pytest.raises(RuntimeError, match="lambda must be greater or equal to 0"):
        F.softshrink(ember.zeros(2), -1.0)


@pytest.mark.parametrize("shape,nw", [((4, 3, 5), 3), ((4, 3, 5), 1), ((4, 3), 3), ((5,), 1), ((2, 3, 2, 2), 3)])
def test_prelu(rng, shape, nw):
    compare(F.prelu, TF.prelu, f32(rng, *shape), np.abs(f32(rng, nw)) * 0.3)
    x, w = leaf(f64(rng, *shape)), leaf(f64(rng, nw))
    assert gradcheck(F.prelu, (x, w)) and gradgradcheck(F.prelu, (x, w))


def test_prelu_channel_mismatch():
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
        F.prelu(ember.zeros(2, 3), ember.zeros(4))
    with pytest.raises(RuntimeError, match="channel size = 1"):
        F.prelu(ember.zeros(5), ember.zeros(5))  # torch reads a 1-D input as one channel


def test_rrelu_training_draws_slopes_between_bounds(rng):
    x = ember.tensor(-np.abs(f32(rng, 2000)) - 0.1, requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = (y / x).detach().numpy()
    assert slopes.min() >= 0.1 - 1e-6 and slopes.max() <= 0.3 + 1e-6 and slopes.std() > 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes, rtol=1e-6)  # d(slope * x)/dx is the drawn slope
    pos = ember.tensor(np.abs(f32(rng, 5)))
    assert_close(F.rrelu(pos, training=True), torch.tensor(pos.numpy()))


def test_inplace_aliases(rng):
    for name, args in [("relu_", ()), ("elu_", (0.5,)), ("leaky_relu_", (0.2,)), ("selu_", ()), ("celu_", (1.5,)),
                       ("hardtanh_", (-0.5, 0.5)), ("threshold_", (0.1, 2.0)), ("rrelu_", ())]:
        a = f32(rng, 3, 4)
        e, t = ember.tensor(a.copy()), torch.tensor(a.copy())
        out = getattr(F, name)(e, *args)
        getattr(TF, name)(t, *args)
        assert out is e, name
        assert_close(e, t, what=name)


def test_inplace_alias_in_graph(rng):
    a = f32(rng, 3, 4)
    e, t = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    F.celu_(e * 2, 0.7).sum().backward()
    TF.celu_(t * 2, 0.7).sum().backward()
    assert_close(e.grad, t.grad)


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax(rng, hard):
    ember.manual_seed(0)
    logits = ember.tensor(f32(rng, 4, 5), requires_grad=True)
    y = F.gumbel_softmax(logits, tau=0.5, hard=hard)
    v = y.detach().numpy()
    np.testing.assert_allclose(v.sum(-1), 1.0, rtol=1e-5)
    if hard:
        assert set(np.unique(v)) <= {0.0, 1.0}
    w = ember.tensor(f32(rng, 4, 5))
    (y * w).sum().backward()
    assert np.isfinite(logits.grad.numpy()).all() and np.abs(logits.grad.numpy()).sum() > 0
    # the gradient is the soft sample's softmax gradient (straight-through for hard)
    ember.manual_seed(0)
    soft = F.gumbel_softmax(logits.detach(), tau=0.5)
    s = soft.numpy()
    wv = w.numpy()
    expected = s * (wv - (wv * s).sum(-1, keepdims=True)) / 0.5
    np.testing.assert_allclose(logits.grad.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_gumbel_softmax_samples_follow_softmax():
    ember.manual_seed(1)
    logits = ember.tensor(np.log(np.array([0.1, 0.2, 0.7], dtype=np.float32))).expand(20000, 3)
    freq = F.gumbel_softmax(logits, hard=True).numpy().mean(0)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.015)


# ----------------------------------------------------------------------------- distances
def test_pdist(rng):
    for p in (1.0, 2.0, 3.0, float("inf")):
        compare(lambda x: F.pdist(x, p), lambda x: TF.pdist(x, p), f32(rng, 6, 3))
    x = leaf(f64(rng, 4, 3))
    assert gradcheck(F.pdist, (x,)) and gradgradcheck(F.pdist, (x,))


def test_cosine_similarity_and_pairwise_distance(rng):
    compare(*_both("cosine_similarity", dim=-1), f32(rng, 3, 5), f32(rng, 1, 5))
    compare(*_both("pairwise_distance", p=3.0), f32(rng, 3, 5), f32(rng, 3, 5))


# ----------------------------------------------------------------------------- normalization
@pytest.mark.parametrize("shape", [(2, 3, 7), (3, 4, 5, 2)])
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_local_response_norm(rng, shape, size):
    compare(*_both("local_response_norm", size=size, alpha=0.3, beta=0.7, k=1.5), f32(rng, *shape))


def test_local_response_norm_gradcheck(rng):
    x = leaf(f64(rng, 2, 4, 3))
    fn = lambda t: F.local_response_norm(t, 3, alpha=0.5)
    assert gradcheck(fn, (x,)) and gradgradcheck(fn, (x,))
    with pytest.raises(ValueError, match="Expected 3D or higher dimensionality input"):
        F.local_response_norm(ember.zeros(2, 3), 2)


@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm(rng, use_input_stats):
    x = f32(rng, 3, 4, 5, 2)
    rm, rv = f32(rng, 4), np.abs(f32(rng, 4)) + 0.5
    stats_e = [ember.tensor(rm.copy()), ember.tensor(rv.copy())]
    stats_t = [torch.tensor(rm.copy()), torch.tensor(rv.copy())]
    compare(lambda a, w, b: F.instance_norm(a, *stats_e, w, b, use_input_stats, 0.2),
            lambda a, w, b: TF.instance_norm(a, *stats_t, w, b, use_input_stats, 0.2), x, f32(rng, 4), f32(rng, 4))
    for e, t in zip(stats_e, stats_t):
        assert_close(e, t, what="running statistic")


def test_instance_norm_gradcheck(rng):
    x, w, b = leaf(f64(rng, 2, 3, 4)), leaf(f64(rng, 3)), leaf(f64(rng, 3))
    assert gradcheck(F.instance_norm, (x, None, None, w, b)) and gradgradcheck(F.instance_norm, (x, None, None, w, b))


# ----------------------------------------------------------------------------- unfold / fold
_FOLD_CASES = [dict(kernel_size=2), dict(kernel_size=(3, 2), dilation=(2, 1), padding=(1, 2), stride=(2, 3)),
               dict(kernel_size=(1, 3), stride=2, padding=1)]


@pytest.mark.parametrize("kw", _FOLD_CASES)
@pytest.mark.parametrize("batched", [True, False])
def test_unfold_and_fold(rng, kw, batched):
    shape = (2, 3, 7, 6) if batched else (3, 7, 6)
    eo, to = compare(lambda x: F.unfold(x, **kw), lambda x: TF.unfold(x, **kw), f32(rng, *shape))
    cols = f32(rng, *to.shape)
    compare(lambda c: F.fold(c, (7, 6), **kw), lambda c: TF.fold(c, (7, 6), **kw), cols)


@pytest.mark.parametrize("kw", _FOLD_CASES)
def test_unfold_and_fold_gradcheck(rng, kw):
    x = leaf(f64(rng, 1, 2, 7, 6))
    assert gradcheck(lambda t: F.unfold(t, **kw), (x,)) and gradgradcheck(lambda t: F.unfold(t, **kw), (x,))
    cols = leaf(f64(rng, *F.unfold(x, **kw).shape))
    assert gradcheck(lambda c: F.fold(c, (7, 6), **kw), (cols,))
    assert gradgradcheck(lambda c: F.fold(c, (7, 6), **kw), (cols,))


def test_fold_errors():
    with pytest.raises(RuntimeError, match="calculated number of sliding blocks 3 \\* 3 = 9, but got input.size"):
        F.fold(ember.zeros(1, 4, 8), (4, 4), 2)
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        F.fold(ember.zeros(1, 5, 9), (4, 4), 2)
    with pytest.raises(NotImplementedError):
        F.unfold(ember.zeros(2, 3), 2)


# ----------------------------------------------------------------------------- embedding_bag
_BAG_IDX = np.array([1, 2, 3, 4, 2, 6, 1, 1], dtype=np.int64)
_BAG_OFFS = np.array([0, 2, 2, 5], dtype=np.int64)


def _bag_compare(rng, idx, offsets=None, psw=None, **kw):
    w = f32(rng, 10, 3)
    arrays = [w] if psw is None else [w, psw]

    def run(lib, fn, weight, *p):
        o = None if offsets is None else lib.tensor(offsets)
        return fn(lib.tensor(idx), weight, o, per_sample_weights=p[0] if p else None, **kw)
    compare(lambda *a: run(ember, F.embedding_bag, *a), lambda *a: run(torch, TF.embedding_bag, *a), *arrays)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("opts", [{}, {"padding_idx": 2}, {"padding_idx": -9}])
def test_embedding_bag_offsets(rng, mode, opts):
    _bag_compare(rng, _BAG_IDX, _BAG_OFFS, mode=mode, **opts)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_include_last_offset(rng, mode):
    # torch documents the last offset as the number of indices (CSR style)
    _bag_compare(rng, _BAG_IDX, np.array([0, 2, 2, 5, 8]), mode=mode, include_last_offset=True)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_2d(rng, mode):
    _bag_compare(rng, _BAG_IDX.reshape(2, 4), mode=mode, padding_idx=6)


def test_embedding_bag_per_sample_weights(rng):
    _bag_compare(rng, _BAG_IDX, _BAG_OFFS, psw=f32(rng, 8), mode="sum", padding_idx=2)
    _bag_compare(rng, _BAG_IDX.reshape(4, 2), psw=f32(rng, 4, 2), mode="sum")


def test_embedding_bag_max_norm(rng):
    w = f32(rng, 10, 3) * 3
    e, t = ember.tensor(w.copy()), torch.tensor(w.copy())
    eo = F.embedding_bag(ember.tensor(_BAG_IDX), e, ember.tensor(_BAG_OFFS), max_norm=1.0)
    to = TF.embedding_bag(torch.tensor(_BAG_IDX), t, torch.tensor(_BAG_OFFS), max_norm=1.0)
    assert_close(eo, to)
    assert_close(e, t, what="renormed weight")


def test_embedding_bag_errors():
    w = ember.zeros(10, 3)
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(ember.tensor([[1, 2]]), w, ember.tensor([0]))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(ember.tensor([1, 2]), w)
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        F.embedding_bag(ember.tensor([[1, 2]]), w, mode="min")
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(ember.tensor([[1, 2]]), w, per_sample_weights=ember.ones(1, 2))
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(ember.tensor([1, 2]), w, ember.tensor([1]))


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("var_shape,full", [((4, 3), False), ((4,), True), ((4, 1), False)])
def test_gaussian_nll_loss(rng, reduction, var_shape, full):
    compare(*_both("gaussian_nll_loss", full=full, reduction=reduction), f32(rng, 4, 3), f32(rng, 4, 3),
            np.abs(f32(rng, *var_shape)) + 0.1)


def test_gaussian_nll_loss_eps_clamp_keeps_gradient(rng):
    var = np.array([1e-9, 0.5, 2.0], dtype=np.float32)
    compare(*_both("gaussian_nll_loss"), f32(rng, 3), f32(rng, 3), var)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(ember.zeros(4, 3), ember.zeros(4, 3), ember.ones(2))
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(ember.zeros(3), ember.zeros(3), -ember.ones(3))


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_poisson_nll_loss(rng, log_input, full, reduction):
    x = f32(rng, 4, 5) if log_input else np.abs(f32(rng, 4, 5)) + 0.1
    target = rng.poisson(2.0, (4, 5)).astype(np.float32)
    compare(*_both("poisson_nll_loss", log_input=log_input, full=full, reduction=reduction), x, target, grad=[0])


@pytest.mark.parametrize("p,margin", [(1, 1.0), (2, 0.5)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multi_margin_loss(rng, p, margin, weighted, reduction):
    target = np.array([0, 3, 1, 3, 2], dtype=np.int64)
    w = np.abs(f32(rng, 4)) if weighted else None

    def run(lib, fn, x):
        return fn(x, lib.tensor(target), p=p, margin=margin, weight=None if w is None else lib.tensor(w),
                  reduction=reduction)
    compare(lambda x: run(ember, F.multi_margin_loss, x), lambda x: run(torch, TF.multi_margin_loss, x),
            f32(rng, 5, 4))


def test_multi_margin_loss_unbatched_and_errors(rng):
    for t in (np.array(2), np.array([2])):
        compare(lambda x: F.multi_margin_loss(x, ember.tensor(t), reduction="none"),
                lambda x: TF.multi_margin_loss(x, torch.tensor(t), reduction="none"), f32(rng, 4))
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(ember.zeros(2, 3), ember.tensor([0, 1]), p=3)
    with pytest.raises(RuntimeError, match="target out of range"):
        F.multi_margin_loss(ember.zeros(2, 3), ember.tensor([0, 3]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_margin_loss(rng, reduction):
    target = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [1, 1, 2, -1], [-1, 2, 0, 1]], dtype=np.int64)
    compare(lambda x: F.multilabel_margin_loss(x, ember.tensor(target), reduction=reduction),
            lambda x: TF.multilabel_margin_loss(x, torch.tensor(target), reduction=reduction), f32(rng, 4, 4))
    t1 = np.array([2, 0, -1, 3], dtype=np.int64)
    compare(lambda x: F.multilabel_margin_loss(x, ember.tensor(t1), reduction=reduction),
            lambda x: TF.multilabel_margin_loss(x, torch.tensor(t1), reduction=reduction), f32(rng, 4))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_soft_margin_loss(rng, weighted, reduction):
    target = (rng.random((5, 4)) > 0.5).astype(np.float32)
    w = np.abs(f32(rng, 4)) if weighted else None

    def run(lib, fn, x):
        return fn(x, lib.tensor(target), weight=None if w is None else lib.tensor(w), reduction=reduction)
    compare(lambda x: run(ember, F.multilabel_soft_margin_loss, x),
            lambda x: run(torch, TF.multilabel_soft_margin_loss, x), f32(rng, 5, 4))


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("custom", [False, True])
def test_triplet_margin_with_distance_loss(rng, swap, custom):
    def dist(lib):
        return (lambda a, b: 1 - lib.nn.functional.cosine_similarity(a, b)) if custom else None
    compare(lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n, distance_function=dist(ember), swap=swap,
                                                                margin=0.5),
            lambda a, p, n: TF.triplet_margin_with_distance_loss(a, p, n, distance_function=dist(torch), swap=swap,
                                                                 margin=0.5),
            f32(rng, 6, 5), f32(rng, 6, 5), f32(rng, 6, 5))
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_with_distance_loss(ember.zeros(2), ember.zeros(2), ember.zeros(2), margin=0.0)


# ----------------------------------------------------------------------------- vision
def test_channel_shuffle(rng):
    compare(lambda x: F.channel_shuffle(x, 3), lambda x: TF.channel_shuffle(x, 3), f32(rng, 2, 6, 2, 3))
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups"):
        F.channel_shuffle(ember.zeros(1, 6, 2), 4)


def test_upsample_aliases(rng):
    with pytest.warns(UserWarning):
        compare(lambda x: F.upsample_nearest(x, scale_factor=2), lambda x: TF.upsample_nearest(x, scale_factor=2),
                f32(rng, 1, 2, 3, 3))
    with pytest.warns(UserWarning):
        compare(lambda x: F.upsample_bilinear(x, size=(5, 4)), lambda x: TF.upsample_bilinear(x, size=(5, 4)),
                f32(rng, 1, 2, 3, 3))
