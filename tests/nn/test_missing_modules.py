"""The modules added to fill torch.nn's gaps, against torch 2.13.0 with the same weights copied in."""
import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from conftest import assert_close
from torch_compare import compare, f32

TNN = torch.nn


def _copy_params(e, t):
    e.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()})


def _compare_module(e, t, *arrays, atol=1e-5, **kw):
    """Same weights in; outputs, input gradients and parameter gradients compared; reprs equal."""
    _copy_params(e, t)
    compare(e, t, *arrays, atol=atol, **kw)
    tp = dict(t.named_parameters())
    assert sorted(tp) == sorted(n for n, _ in e.named_parameters())
    for name, p in e.named_parameters():
        assert_close(p.grad, tp[name].grad, atol=atol, rtol=1e-4, what=f"grad of {name}")
    assert repr(e) == repr(t)


# ----------------------------------------------------------------------------- activations
@pytest.mark.parametrize("name,args", [
    ("CELU", (1.5,)), ("CELU", (1.0, True)), ("Hardsigmoid", ()), ("Hardswish", ()), ("LogSigmoid", ()),
    ("Softsign", ()), ("Tanhshrink", ()), ("Threshold", (0.1, 20.0)), ("Threshold", (0.1, 20, True)),
    ("Hardshrink", ()), ("Hardshrink", (0.3,)), ("Softshrink", (0.3,)), ("GLU", ()), ("GLU", (1,)),
    ("RReLU", ()), ("RReLU", (0.1, 0.3, True)), ("Softmax2d", ()), ("PReLU", ()), ("PReLU", (4, 0.1))])
def test_activation_modules(rng, name, args):
    e, t = getattr(nn, name)(*args), getattr(TNN, name)(*args)
    e.eval(), t.eval()
    x = f32(rng, 3, 4, 2, 6)
    if args and args[-1] is True:  # inplace: run on a non-leaf
        compare(lambda a: e(a * 1), lambda a: t(a * 1), x)
        assert repr(e) == repr(t)
    else:
        _compare_module(e, t, x)


def test_prelu_parameter_and_init():
    e = nn.PReLU(3, init=0.1)
    assert e.weight.shape == (3,) and np.allclose(e.weight.detach().numpy(), 0.1)
    assert [n for n, _ in e.named_parameters()] == ["weight"]


def test_rrelu_module_trains_randomly():
    e = nn.RReLU(0.1, 0.3)
    x = -ember.ones(1000)
    y = e(x).numpy()
    assert y.min() >= -0.3 - 1e-6 and y.max() <= -0.1 + 1e-6 and y.std() > 0.03
    e.eval()
    np.testing.assert_allclose(e(x).numpy(), -0.2, rtol=1e-6)


def test_softmax2d_rejects_2d():
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(ember.zeros(2, 3))


# ----------------------------------------------------------------------------- distances
def test_cosine_similarity_and_pairwise_distance_modules(rng):
    _compare_module(nn.CosineSimilarity(dim=0, eps=1e-6), TNN.CosineSimilarity(dim=0, eps=1e-6), f32(rng, 5, 3),
                    f32(rng, 5, 3))
    _compare_module(nn.PairwiseDistance(p=1.0, keepdim=True), TNN.PairwiseDistance(p=1.0, keepdim=True),
                    f32(rng, 5, 3), f32(rng, 5, 3))
    _compare_module(nn.PairwiseDistance(), TNN.PairwiseDistance(), f32(rng, 5, 3), f32(rng, 5, 3))


# ----------------------------------------------------------------------------- padding
@pytest.mark.parametrize("name,args,shape", [
    ("ZeroPad1d", (2,), (2, 3, 5)), ("ZeroPad1d", ((1, -2),), (3, 5)), ("ZeroPad2d", (1,), (2, 3, 4, 5)),
    ("ZeroPad2d", ((1, 0, 2, 3),), (3, 4, 5)), ("ConstantPad1d", (2, 3.5), (2, 3, 5)),
    ("ConstantPad2d", ((1, 2, 0, 1), -1.0), (2, 3, 4, 5)), ("ReflectionPad1d", ((2, 3),), (2, 3, 5)),
    ("ReflectionPad2d", (2,), (2, 3, 4, 5)), ("ReplicationPad1d", (3,), (3, 5)),
    ("ReplicationPad2d", ((1, 2, 3, 0),), (2, 3, 4, 5)), ("CircularPad1d", ((1, 2),), (2, 3, 5)),
    ("CircularPad2d", (2,), (3, 4, 5))])
def test_padding_modules(rng, name, args, shape):
    _compare_module(getattr(nn, name)(*args), getattr(TNN, name)(*args), f32(rng, *shape))


def test_circular_pad_checks_dims():
    with pytest.raises(ValueError, match="expected 2D or 3D input \\(got 4D input\\)"):
        nn.CircularPad1d(1)(ember.zeros(1, 2, 3, 4))


# ----------------------------------------------------------------------------- normalization
@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm1d", (4, 6)),
                                       ("InstanceNorm2d", (2, 4, 3, 5)), ("InstanceNorm2d", (4, 3, 5))])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("track", [False, True])
def test_instance_norm_modules(rng, cls, shape, affine, track):
    e, t = getattr(nn, cls)(4, affine=affine, track_running_stats=track, momentum=0.3), \
        getattr(TNN, cls)(4, affine=affine, track_running_stats=track, momentum=0.3)
    if affine:
        with torch.no_grad():
            t.weight.uniform_(0.5, 1.5), t.bias.normal_()
    _compare_module(e, t, f32(rng, *shape))
    for name, buf in t.named_buffers():
        assert_close(dict(e.named_buffers())[name], buf, what=name)
    e.eval(), t.eval()
    _compare_module(e, t, f32(rng, *shape))


def test_instance_norm_checks_channels():
    with pytest.raises(ValueError, match="expected input's size at dim=1 to match num_features \\(4\\)"):
        nn.InstanceNorm1d(4, affine=True)(ember.zeros(2, 3, 5))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.InstanceNorm1d(4)(ember.zeros(2, 4, 3, 5))


def test_local_response_norm_module(rng):
    _compare_module(nn.LocalResponseNorm(3, alpha=0.2, beta=0.5, k=2.0),
                    TNN.LocalResponseNorm(3, alpha=0.2, beta=0.5, k=2.0), f32(rng, 2, 5, 3, 3))


# ----------------------------------------------------------------------------- fold, channel shuffle, upsampling
def test_fold_modules(rng):
    _compare_module(nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=2),
                    TNN.Unfold((2, 3), dilation=(1, 2), padding=1, stride=2), f32(rng, 2, 3, 7, 8))
    _compare_module(nn.Fold((4, 5), 2), TNN.Fold((4, 5), 2), f32(rng, 2, 12, 12))


def test_channel_shuffle_module(rng):
    _compare_module(nn.ChannelShuffle(2), TNN.ChannelShuffle(2), f32(rng, 2, 6, 3, 3))


@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(size=(5, 3))])
def test_upsampling_modules(rng, kw):
    _compare_module(nn.UpsamplingNearest2d(**kw), TNN.UpsamplingNearest2d(**kw), f32(rng, 2, 3, 4, 3))
    _compare_module(nn.UpsamplingBilinear2d(**kw), TNN.UpsamplingBilinear2d(**kw), f32(rng, 2, 3, 4, 3))


# ----------------------------------------------------------------------------- embedding bag
@pytest.mark.parametrize("kw", [dict(mode="sum"), dict(mode="mean", padding_idx=2), dict(mode="max"),
                                dict(mode="sum", include_last_offset=True)])
def test_embedding_bag_module(rng, kw):
    e, t = nn.EmbeddingBag(10, 3, **kw), TNN.EmbeddingBag(10, 3, **kw)
    _copy_params(e, t)
    idx = np.array([1, 2, 3, 4, 2, 6, 1, 1], dtype=np.int64)
    offs = np.array([0, 2, 2, 5, 8] if kw.get("include_last_offset") else [0, 2, 2, 5], dtype=np.int64)
    eo, to = e(ember.tensor(idx), ember.tensor(offs)), t(torch.tensor(idx), torch.tensor(offs))
    assert_close(eo, to)
    gy = f32(rng, *to.shape)
    eo.backward(ember.tensor(gy)), to.backward(torch.tensor(gy))
    assert_close(e.weight.grad, t.weight.grad, what="weight grad")
    assert repr(e) == repr(t)


def test_embedding_bag_module_per_sample_weights_and_from_pretrained(rng):
    w = f32(rng, 6, 4)
    e = nn.EmbeddingBag.from_pretrained(ember.tensor(w), mode="sum", max_norm=1.0)
    t = TNN.EmbeddingBag.from_pretrained(torch.tensor(w), mode="sum", max_norm=1.0)
    assert not e.weight.requires_grad and repr(e) == repr(t)
    idx, psw = np.array([[0, 5], [3, 3]]), f32(rng, 2, 2)
    assert_close(e(ember.tensor(idx), per_sample_weights=ember.tensor(psw)),
                 t(torch.tensor(idx), per_sample_weights=torch.tensor(psw)))
    assert nn.EmbeddingBag(4, 2, padding_idx=1).weight[1].abs().sum().item() == 0.0


# ----------------------------------------------------------------------------- losses
def test_gaussian_and_poisson_nll_modules(rng):
    _compare_module(nn.GaussianNLLLoss(full=True, eps=1e-3), TNN.GaussianNLLLoss(full=True, eps=1e-3),
                    f32(rng, 4, 3), f32(rng, 4, 3), np.abs(f32(rng, 4, 1)))
    target = rng.poisson(3.0, (4, 3)).astype(np.float32)
    _compare_module(nn.PoissonNLLLoss(full=True), TNN.PoissonNLLLoss(full=True), f32(rng, 4, 3), target, grad=[0])
    _compare_module(nn.PoissonNLLLoss(log_input=False, reduction="sum"),
                    TNN.PoissonNLLLoss(log_input=False, reduction="sum"), np.abs(f32(rng, 4, 3)), target, grad=[0])


def test_margin_loss_modules(rng):
    w = np.abs(f32(rng, 4))
    target = np.array([0, 3, 1, 2, 2], dtype=np.int64)
    _compare_module(nn.MultiMarginLoss(p=2, margin=0.7, weight=ember.tensor(w)),
                    TNN.MultiMarginLoss(p=2, margin=0.7, weight=torch.tensor(w)), f32(rng, 5, 4), target)
    labels = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [1, -1, 2, 0], [2, 2, 1, -1], [-1, 0, 0, 0]])
    _compare_module(nn.MultiLabelMarginLoss(reduction="none"), TNN.MultiLabelMarginLoss(reduction="none"),
                    f32(rng, 5, 4), labels)
    soft = (rng.random((5, 4)) > 0.5).astype(np.float32)
    _compare_module(nn.MultiLabelSoftMarginLoss(weight=ember.tensor(w)),
                    TNN.MultiLabelSoftMarginLoss(weight=torch.tensor(w)), f32(rng, 5, 4), soft, grad=[0])
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=3)


def test_triplet_margin_with_distance_loss_module(rng):
    arrays = [f32(rng, 6, 5) for _ in range(3)]
    _compare_module(nn.TripletMarginWithDistanceLoss(swap=True), TNN.TripletMarginWithDistanceLoss(swap=True),
                    *arrays)
    e = nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance(p=1.0), margin=0.3)
    t = TNN.TripletMarginWithDistanceLoss(distance_function=TNN.PairwiseDistance(p=1.0), margin=0.3)
    _compare_module(e, t, *arrays)
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=0)


# ----------------------------------------------------------------------------- transformer decoder
def _masks(lib, t_len, s_len, n):
    tgt_mask = lib.nn.Transformer.generate_square_subsequent_mask(t_len)
    tgt_kpm = lib.tensor(np.array([[False] * (t_len - 1) + [True]] + [[False] * t_len] * (n - 1)))
    mem_kpm = lib.tensor(np.array([[False] * s_len] * (n - 1) + [[False, True] + [False] * (s_len - 2)]))
    return tgt_mask, tgt_kpm, mem_kpm


def test_generate_square_subsequent_mask():
    assert_close(nn.Transformer.generate_square_subsequent_mask(4), TNN.Transformer.generate_square_subsequent_mask(4))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", [False, True])
def test_transformer_decoder_layer(rng, norm_first, batch_first, masks):
    kw = dict(dim_feedforward=24, dropout=0.1, batch_first=batch_first, norm_first=norm_first, activation="gelu")
    e, t = nn.TransformerDecoderLayer(8, 2, **kw).eval(), TNN.TransformerDecoderLayer(8, 2, **kw).eval()
    tgt, mem = (f32(rng, 2, 4, 8), f32(rng, 2, 5, 8)) if batch_first else (f32(rng, 4, 2, 8), f32(rng, 5, 2, 8))

    def run(lib, layer, a, m):
        if not masks:
            return layer(a, m)
        tm, tk, mk = _masks(lib, 4, 5, 2)
        return layer(a, m, tgt_mask=tm, tgt_key_padding_mask=tk, memory_key_padding_mask=mk, tgt_is_causal=True)
    _copy_params(e, t)
    compare(lambda a, m: run(ember, e, a, m), lambda a, m: run(torch, t, a, m), tgt, mem, atol=1e-4)
    tp = dict(t.named_parameters())
    assert sorted(tp) == sorted(n for n, _ in e.named_parameters())
    for name, p in e.named_parameters():
        assert_close(p.grad, tp[name].grad, atol=1e-4, rtol=1e-3, what=f"grad of {name}")


def test_transformer_decoder_unbatched(rng):
    e, t = nn.TransformerDecoderLayer(8, 2, 16).eval(), TNN.TransformerDecoderLayer(8, 2, 16).eval()
    _copy_params(e, t)
    compare(e, t, f32(rng, 3, 8), f32(rng, 5, 8), atol=1e-4)


@pytest.mark.parametrize("norm", [False, True])
def test_transformer_decoder_stack(rng, norm):
    e = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2, nn.LayerNorm(8) if norm else None).eval()
    t = TNN.TransformerDecoder(TNN.TransformerDecoderLayer(8, 2, 16), 2, TNN.LayerNorm(8) if norm else None).eval()
    _copy_params(e, t)
    mask_e, mask_t = (lib.nn.Transformer.generate_square_subsequent_mask(4) for lib in (ember, torch))
    compare(lambda a, m: e(a, m, tgt_mask=mask_e), lambda a, m: t(a, m, tgt_mask=mask_t), f32(rng, 4, 3, 8),
            f32(rng, 6, 3, 8), atol=1e-4)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer(rng, batch_first):
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16,
              batch_first=batch_first)
    e, t = nn.Transformer(**kw).eval(), TNN.Transformer(**kw).eval()
    _copy_params(e, t)
    src, tgt = (f32(rng, 2, 5, 8), f32(rng, 2, 4, 8)) if batch_first else (f32(rng, 5, 2, 8), f32(rng, 4, 2, 8))

    def run(lib, model, s, g):
        tm, tk, mk = _masks(lib, 4, 5, 2)
        return model(s, g, tgt_mask=tm, src_key_padding_mask=mk, tgt_key_padding_mask=tk,
                     memory_key_padding_mask=mk)
    compare(lambda s, g: run(ember, e, s, g), lambda s, g: run(torch, t, s, g), src, tgt, atol=1e-4)
    tp = dict(t.named_parameters())
    assert list(tp) == [n for n, _ in e.named_parameters()]
    for name, p in e.named_parameters():
        assert_close(p.grad, tp[name].grad, atol=1e-4, rtol=1e-3, what=f"grad of {name}")


def test_transformer_init_and_errors():
    ember.manual_seed(0)
    m = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)
    w = m.encoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6 / (8 + 16))  # xavier-uniform on every matrix
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert m.d_model == 8 and m.nhead == 2 and m.batch_first is False
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        m(ember.zeros(5, 2, 8), ember.zeros(4, 3, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        m(ember.zeros(5, 2, 8), ember.zeros(4, 2, 6))
