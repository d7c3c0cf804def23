"""affine_grid and grid_sample against torch 2.13.0 and finite differences."""
import itertools

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck
from torch_compare import compare, f32, leaf

TF = torch.nn.functional

MODES = ["bilinear", "nearest"]
PADDINGS = ["zeros", "border", "reflection"]
COMBOS = list(itertools.product(MODES, PADDINGS, [True, False]))


def _grid(rng, n, h, w, reach=1.6, dtype=np.float32):
    """Normalized positions reaching past [-1, 1], so that every padding mode matters."""
    return rng.uniform(-reach, reach, (n, h, w, 2)).astype(dtype)


@pytest.mark.parametrize("mode, padding, align", COMBOS)
def test_grid_sample_vs_torch(rng, mode, padding, align):
    x, g = f32(rng, 2, 3, 5, 7), _grid(rng, 2, 4, 6)
    compare(lambda a, b: F.grid_sample(a, b, mode, padding, align),
            lambda a, b: TF.grid_sample(a, b, mode, padding, align), x, g, atol=2e-5)


@pytest.mark.parametrize("mode, padding, align", COMBOS)
def test_grid_sample_float64_vs_torch(rng, mode, padding, align):
    x, g = rng.standard_normal((1, 2, 6, 3)), _grid(rng, 1, 5, 4, reach=2.5, dtype=np.float64)
    compare(lambda a, b: F.grid_sample(a, b, mode, padding, align),
            lambda a, b: TF.grid_sample(a, b, mode, padding, align), x, g, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("padding, align", list(itertools.product(PADDINGS, [True, False])))
def test_grid_sample_gradcheck(rng, padding, align):
    x, g = leaf(rng.standard_normal((2, 2, 4, 5))), leaf(rng.uniform(-1.4, 1.4, (2, 3, 2, 2)))
    assert gradcheck(lambda a, b: F.grid_sample(a, b, "bilinear", padding, align), (x, g))


@pytest.mark.parametrize("padding", PADDINGS)
def test_grid_sample_nearest_gradcheck_input(rng, padding):
    x, g = leaf(rng.standard_normal((1, 2, 4, 5))), ember.tensor(rng.uniform(-1.4, 1.4, (1, 3, 2, 2)))
    assert gradcheck(lambda a: F.grid_sample(a, g, "nearest", padding, False), (x,))


@pytest.mark.parametrize("padding, align", list(itertools.product(PADDINGS, [True, False])))
def test_grid_sample_nearest_rounds_half_to_even(rng, padding, align):
    # positions on a 1/8 lattice land exactly halfway between pixels, where the rounding rule decides
    w = 4
    steps = np.arange(-9, 10) / 8.0
    g = np.stack(np.meshgrid(steps, steps[::3]), axis=-1)[None].astype(np.float32)
    x = f32(rng, 1, 2, 5, w)
    compare(lambda a, b: F.grid_sample(a, b, "nearest", padding, align),
            lambda a, b: TF.grid_sample(a, b, "nearest", padding, align), x, g, grad=[0])


@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_gradient_of_one_input_only(rng, mode):
    x, g = f32(rng, 2, 3, 4, 6), _grid(rng, 2, 3, 5)
    for which in ([0], [1]):
        compare(lambda a, b: F.grid_sample(a, b, mode, "border", True),
                lambda a, b: TF.grid_sample(a, b, mode, "border", True), x, g, grad=which)


def test_grid_sample_align_corners_none_is_false(rng):
    x, g = f32(rng, 1, 2, 3, 4), _grid(rng, 1, 2, 5)
    compare(lambda a, b: F.grid_sample(a, b), lambda a, b: TF.grid_sample(a, b, align_corners=False), x, g)


@pytest.mark.parametrize("padding, align", list(itertools.product(PADDINGS, [True, False])))
def test_grid_sample_single_pixel_input(rng, padding, align):
    x, g = f32(rng, 2, 3, 1, 1), _grid(rng, 2, 3, 2)
    compare(lambda a, b: F.grid_sample(a, b, "bilinear", padding, align),
            lambda a, b: TF.grid_sample(a, b, "bilinear", padding, align), x, g)


def test_grid_sample_empty(rng):
    for xs, gs in [((0, 3, 4, 5), (0, 2, 3, 2)), ((2, 3, 4, 5), (2, 0, 3, 2)), ((2, 0, 4, 5), (2, 2, 3, 2))]:
        compare(F.grid_sample, lambda a, b: TF.grid_sample(a, b, align_corners=False), f32(rng, *xs),
                _grid(rng, *gs[:3]))


def test_grid_sample_double_backward_raises(rng):
    x = ember.tensor(f32(rng, 1, 2, 3, 4), requires_grad=True)
    g = ember.tensor(_grid(rng, 1, 2, 2), requires_grad=True)
    _, gg = ember.autograd.grad(F.grid_sample(x, g).sum(), (x, g), create_graph=True)
    with pytest.raises(NotImplementedError, match="grid_sample"):
        ember.autograd.grad(gg.sum(), (x, g))


def _raises_like(ember_call, torch_call):
    """Both calls fail with the same exception type and message."""
    with pytest.raises(Exception) as t:
        torch_call()
    with pytest.raises(type(t.value)) as e:
        ember_call()
    assert str(e.value) == str(t.value)


@pytest.mark.parametrize("xs, gs, kw", [
    ((2, 3, 4, 5), (1, 6, 7, 2), {}),
    ((3, 4, 5), (2, 6, 7, 2), {}),
    ((2, 3, 4, 5), (6, 7, 2), {}),
    ((2, 3, 4, 5), (2, 6, 7, 3), {}),
    ((2, 3, 4, 5), (2, 6, 7, 8, 2), {}),
    ((2, 3, 0, 5), (2, 6, 7, 2), {}),
    ((2, 3, 4, 5), (2, 6, 7, 2), {"mode": "linear"}),
    ((2, 3, 4, 5), (2, 6, 7, 2), {"padding_mode": "circular"}),
])
def test_grid_sample_errors_match_torch(rng, xs, gs, kw):
    x, g = f32(rng, *xs), rng.standard_normal(gs).astype(np.float32)
    _raises_like(lambda: F.grid_sample(ember.tensor(x), ember.tensor(g), align_corners=False, **kw),
                 lambda: TF.grid_sample(torch.tensor(x), torch.tensor(g), align_corners=False, **kw))


def test_grid_sample_dtype_errors(rng):
    x, g = f32(rng, 2, 3, 4, 5), _grid(rng, 2, 2, 2)
    _raises_like(lambda: F.grid_sample(ember.tensor(x), ember.tensor(g.astype(np.float64))),
                 lambda: TF.grid_sample(torch.tensor(x), torch.tensor(g.astype(np.float64)), align_corners=False))
    xi, gi = x.astype(np.int32), g.astype(np.int32)
    _raises_like(lambda: F.grid_sample(ember.tensor(xi), ember.tensor(gi)),
                 lambda: TF.grid_sample(torch.tensor(xi), torch.tensor(gi), align_corners=False))


def test_grid_sample_unsupported_raise_not_implemented(rng):
    x, g = ember.tensor(f32(rng, 1, 2, 3, 4, 5)), ember.tensor(rng.uniform(-1, 1, (1, 2, 2, 2, 3)).astype(np.float32))
    with pytest.raises(NotImplementedError, match="grid_sample"):
        F.grid_sample(x, g)
    x, g = ember.tensor(f32(rng, 1, 2, 3, 4)), ember.tensor(_grid(rng, 1, 2, 2))
    with pytest.raises(NotImplementedError, match="grid_sample"):
        F.grid_sample(x, g, mode="bicubic")


@pytest.mark.filterwarnings("ignore:Since version 1.3.0")  # unit-size grids with align_corners
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 6, 1), (2, 3, 1, 7), (2, 2, 3, 4, 5)])
@pytest.mark.parametrize("align", [True, False])
def test_affine_grid_vs_torch(rng, size, align):
    theta = rng.standard_normal((2, 2, 3) if len(size) == 4 else (2, 3, 4))
    compare(lambda t: F.affine_grid(t, size, align), lambda t: TF.affine_grid(t, size, align), theta,
            atol=1e-12)
    compare(lambda t: F.affine_grid(t, size, align), lambda t: TF.affine_grid(t, size, align),
            theta.astype(np.float32))


def test_affine_grid_gradcheck(rng):
    theta = leaf(rng.standard_normal((2, 2, 3)))
    assert gradcheck(lambda t: F.affine_grid(t, (2, 3, 4, 5), False), (theta,))


@pytest.mark.parametrize("mode, padding, align", COMBOS)
def test_affine_grid_then_grid_sample(rng, mode, padding, align):
    # a spatial transformer: rotate, scale past the borders and shift; gradients reach theta
    a = 0.4
    theta = np.array([[[1.3 * np.cos(a), -np.sin(a), 0.2], [np.sin(a), 1.2 * np.cos(a), -0.3]]] * 2, np.float32)
    theta += 0.05 * f32(rng, 2, 2, 3)
    x = f32(rng, 2, 3, 6, 5)

    def run(fn):
        return lambda img, th: fn.grid_sample(img, fn.affine_grid(th, (2, 3, 7, 4), align), mode, padding, align)
    compare(run(F), run(TF), x, theta, atol=2e-5)


@pytest.mark.parametrize("theta_shape, size", [
    ((2, 2, 3), (3, 3, 4, 5)),
    ((2, 2, 3), (2, 3, 4)),
    ((2, 2, 3), (2, 3, 4, 5, 6)),
    ((2, 3), (2, 3, 4, 5)),
    ((2, 2, 3), (2, 3, 0, 5)),
])
def test_affine_grid_errors(rng, theta_shape, size):
    theta = rng.standard_normal(theta_shape).astype(np.float32)
    with pytest.raises(Exception) as t:
        TF.affine_grid(torch.tensor(theta), size, align_corners=False)
    with pytest.raises(type(t.value)) as e:
        F.affine_grid(ember.tensor(theta), size, align_corners=False)
    if not isinstance(t.value, RuntimeError):  # torch's batch mismatch surfaces from its matmul
        assert str(e.value) == str(t.value).replace("torch.Size", "ember.Size")


def test_affine_grid_integer_theta():
    with pytest.raises(ValueError, match="floating point"):
        F.affine_grid(ember.tensor(np.zeros((1, 2, 3), np.int64)), (1, 1, 2, 2), False)
