"""Volumetric (3-D) convolution, pooling, normalization and padding against torch 2.13.0 and finite differences."""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from torch_compare import compare, f32, f64, leaf

TF = torch.nn.functional


# ----------------------------------------------------------------------------- convolution
CONV3D = [  # (N, C, D, H, W), (O, C/g, kd, kh, kw), kwargs
    ((2, 3, 4, 5, 6), (4, 3, 2, 3, 2), dict()),
    ((2, 3, 5, 6, 7), (4, 3, 3, 3, 3), dict(stride=2, padding=1)),
    ((1, 4, 5, 6, 7), (6, 2, 2, 3, 2), dict(stride=(1, 2, 3), padding=(0, 1, 2), groups=2)),
    ((2, 2, 6, 6, 5), (3, 2, 2, 2, 3), dict(dilation=(2, 1, 2), padding=1)),
    ((2, 3, 4, 5, 6), (4, 3, 2, 3, 4), dict(padding="same", dilation=(1, 2, 1))),  # odd totals: more at the end
    ((2, 3, 4, 5, 6), (4, 3, 2, 2, 2), dict(padding="valid")),
    ((3, 4, 5, 6), (2, 3, 3, 2, 2), dict(padding=1)),  # unbatched (C, D, H, W)
    ((2, 4, 4, 4, 4), (4, 1, 3, 3, 3), dict(groups=4, padding=1, stride=2)),  # depthwise
]


@pytest.mark.parametrize("xs, ws, kw", CONV3D)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv3d_vs_torch(rng, xs, ws, kw, bias):
    args = (f32(rng, *xs), f32(rng, *ws)) + ((f32(rng, ws[0]),) if bias else ())
    compare(lambda *a: F.conv3d(*a, **kw), lambda *a: TF.conv3d(*a, **kw), *args, atol=1e-4)


CONV_T3D = [  # (N, C_in, D, H, W), (C_in, C_out/g, kd, kh, kw), kwargs
    ((2, 3, 3, 4, 5), (3, 2, 2, 3, 2), dict()),
    ((2, 3, 3, 4, 3), (3, 2, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 3, 3, 4), (4, 3, 2, 2, 3), dict(stride=(1, 2, 3), padding=(0, 1, 1), output_padding=(0, 1, 2),
                                            groups=2)),
    ((2, 2, 3, 4, 3), (2, 3, 2, 2, 2), dict(dilation=2, output_padding=1)),  # output_padding < dilation only
    ((3, 3, 4, 2), (3, 2, 2, 2, 2), dict(stride=2)),  # unbatched
]


@pytest.mark.parametrize("xs, ws, kw", CONV_T3D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose3d_vs_torch(rng, xs, ws, kw, bias):
    out_c = ws[1] * kw.get("groups", 1)
    args = (f32(rng, *xs), f32(rng, *ws)) + ((f32(rng, out_c),) if bias else ())
    compare(lambda *a: F.conv_transpose3d(*a, **kw), lambda *a: TF.conv_transpose3d(*a, **kw), *args, atol=1e-4)


@pytest.mark.parametrize("fn, xs, ws, bs, kw", [
    (F.conv3d, (1, 2, 4, 3, 4), (2, 2, 2, 2, 2), 2, dict(stride=(2, 1, 2), padding=(1, 0, 1))),
    (F.conv3d, (2, 4, 3, 4, 3), (2, 2, 2, 1, 2), 2, dict(groups=2, dilation=(1, 2, 1))),
    (F.conv_transpose3d, (1, 2, 2, 3, 2), (2, 2, 2, 2, 2), 2, dict(stride=2, padding=1, output_padding=1)),
    (F.conv_transpose3d, (1, 2, 2, 2, 2), (2, 1, 2, 2, 2), 2, dict(dilation=2, output_padding=1, groups=2)),
])
def test_conv3d_gradcheck_and_double_backward(rng, fn, xs, ws, bs, kw):
    inputs = (leaf(f64(rng, *xs)), leaf(f64(rng, *ws)), leaf(f64(rng, bs)))
    assert gradcheck(lambda *a: fn(*a, **kw), inputs)
    assert gradgradcheck(lambda *a: fn(*a, **kw), inputs)


def test_conv3d_double_backward_vs_torch(rng):
    """The gradient of (grad_x . v) in x, weight and bias, as torch computes it."""
    x, w, b, v = f64(rng, 2, 2, 4, 4, 3), f64(rng, 3, 2, 2, 2, 2), f64(rng, 3), f64(rng, 2, 2, 4, 4, 3)
    grads = []
    for lib, fn in ((ember, F.conv3d), (torch, TF.conv3d)):
        xs = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = fn(*xs, stride=(1, 2, 1), padding=1)
        gx, gw = lib.autograd.grad((y * y).sum(), xs[:2], create_graph=True)
        (gx * lib.tensor(v)).sum().add((gw * gw).sum()).backward()
        grads.append([t.grad.numpy() for t in xs])
    for e, t in zip(*grads):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.conv3d(lib.zeros(2, 4, 5, 5, 5), lib.zeros(8, 3, 3, 3, 3)),  # channels
    lambda lib: lib.nn.functional.conv3d(lib.zeros(5, 5, 5), lib.zeros(8, 3, 3, 3, 3)),  # input dims
    lambda lib: lib.nn.functional.conv3d(lib.zeros(1, 3, 5, 5, 5), lib.zeros(8, 3, 3, 3)),  # weight dims
    lambda lib: lib.nn.functional.conv3d(lib.zeros(1, 3, 2, 5, 5), lib.zeros(8, 3, 3, 3, 3)),  # kernel too big
    lambda lib: lib.nn.functional.conv3d(lib.zeros(1, 3, 5, 5, 5), lib.zeros(8, 3, 3, 3, 3), stride=2,
                                         padding="same"),
    lambda lib: lib.nn.functional.conv3d(lib.zeros(1, 3, 5, 5, 5), lib.zeros(8, 3, 3, 3, 3), lib.zeros(7)),
    lambda lib: lib.nn.functional.conv3d(lib.zeros(1, 3, 5, 5, 5), lib.zeros(8, 3, 3, 3, 3), stride=(1, 2)),
    lambda lib: lib.nn.functional.conv_transpose3d(lib.zeros(1, 3, 5, 5, 5), lib.zeros(4, 3, 3, 3, 3)),
    lambda lib: lib.nn.functional.conv_transpose3d(lib.zeros(1, 3, 5, 5, 5), lib.zeros(3, 3, 3, 3, 3), stride=2,
                                                   output_padding=2),
])
def test_conv3d_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)):
        call(ember)


def test_conv3d_error_names_the_op():
    with pytest.raises(RuntimeError, match="Expected 4D \\(unbatched\\) or 5D \\(batched\\) input to conv3d"):
        F.conv3d(ember.zeros(5, 5, 5), ember.zeros(8, 3, 3, 3, 3))
    with pytest.raises(RuntimeError, match="conv_transpose3d: output padding must be smaller"):
        F.conv_transpose3d(ember.zeros(1, 3, 5, 5, 5), ember.zeros(3, 3, 3, 3, 3), stride=2, output_padding=2)


# ----------------------------------------------------------------------------- conv modules
def copy_torch_state(e, t):
    """Load the torch module's state into the ember one (same names and shapes)."""
    e.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()})


def module_grads_match(e, t, atol=1e-4):
    for (name, ep), (_, tp) in zip(e.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), atol=atol, rtol=1e-4, err_msg=name)


@pytest.mark.parametrize("cls, args, kw, shape", [
    ("Conv3d", (3, 4, 3), dict(padding=1), (2, 3, 4, 5, 6)),
    ("Conv3d", (4, 6, (2, 3, 2)), dict(stride=2, groups=2, bias=False, dilation=(1, 2, 1)), (2, 4, 5, 7, 6)),
    ("Conv3d", (3, 4, 3), dict(padding=2, padding_mode="reflect"), (2, 3, 4, 5, 6)),
    ("Conv3d", (3, 4, 3), dict(padding=(1, 2, 0), padding_mode="replicate"), (3, 4, 5, 6)),
    ("Conv3d", (3, 4, (2, 3, 4)), dict(padding="same", padding_mode="circular"), (2, 3, 4, 5, 6)),
    ("Conv3d", (3, 4, 2), dict(padding="valid"), (1, 3, 3, 4, 5)),
    ("ConvTranspose3d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 3, 4, 3)),
    ("ConvTranspose3d", (4, 6, 2), dict(groups=2, dilation=2, bias=False), (2, 4, 3, 2, 3)),
])
def test_conv3d_modules_vs_torch(rng, cls, args, kw, shape):
    e, t = getattr(ember.nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    assert all(tuple(p.shape) == tuple(q.shape) for p, q in zip(e.parameters(), t.parameters()))
    copy_torch_state(e, t)
    compare(e, t, f32(rng, *shape), atol=1e-4)
    module_grads_match(e, t)


def test_conv_transpose3d_output_size_vs_torch(rng):
    e = ember.nn.ConvTranspose3d(3, 2, 3, stride=2, padding=1)
    t = torch.nn.ConvTranspose3d(3, 2, 3, stride=2, padding=1)
    copy_torch_state(e, t)
    compare(lambda x: e(x, output_size=[6, 8, 10]), lambda x: t(x, output_size=[6, 8, 10]), f32(rng, 1, 3, 3, 4, 5),
            atol=1e-4)


@pytest.mark.parametrize("cls, args", [("Conv3d", (4, 6, (3, 2, 2))), ("ConvTranspose3d", (6, 4, 2))])
def test_conv3d_default_init_bounds(cls, args):
    """kaiming_uniform(a=sqrt(5)): weight and bias within 1/sqrt(fan_in), fan_in from weight dim 1 as in torch."""
    ember.manual_seed(0)
    m = getattr(ember.nn, cls)(*args)
    w = m.weight.detach().numpy()
    bound = 1 / np.sqrt(np.prod(w.shape[1:]))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound


# ----------------------------------------------------------------------------- pooling
MAX_POOL = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), dilation=(2, 1, 1), ceil_mode=True),
    dict(kernel_size=2, stride=2, ceil_mode=True),
]


@pytest.mark.parametrize("kw", MAX_POOL)
@pytest.mark.parametrize("shape", [(2, 3, 5, 6, 7), (3, 5, 4, 5)])
def test_max_pool3d_vs_torch(rng, kw, shape):
    e, t = compare(lambda x: F.max_pool3d(x, return_indices=True, **kw),
                   lambda x: TF.max_pool3d(x, return_indices=True, **kw), f64(rng, *shape))
    assert e[1].dtype == ember.int64
    np.testing.assert_array_equal(e[1].numpy(), t[1].numpy())


def test_max_pool3d_ties_and_nan_match_torch():
    x = np.zeros((1, 2, 4, 4, 4))
    x[0, 1, 1, 2, 3] = x[0, 1, 0, 0, 1] = np.nan
    x[0, 0, :2, :2, :2] = 5.0  # a tie over a whole window: the first wins
    e = F.max_pool3d(ember.tensor(x), 2, return_indices=True)
    t = TF.max_pool3d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(e[0].numpy(), t[0].numpy())
    np.testing.assert_array_equal(e[1].numpy(), t[1].numpy())


AVG_POOL = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3, 2), stride=2, padding=(1, 1, 0), ceil_mode=True),
    dict(kernel_size=(2, 3, 2), stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, padding=1, divisor_override=3),
]


@pytest.mark.parametrize("kw", AVG_POOL)
def test_avg_pool3d_vs_torch(rng, kw):
    compare(lambda x: F.avg_pool3d(x, **kw), lambda x: TF.avg_pool3d(x, **kw), f64(rng, 2, 3, 5, 6, 7))


def test_avg_pool3d_unbatched_vs_torch(rng):
    compare(lambda x: F.avg_pool3d(x, 2), lambda x: TF.avg_pool3d(x, 2), f32(rng, 3, 4, 5, 6))


@pytest.mark.parametrize("out", [(2, 3, 4), 3, (None, 2, 5), (5, 6, 7), 1])
def test_adaptive_pool3d_vs_torch(rng, out):
    x = f64(rng, 2, 3, 5, 6, 7)
    compare(lambda x: F.adaptive_avg_pool3d(x, out), lambda x: TF.adaptive_avg_pool3d(x, out), x)
    e, t = compare(lambda x: F.adaptive_max_pool3d(x, out, True), lambda x: TF.adaptive_max_pool3d(x, out, True), x)
    np.testing.assert_array_equal(e[1].numpy(), t[1].numpy())


def test_adaptive_pool3d_unbatched_vs_torch(rng):
    x = f32(rng, 3, 4, 5, 6)
    compare(lambda x: F.adaptive_avg_pool3d(x, 2), lambda x: TF.adaptive_avg_pool3d(x, 2), x)
    compare(lambda x: F.adaptive_max_pool3d(x, (2, 3, 2)), lambda x: TF.adaptive_max_pool3d(x, (2, 3, 2)), x)


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool3d(x, 2, stride=1, padding=1),
    lambda x: F.avg_pool3d(x, (2, 3, 2), stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    lambda x: F.adaptive_avg_pool3d(x, (2, 3, 2)),
    lambda x: F.adaptive_max_pool3d(x, (2, 2, 3)),
])
def test_pool3d_gradcheck(rng, fn):
    x = leaf(f64(rng, 1, 2, 3, 4, 5))
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.max_pool3d(lib.zeros(4, 5, 6), 2),  # too few dims
    lambda lib: lib.nn.functional.max_pool3d(lib.zeros(1, 1, 4, 4, 4), 2, padding=2),  # pad over half the kernel
    lambda lib: lib.nn.functional.max_pool3d(lib.zeros(1, 1, 4, 4, 4), (2, 2)),
    lambda lib: lib.nn.functional.avg_pool3d(lib.zeros(1, 1, 1, 4, 4), 2),  # output too small
    lambda lib: lib.nn.functional.avg_pool3d(lib.zeros(1, 1, 4, 4, 4), 2, divisor_override=0),
    lambda lib: lib.nn.functional.adaptive_avg_pool3d(lib.zeros(1, 1, 4, 4, 4), (2, 2)),
    lambda lib: lib.nn.functional.adaptive_max_pool3d(lib.zeros(4, 4), 2),
])
def test_pool3d_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)):
        call(ember)


def test_pool3d_errors_name_the_op():
    with pytest.raises(RuntimeError, match="max_pool3d"):
        F.max_pool3d(ember.zeros(4, 5, 6), 2)
    with pytest.raises(RuntimeError, match="avg_pool3d"):
        F.avg_pool3d(ember.zeros(1, 1, 4, 4, 4), 2, divisor_override=0)


@pytest.mark.parametrize("cls, args, kw", [
    ("MaxPool3d", (3,), dict(stride=2, padding=1, dilation=1, ceil_mode=True)),
    ("MaxPool3d", ((2, 1, 2),), dict(return_indices=True)),
    ("AvgPool3d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool3d", (2,), dict(divisor_override=5, ceil_mode=True)),
    ("AdaptiveAvgPool3d", ((2, None, 3),), dict()),
    ("AdaptiveMaxPool3d", (2,), dict(return_indices=True)),
])
def test_pool3d_modules_vs_torch(rng, cls, args, kw):
    e, t = getattr(ember.nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(e) == repr(t)
    e_out, t_out = compare(e, t, f64(rng, 2, 3, 5, 6, 7))
    if kw.get("return_indices"):
        np.testing.assert_array_equal(e_out[1].numpy(), t_out[1].numpy())


# ----------------------------------------------------------------------------- normalization
@pytest.mark.parametrize("cls, kw, shape", [
    ("BatchNorm3d", dict(), (2, 3, 3, 4, 5)),
    ("BatchNorm3d", dict(affine=False, momentum=None), (3, 3, 2, 2, 3)),
    ("InstanceNorm3d", dict(), (2, 3, 3, 4, 5)),
    ("InstanceNorm3d", dict(affine=True, track_running_stats=True), (3, 3, 4, 5)),  # unbatched
])
def test_norm3d_vs_torch(rng, cls, kw, shape):
    e, t = getattr(ember.nn, cls)(3, **kw), getattr(torch.nn, cls)(3, **kw)
    assert repr(e) == repr(t)
    compare(e, t, f32(rng, *shape), atol=1e-4)
    for (name, eb), (_, tb) in zip(e.named_buffers(), t.named_buffers()):
        np.testing.assert_allclose(eb.numpy(), tb.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    if kw.get("affine", cls == "BatchNorm3d"):
        module_grads_match(e, t)
    e.eval(), t.eval()
    compare(e, t, f32(rng, *shape), atol=1e-4)


@pytest.mark.parametrize("cls, shape", [("BatchNorm3d", (2, 3, 4, 5)), ("InstanceNorm3d", (3, 4, 5))])
def test_norm3d_rejects_wrong_dims(cls, shape):
    with pytest.raises(ValueError):
        getattr(torch.nn, cls)(3)(torch.zeros(shape))
    with pytest.raises(ValueError):
        getattr(ember.nn, cls)(3)(ember.zeros(shape))


# ----------------------------------------------------------------------------- padding
@pytest.mark.parametrize("cls, args", [
    ("ZeroPad3d", (1,)),
    ("ZeroPad3d", ((1, 0, 2, 1, 0, 2),)),
    ("ConstantPad3d", ((1, 2, 0, 1, 2, 0), 3.5)),
    ("ConstantPad3d", ((-1, 1, 0, 0, 1, -1), -1.0)),
    ("ReflectionPad3d", ((1, 2, 0, 1, 2, 1),)),
    ("ReplicationPad3d", (2,)),
    ("CircularPad3d", ((1, 2, 0, 1, 2, 1),)),
])
@pytest.mark.parametrize("shape", [(2, 3, 3, 4, 5), (3, 3, 4, 5)])
def test_pad3d_modules_vs_torch(rng, cls, args, shape):
    e, t = getattr(ember.nn, cls)(*args), getattr(torch.nn, cls)(*args)
    assert repr(e) == repr(t)
    compare(e, t, f64(rng, *shape))


def test_pad3d_bad_padding_length():
    with pytest.raises(ValueError):
        ember.nn.ReflectionPad3d((1, 2))


@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.nn.functional.conv3d(x, lib.ones(2, 3, 2, 2, 2)),
    lambda lib, x: lib.nn.functional.conv_transpose3d(x, lib.ones(3, 2, 2, 2, 2), stride=2),
    lambda lib, x: lib.nn.functional.max_pool3d(x, 2, stride=1),
    lambda lib, x: lib.nn.functional.avg_pool3d(x, 2),
    lambda lib, x: lib.nn.functional.adaptive_avg_pool3d(x, 2),
    lambda lib, x: lib.nn.functional.adaptive_max_pool3d(x, 2),
    lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x[:, :, 0], 3),
])
def test_empty_batch_vs_torch(fn):
    """A batch of zero: the output shape torch gives, and a backward that runs."""
    outs = []
    for lib in (ember, torch):
        x = lib.zeros(0, 3, 4, 4, 4, requires_grad=True)
        y = fn(lib, x)
        y.sum().backward()
        assert tuple(x.grad.shape) == (0, 3, 4, 4, 4)
        outs.append(tuple(y.shape))
    assert outs[0] == outs[1]
