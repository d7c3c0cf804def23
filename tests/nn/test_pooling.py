"""Max, average and adaptive pooling against torch 2.13.0 and finite differences."""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from torch_compare import compare, f32, leaf

TF = torch.nn.functional


def distinct(rng, *shape):
    """Values without ties, so the argmax (and hence the gradient) is unique."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.1).reshape(shape).astype(np.float32)


MAX2D = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 9, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 9, 10), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 0), dilation=(2, 1))),
    ((2, 2, 7, 7), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ((1, 2, 8, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, dilation=2)),
    ((3, 6, 6), dict(kernel_size=2)),  # unbatched
]


@pytest.mark.parametrize("shape, kw", MAX2D)
def test_max_pool2d_vs_torch(rng, shape, kw):
    compare(lambda x: F.max_pool2d(x, return_indices=True, **kw),
            lambda x: TF.max_pool2d(x, return_indices=True, **kw), distinct(rng, *shape))


@pytest.mark.parametrize("shape, kw", [
    ((2, 3, 9), dict(kernel_size=2)),
    ((2, 3, 10), dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)),
    ((3, 7), dict(kernel_size=3, stride=1)),
])
def test_max_pool1d_vs_torch(rng, shape, kw):
    compare(lambda x: F.max_pool1d(x, return_indices=True, **kw),
            lambda x: TF.max_pool1d(x, return_indices=True, **kw), distinct(rng, *shape))


def test_max_pool_ties_and_overlap_send_gradient_as_torch():
    """Overlapping windows share a maximum: its gradient is the sum over the windows that chose it."""
    x = np.array([[[[1, 5, 5, 2], [0, 5, 3, 3], [4, 4, 1, 1]]]], dtype=np.float32)
    compare(lambda t: F.max_pool2d(t, 2, 1), lambda t: TF.max_pool2d(t, 2, 1), x)


@pytest.mark.parametrize("shape, kw", [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 9, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 9, 7), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((1, 2, 7, 8), dict(kernel_size=(3, 2), stride=2, padding=(1, 1), ceil_mode=True)),
    ((1, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((1, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, divisor_override=5)),
    ((2, 6, 6), dict(kernel_size=2)),
])
def test_avg_pool2d_vs_torch(rng, shape, kw):
    compare(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), f32(rng, *shape))


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=4, stride=3, padding=2, count_include_pad=False)])
def test_avg_pool1d_vs_torch(rng, kw):
    compare(lambda x: F.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw), f32(rng, 2, 3, 11))


@pytest.mark.parametrize("shape, out", [((2, 3, 8, 8), (4, 4)), ((2, 3, 7, 10), (3, 4)), ((1, 2, 5, 5), 1),
                                        ((2, 3, 6, 9), (None, 4)), ((3, 5, 5), (7, 6))])
def test_adaptive_pool2d_vs_torch(rng, shape, out):
    compare(lambda x: F.adaptive_avg_pool2d(x, out), lambda x: TF.adaptive_avg_pool2d(x, out), f32(rng, *shape))
    compare(lambda x: F.adaptive_max_pool2d(x, out, return_indices=True),
            lambda x: TF.adaptive_max_pool2d(x, out, return_indices=True), distinct(rng, *shape))


@pytest.mark.parametrize("length, out", [(10, 4), (7, 3), (5, 8)])
def test_adaptive_pool1d_vs_torch(rng, length, out):
    compare(lambda x: F.adaptive_avg_pool1d(x, out), lambda x: TF.adaptive_avg_pool1d(x, out),
            f32(rng, 2, 3, length))
    compare(lambda x: F.adaptive_max_pool1d(x, out, return_indices=True),
            lambda x: TF.adaptive_max_pool1d(x, out, return_indices=True), distinct(rng, 2, 3, length))


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
    lambda x: F.max_pool1d(x.reshape(1, 2, -1), 2),
    lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda x: F.avg_pool1d(x.reshape(1, 2, -1), 3, 2, 1),
    lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
    lambda x: F.adaptive_max_pool2d(x, (2, 3)),
])
def test_pool_gradcheck_and_double_backward(rng, fn):
    x = leaf(distinct(rng, 1, 2, 5, 6).astype(np.float64))
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("call, msg", [
    (lambda: F.max_pool2d(ember.zeros(1, 1, 4, 4), 2, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1"),
    (lambda: F.max_pool2d(ember.zeros(1, 1, 2, 2), 3), "Output size is too small"),
    (lambda: F.avg_pool2d(ember.zeros(4, 4), 2), "Expected 3D or 4D (batch mode) tensor"),
    (lambda: F.max_pool2d(ember.zeros(1, 1, 4, 4), (2, 2, 2)), "kernel_size must either be a single int"),
    (lambda: F.avg_pool2d(ember.zeros(1, 1, 4, 4), 2, divisor_override=0), "divisor must be not zero"),
])
def test_pool_errors(call, msg):
    with pytest.raises(RuntimeError) as info:
        call()
    assert msg in str(info.value)


@pytest.mark.parametrize("cls, args, kw, shape", [
    ("MaxPool2d", (2,), dict(), (2, 3, 6, 6)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True, return_indices=True), (2, 3, 8, 7)),
    ("MaxPool1d", (3,), dict(stride=2, dilation=2), (2, 3, 11)),
    ("AvgPool2d", ((3, 2),), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 7, 6)),
    ("AvgPool2d", (2,), dict(divisor_override=3), (2, 3, 6, 6)),
    ("AvgPool1d", (3,), dict(stride=2, ceil_mode=True), (2, 3, 10)),
    ("AdaptiveAvgPool2d", ((3, None),), dict(), (2, 3, 7, 5)),
    ("AdaptiveAvgPool1d", (4,), dict(), (2, 3, 9)),
    ("AdaptiveMaxPool2d", (2,), dict(return_indices=True), (2, 3, 5, 7)),
    ("AdaptiveMaxPool1d", (3,), dict(), (2, 3, 8)),
])
def test_pool_modules_vs_torch(rng, cls, args, kw, shape):
    e, t = getattr(ember.nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(e) == repr(t)
    compare(e, t, distinct(rng, *shape))


@pytest.mark.parametrize("shape, kw", [
    ((2, 3, 9, 7), dict(kernel_size=3)),             # rows and columns past the last tile get no gradient
    ((2, 3, 8), dict(kernel_size=3)),                # 1-D, length not a multiple of the kernel
    ((1, 2, 6, 9), dict(kernel_size=(2, 3))),
    ((2, 4, 6, 6), dict(kernel_size=2, stride=2, ceil_mode=True)),
])
def test_tiled_max_pool_vs_torch(rng, shape, kw):
    """Windows that tile the input (kernel == stride) take the mask fast path."""
    fn = F.max_pool2d if len(shape) == 4 else F.max_pool1d
    tfn = TF.max_pool2d if len(shape) == 4 else TF.max_pool1d
    compare(lambda x: fn(x, return_indices=True, **kw), lambda x: tfn(x, return_indices=True, **kw),
            distinct(rng, *shape))


def test_tiled_max_pool_ties_go_to_the_first_maximum():
    x = np.array([[[[1, 1, 2, 0, 3, 3], [1, 1, 2, 2, 3, 0], [0, 5, 5, 5, 4, 4], [5, 5, 4, 5, -1, -1]]]], np.float32)
    compare(lambda t: F.max_pool2d(t, 2, return_indices=True), lambda t: TF.max_pool2d(t, 2, return_indices=True), x)


@pytest.mark.parametrize("fn", [lambda x: F.max_pool2d(x, 2), lambda x: F.max_pool2d(x, (2, 3)),
                                lambda x: F.max_pool1d(x.reshape(2, 3, -1), 4)])
def test_tiled_max_pool_gradcheck_and_double_backward(rng, fn):
    x = leaf(distinct(rng, 2, 3, 5, 6).astype(np.float64))
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1, dilation=2),
                                dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0)),
                                dict(kernel_size=3, stride=1, ceil_mode=True)])
def test_overlapping_max_pool_follows_torchs_scan(kw):
    """Overlapping, padded or dilated windows: the first maximum wins ties, of 0.0 and -0.0 the first
    stays, and with NaNs the last NaN wins (its index and gradient), as torch's CPU kernel scans."""
    rng = np.random.default_rng(7)
    x = rng.integers(-2, 3, (2, 3, 7, 6)).astype(np.float32)  # many ties
    x[0, 0, 2, 2] = np.nan
    x[1, 2, 0:2, 0:2] = np.nan
    x[0, 1] = np.where(rng.random((7, 6)) < 0.5, 0.0, -0.0)
    results = []
    for lib in (ember, torch):
        xl = lib.tensor(x, requires_grad=True)
        out, idx = lib.nn.functional.max_pool2d(xl, return_indices=True, **kw)
        out.backward(lib.tensor(np.arange(out.numel(), dtype=np.float32).reshape(tuple(out.shape))))
        results.append((out.detach().numpy(), idx.numpy(), xl.grad.numpy()))
    (eo, ei, eg), (to, ti, tg) = results
    np.testing.assert_array_equal(ei, ti)
    np.testing.assert_array_equal(eo, to)  # NaNs in the same places
    np.testing.assert_array_equal(np.signbit(eo), np.signbit(to))
    np.testing.assert_array_equal(eg, tg)
