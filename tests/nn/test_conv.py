"""Convolutions and their transposes against torch 2.13.0, finite differences and torch's errors."""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from torch_compare import compare, f32, f64, leaf

CONV2D = [  # (N, C, H, W), (O, C/g, kh, kw), kwargs
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    ((2, 4, 9, 8), (6, 2, 3, 2), dict(stride=2, padding=(1, 0), groups=2)),
    ((1, 2, 10, 9), (3, 2, 3, 3), dict(stride=(2, 3), dilation=2, padding=2)),
    ((2, 3, 6, 7), (4, 3, 4, 3), dict(padding="same", dilation=(1, 2))),
    ((2, 3, 6, 7), (4, 3, 3, 3), dict(padding="valid")),
    ((3, 5, 8), (4, 3, 3, 3), dict(padding=1)),  # unbatched (C, H, W)
    ((2, 6, 5, 5), (6, 1, 3, 3), dict(groups=6, padding=1, stride=2)),  # depthwise
]


@pytest.mark.parametrize("xs, ws, kw", CONV2D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_vs_torch(rng, batch_split, xs, ws, kw, bias):
    args = (f32(rng, *xs), f32(rng, *ws)) + ((f32(rng, ws[0]),) if bias else ())
    compare(lambda *a: F.conv2d(*a, **kw), lambda *a: torch.nn.functional.conv2d(*a, **kw), *args, atol=1e-4)


@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 3, 11), (4, 3, 3), dict(padding=1)),
    ((2, 4, 12), (6, 2, 4), dict(stride=3, padding=2, dilation=2, groups=2)),
    ((2, 3, 9), (2, 3, 4), dict(padding="same")),  # odd total padding: one more on the right
    ((3, 10), (2, 3, 3), dict()),
])
def test_conv1d_vs_torch(rng, batch_split, xs, ws, kw):
    args = (f32(rng, *xs), f32(rng, *ws), f32(rng, ws[0]))
    compare(lambda *a: F.conv1d(*a, **kw), lambda *a: torch.nn.functional.conv1d(*a, **kw), *args, atol=1e-4)


CONV_T2D = [  # (N, C_in, H, W), (C_in, C_out/g, kh, kw), kwargs
    ((2, 3, 4, 5), (3, 2, 3, 3), dict()),
    ((2, 4, 4, 3), (4, 3, 3, 2), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((1, 2, 3, 4), (2, 2, 3, 3), dict(stride=(3, 2), padding=(0, 1), dilation=2, output_padding=(1, 0))),
    ((2, 5, 5), (2, 3, 2, 2), dict(stride=2)),  # unbatched
]


@pytest.mark.parametrize("xs, ws, kw", CONV_T2D)
def test_conv_transpose2d_vs_torch(rng, batch_split, xs, ws, kw):
    cout = ws[1] * kw.get("groups", 1)
    args = (f32(rng, *xs), f32(rng, *ws), f32(rng, cout))
    compare(lambda *a: F.conv_transpose2d(*a, **kw), lambda *a: torch.nn.functional.conv_transpose2d(*a, **kw),
            *args, atol=1e-4)


@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 3, 6), (3, 2, 3), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 5), (4, 1, 2), dict(groups=2, dilation=3)),
])
def test_conv_transpose1d_vs_torch(rng, xs, ws, kw):
    cout = ws[1] * kw.get("groups", 1)
    args = (f32(rng, *xs), f32(rng, *ws), f32(rng, cout))
    compare(lambda *a: F.conv_transpose1d(*a, **kw), lambda *a: torch.nn.functional.conv_transpose1d(*a, **kw),
            *args, atol=1e-4)


@pytest.mark.parametrize("fn, xs, ws, kw", [
    (F.conv2d, (1, 2, 5, 4), (2, 1, 2, 3), dict(stride=2, padding=1, groups=2)),
    (F.conv2d, (1, 1, 5, 5), (2, 1, 2, 2), dict(dilation=2, padding="same")),
    (F.conv1d, (2, 2, 6), (3, 2, 3), dict(stride=2, padding=1)),
    (F.conv_transpose2d, (1, 2, 3, 3), (2, 2, 2, 3), dict(stride=2, padding=1, output_padding=1)),
    (F.conv_transpose1d, (1, 2, 4), (2, 1, 3), dict(stride=2, dilation=2, groups=2)),
])
def test_conv_gradcheck_and_double_backward(rng, batch_split, fn, xs, ws, kw):
    bias = ws[0] if fn in (F.conv2d, F.conv1d) else ws[1] * kw.get("groups", 1)
    inputs = (leaf(f64(rng, *xs)), leaf(f64(rng, *ws)), leaf(f64(rng, bias)))
    assert gradcheck(lambda *a: fn(*a, **kw), inputs)
    assert gradgradcheck(lambda *a: fn(*a, **kw), inputs)


def test_conv2d_double_backward_vs_torch(rng):
    """A gradient penalty: d/dw of |d(sum conv(x, w)^2)/dx|^2, as in WGAN-GP."""
    x, w = f64(rng, 2, 3, 5, 5), f64(rng, 4, 3, 3, 3)
    grads = []
    for lib in (ember, torch):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(xt, wt, stride=2, padding=1)
        (gx,) = lib.autograd.grad((y * y).sum(), (xt,), create_graph=True)
        (gx * gx).sum().backward()
        grads.append((gx.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()))
    for e, t in zip(*grads):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


def test_conv2d_float64_and_no_grad(rng):
    x, w = f64(rng, 2, 3, 6, 6), f64(rng, 5, 3, 3, 3)
    with ember.no_grad():
        out = F.conv2d(ember.tensor(x, requires_grad=True), ember.tensor(w), padding=1)
    assert out.grad_fn is None and out.dtype is ember.float64 and out.is_contiguous()
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: F.conv2d(ember.zeros(2, 4, 5, 5), ember.zeros(8, 3, 3, 3)), RuntimeError,
     "Given groups=1, weight of size [8, 3, 3, 3], expected input[2, 4, 5, 5] to have 3 channels, but got 4 "
     "channels instead"),
    (lambda: F.conv2d(ember.zeros(2, 5, 5), ember.zeros(8, 3, 3)), RuntimeError, "weight"),
    (lambda: F.conv2d(ember.zeros(5, 5), ember.zeros(8, 3, 3, 3)), RuntimeError,
     "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [5, 5]"),
    (lambda: F.conv2d(ember.zeros(1, 3, 2, 2), ember.zeros(8, 3, 3, 3)), RuntimeError,
     "Kernel size can't be greater than actual input size"),
    (lambda: F.conv2d(ember.zeros(1, 3, 5, 5), ember.zeros(8, 3, 3, 3), stride=2, padding="same"), RuntimeError,
     "padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(ember.zeros(1, 4, 5, 5), ember.zeros(6, 2, 3, 3), groups=4), RuntimeError,
     "expected weight to be divisible by 4"),
    (lambda: F.conv2d(ember.zeros(1, 3, 5, 5), ember.zeros(8, 3, 3, 3), ember.zeros(7)), RuntimeError, "bias"),
    (lambda: F.conv_transpose2d(ember.zeros(1, 3, 5, 5), ember.zeros(4, 3, 3, 3)), RuntimeError,
     "to have 4 channels, but got 3 channels instead"),
    (lambda: F.conv_transpose2d(ember.zeros(1, 3, 5, 5), ember.zeros(3, 3, 3, 3), stride=2, output_padding=2),
     RuntimeError, "output padding must be smaller than either stride or dilation"),
    (lambda: F.conv2d(ember.zeros(1, 3, 5, 5), ember.zeros(8, 3, 3, 3, dtype=ember.float64)), RuntimeError,
     "same dtype"),
])
def test_conv_errors(call, exc, msg):
    with pytest.raises(exc) as info:
        call()
    assert msg in str(info.value)


# ----------------------------------------------------------------------------- modules
def copy_torch_state(e, t):
    """Load the torch module's state into the ember one (same names and shapes)."""
    e.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()})


def module_grads_match(e, t, atol=1e-4):
    for (name, ep), (_, tp) in zip(e.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), atol=atol, rtol=1e-4, err_msg=name)


@pytest.mark.parametrize("cls, args, kw, shape", [
    ("Conv2d", (3, 4, 3), dict(padding=1), (2, 3, 6, 7)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=2, groups=2, bias=False, dilation=(1, 2)), (2, 4, 8, 9)),
    ("Conv2d", (3, 4, 3), dict(padding=2, padding_mode="reflect"), (2, 3, 6, 7)),
    ("Conv2d", (3, 4, 3), dict(padding=(1, 2), padding_mode="replicate"), (2, 3, 6, 7)),
    ("Conv2d", (3, 4, 4), dict(padding="same", padding_mode="circular"), (2, 3, 6, 7)),
    ("Conv1d", (3, 5, 3), dict(padding="same", padding_mode="reflect"), (2, 3, 9)),
    ("Conv1d", (3, 5, 3), dict(stride=2), (2, 3, 9)),
    ("ConvTranspose2d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 4, 5)),
    ("ConvTranspose2d", (4, 6, 2), dict(groups=2, dilation=2, bias=False), (2, 4, 3, 3)),
    ("ConvTranspose1d", (3, 2, 4), dict(stride=3, padding=1), (2, 3, 5)),
])
def test_conv_modules_vs_torch(rng, cls, args, kw, shape):
    e, t = getattr(ember.nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    copy_torch_state(e, t)
    compare(e, t, f32(rng, *shape), atol=1e-4)
    module_grads_match(e, t)


def test_conv_transpose_output_size_vs_torch(rng):
    e, t = ember.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    copy_torch_state(e, t)
    compare(lambda x: e(x, output_size=[8, 10]), lambda x: t(x, output_size=[8, 10]), f32(rng, 1, 3, 4, 5), atol=1e-4)
    with pytest.raises(ValueError, match="requested an output size of"):
        e(ember.zeros(1, 3, 4, 5), output_size=[10, 10])


@pytest.mark.parametrize("cls, args", [("Conv2d", (6, 8, (3, 2))), ("Conv1d", (4, 6, 5)),
                                       ("ConvTranspose2d", (6, 4, 3))])
def test_conv_default_init_bounds(cls, args):
    """kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight, as for the bias:
    the same values as torch's for the same seed."""
    ember.manual_seed(0)
    torch.manual_seed(0)
    m, t = getattr(ember.nn, cls)(*args), getattr(torch.nn, cls)(*args)
    fan_in = m.weight.shape[1] * int(np.prod(m.weight.shape[2:]))
    bound = 1 / np.sqrt(fan_in)
    for p, q in ((m.weight, t.weight), (m.bias, t.bias)):
        assert np.abs(p.detach().numpy()).max() <= bound
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    assert abs(m.weight.detach().numpy().std() - bound / np.sqrt(3)) < 0.2 * bound


@pytest.mark.parametrize("call, msg", [
    (lambda: ember.nn.Conv2d(3, 4, 3, groups=2), "in_channels must be divisible by groups"),
    (lambda: ember.nn.Conv2d(4, 3, 3, groups=2), "out_channels must be divisible by groups"),
    (lambda: ember.nn.Conv2d(3, 4, 3, padding_mode="mirror"), "padding_mode must be one of"),
    (lambda: ember.nn.Conv2d(3, 4, 3, stride=2, padding="same"), "padding='same' is not supported for strided"),
    (lambda: ember.nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"), 'Only "zeros" padding mode'),
])
def test_conv_module_errors(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def test_cnn_training_step_vs_torch(rng):
    """The benchmark CNN: conv-relu-conv-relu-maxpool-linear, one SGD-free step's loss and gradients."""
    def net(lib):
        nn = lib.nn
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 5 * 5, 10))
    e, t = net(ember), net(torch)
    copy_torch_state(e, t)
    x = f32(rng, 4, 1, 10, 10)
    compare(e, t, x, grad=[], atol=1e-4)
    le = e(ember.tensor(x)).square().mean()
    lt = t(torch.tensor(x)).square().mean()
    le.backward()
    lt.backward()
    module_grads_match(e, t)


@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 4, 16, 12), (6, 2, 3, 3), dict(padding=1, groups=2)),
    ((2, 3, 200), (4, 3, 5), dict(padding=2)),  # 1-D
    ((1, 2, 13, 14), (3, 2, 3, 2), dict(dilation=(2, 1))),
])
def test_conv_large_images_vs_torch(rng, batch_split, xs, ws, kw):
    """Larger images and long signals, where the threads get real slices of work."""
    fn, tfn = (F.conv2d, torch.nn.functional.conv2d) if len(xs) == 4 else (F.conv1d, torch.nn.functional.conv1d)
    compare(lambda *a: fn(*a, **kw), lambda *a: tfn(*a, **kw), f32(rng, *xs), f32(rng, *ws), f32(rng, ws[0]),
            atol=1e-4)
    inputs = (leaf(f64(rng, *xs)), leaf(f64(rng, *ws)), leaf(f64(rng, ws[0])))
    assert gradgradcheck(lambda *a: fn(*a, **kw), inputs)


@pytest.mark.parametrize("xs, ws, kw, bias", [
    ((5, 1, 12, 11), (6, 1, 3, 3), dict(padding=1), True),   # a first layer: bias fused in the matmul
    ((5, 4, 9, 8), (6, 2, 3, 2), dict(stride=2, padding=(1, 0), groups=2), True),  # groups: bias apart
    ((3, 3, 7, 7), (4, 3, 3, 3), dict(dilation=2, padding=2), False),
    ((4, 2, 15), (3, 2, 4), dict(stride=3), True),  # 1-D
])
def test_conv_weight_and_bias_grads_without_input_grad(rng, batch_split, xs, ws, kw, bias):
    """When the input needs no gradient, the weight gradient is taken image by image from the output
    gradient as it lies; the bias gradient comes out of that product or apart from it."""
    x, w = f32(rng, *xs), f32(rng, *ws)
    b = f32(rng, ws[0]) if bias else None
    gy = None
    grads = []
    for lib in (ember, torch):
        fn = lib.nn.functional.conv2d if len(xs) == 4 else lib.nn.functional.conv1d
        wl = lib.tensor(w, requires_grad=True)
        bl = lib.tensor(b, requires_grad=True) if bias else None
        y = fn(lib.tensor(x), wl, bl, **kw)
        if gy is None:
            gy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
        y.backward(lib.tensor(gy))
        grads.append([wl.grad.numpy()] + ([bl.grad.numpy()] if bias else []))
    for e, t in zip(*grads):
        np.testing.assert_allclose(e, t, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dims", [1, 2])
def test_weight_gradient_under_create_graph_reaches_the_input(dims):
    """gw = d<v, conv(x, w)>/dw with create_graph: its own gradient w.r.t. x (a gradient penalty) is torch's."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3) + (6,) * dims)
    w = rng.normal(size=(4, 3) + (3,) * dims)
    v = rng.normal(size=(2, 4) + (6,) * dims)
    out = {}
    for lib in (torch, ember):
        conv = lib.nn.functional.conv1d if dims == 1 else lib.nn.functional.conv2d
        X, W = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        gw, = lib.autograd.grad(conv(X, W, padding=1), W, lib.tensor(v), create_graph=True)
        assert gw.requires_grad
        out[lib.__name__] = [lib.autograd.grad((gw * gw).sum(), X)[0].numpy()]
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kw", [dict(groups=2, dilation=2, output_padding=1, stride=2),
                                dict(groups=4, stride=3, output_padding=2, padding=1)])
def test_conv_transpose2d_backward_with_groups_dilation_output_padding(kw):
    rng = np.random.default_rng(4)
    x, w = rng.normal(size=(2, 4, 5, 5)), rng.normal(size=(4, 3, 3, 3))
    out = {}
    for lib in (torch, ember):
        X, W = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv_transpose2d(X, W, **kw)
        y.backward(lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape))))
        out[lib.__name__] = [y.detach().numpy(), X.grad.numpy(), W.grad.numpy()]
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)
