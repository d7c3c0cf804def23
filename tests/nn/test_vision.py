"""interpolate, Upsample and pixel (un)shuffle against torch 2.13.0 and finite differences."""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd import gradcheck, gradgradcheck
from torch_compare import compare, f32, f64, leaf

TF = torch.nn.functional


@pytest.mark.parametrize("shape, kw", [
    ((2, 3, 4, 5), dict(scale_factor=2)),
    ((2, 3, 4, 5), dict(size=(7, 3))),
    ((2, 3, 5, 4), dict(scale_factor=(1.5, 2.7))),
    ((2, 3, 5, 4), dict(scale_factor=0.6, mode="nearest-exact")),
    ((2, 3, 4, 5), dict(scale_factor=2, mode="bilinear")),
    ((2, 3, 4, 5), dict(size=(7, 9), mode="bilinear", align_corners=True)),
    ((2, 3, 6, 5), dict(size=(4, 3), mode="bilinear", align_corners=False)),
    ((2, 3, 4, 5), dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    ((2, 3, 4, 5), dict(scale_factor=(2.5, 0.5), mode="bilinear")),
    ((2, 3, 4, 5), dict(size=(1, 1), mode="bilinear", align_corners=True)),
    ((2, 3, 7), dict(scale_factor=3, mode="linear")),
    ((2, 3, 7), dict(size=4, mode="linear", align_corners=True)),
    ((2, 3, 7), dict(size=10)),
])
def test_interpolate_vs_torch(rng, shape, kw):
    compare(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), f32(rng, *shape))


@pytest.mark.parametrize("kw", [dict(scale_factor=2, mode="bilinear"), dict(size=(3, 5), mode="nearest"),
                                dict(size=(4, 2), mode="bilinear", align_corners=True)])
def test_interpolate_gradcheck(rng, kw):
    x = leaf(f64(rng, 1, 2, 3, 4))
    assert gradcheck(lambda t: F.interpolate(t, **kw), (x,))
    assert gradgradcheck(lambda t: F.interpolate(t, **kw), (x,))


def test_upsample_module_vs_torch(rng):
    for kw in (dict(scale_factor=2), dict(size=(5, 6), mode="bilinear", align_corners=True)):
        e, t = nn.Upsample(**kw), torch.nn.Upsample(**kw)
        assert repr(e) == repr(t)
        compare(e, t, f32(rng, 2, 3, 4, 4))


@pytest.mark.parametrize("shape, r", [((2, 8, 3, 4), 2), ((18, 2, 3), 3), ((2, 1, 4, 2, 2), 2)])
def test_pixel_shuffle_vs_torch(rng, shape, r):
    compare(lambda x: F.pixel_shuffle(x, r), lambda x: TF.pixel_shuffle(x, r), f32(rng, *shape))
    compare(nn.PixelShuffle(r), torch.nn.PixelShuffle(r), f32(rng, *shape))
    out = tuple(TF.pixel_shuffle(torch.zeros(shape), r).shape)
    compare(lambda x: F.pixel_unshuffle(x, r), lambda x: TF.pixel_unshuffle(x, r), f32(rng, *out))
    compare(nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r), f32(rng, *out))


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: F.interpolate(ember.zeros(1, 1, 4), scale_factor=2, mode="bilinear"), NotImplementedError,
     "Got 3D input, but bilinear mode needs 4D input"),
    (lambda: F.interpolate(ember.zeros(1, 1, 4, 4), scale_factor=2, align_corners=True), ValueError,
     "align_corners option can only be set with the interpolating modes"),
    (lambda: F.interpolate(ember.zeros(1, 1, 4, 4), size=2, scale_factor=2), ValueError,
     "only one of size or scale_factor should be defined"),
    (lambda: F.interpolate(ember.zeros(1, 1, 4, 4)), ValueError, "either size or scale_factor should be defined"),
    (lambda: F.pixel_shuffle(ember.zeros(1, 5, 2, 2), 2), RuntimeError,
     "input.size(-3)=5 is not divisible by 4"),
])
def test_vision_errors(call, exc, msg):
    with pytest.raises(exc) as info:
        call()
    assert msg in str(info.value)
