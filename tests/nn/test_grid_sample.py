"""affine_grid and grid_sample (2-D and 3-D, every mode and padding, gradients and double backward) against
torch 2.13.0 and finite differences."""
import itertools

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from conftest import assert_close
from torch_compare import compare, f32, leaf

TF = torch.nn.functional

MODES = ["bilinear", "nearest", "bicubic"]
PADDINGS = ["zeros", "border", "reflection"]
COMBOS = list(itertools.product(MODES, PADDINGS, [True, False]))
COMBOS_3D = list(itertools.product(["bilinear", "nearest"], PADDINGS, [True, False]))


def _grid(rng, n, *out, reach=1.6, dtype=np.float32):
    """Normalized positions reaching past [-1, 1], so that every padding mode matters ((x, y) for two output
    sizes, (x, y, z) for three)."""
    return rng.uniform(-reach, reach, (n, *out, len(out))).astype(dtype)


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


@pytest.mark.parametrize("mode, padding, align", COMBOS_3D)
def test_grid_sample_3d_vs_torch(rng, mode, padding, align):
    x, g = f32(rng, 2, 3, 4, 5, 3), _grid(rng, 2, 3, 2, 4)
    compare(lambda a, b: F.grid_sample(a, b, mode, padding, align),
            lambda a, b: TF.grid_sample(a, b, mode, padding, align), x, g, atol=2e-5)
    x, g = rng.standard_normal((1, 2, 3, 2, 4)), _grid(rng, 1, 2, 3, 2, reach=2.5, dtype=np.float64)
    compare(lambda a, b: F.grid_sample(a, b, mode, padding, align),
            lambda a, b: TF.grid_sample(a, b, mode, padding, align), x, g, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("mode, padding, align", [m for m in COMBOS if m[0] != "nearest"])
def test_grid_sample_gradcheck(rng, mode, padding, align):
    x, g = leaf(rng.standard_normal((1, 2, 4, 5))), leaf(rng.uniform(-1.4, 1.4, (1, 3, 2, 2)))
    assert gradcheck(lambda a, b: F.grid_sample(a, b, mode, padding, align), (x, g))


@pytest.mark.parametrize("padding, align", list(itertools.product(PADDINGS, [True, False])))
def test_grid_sample_3d_gradcheck(rng, padding, align):
    x, g = leaf(rng.standard_normal((1, 2, 3, 4, 3))), leaf(rng.uniform(-1.4, 1.4, (1, 2, 2, 2, 3)))
    assert gradcheck(lambda a, b: F.grid_sample(a, b, "bilinear", padding, align), (x, g))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding, align", list(itertools.product(PADDINGS, [True, False])))
def test_grid_sample_non_finite_positions(rng, mode, padding, align):
    # infinite and NaN positions: NaN where torch's weights are NaN, the clamped border pixel where it clamps
    x = rng.standard_normal((1, 2, 4, 5))
    grid = np.array([[[[np.inf, 0.2], [np.nan, -0.3], [-np.inf, 0.5], [0.3, np.inf], [1e3, 0.1], [-40.3, 7.7]]]])
    for dtype in (np.float32, np.float64):
        e = F.grid_sample(ember.tensor(x.astype(dtype)), ember.tensor(grid.astype(dtype)), mode, padding, align)
        t = TF.grid_sample(torch.tensor(x.astype(dtype)), torch.tensor(grid.astype(dtype)), mode, padding, align)
        assert_close(e, t, atol=1e-5)


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
    for mode, x, g in [(m, f32(rng, 2, 3, 1, 1), _grid(rng, 2, 3, 2)) for m in MODES] + \
                      [(m, f32(rng, 2, 3, 1, 1, 1), _grid(rng, 2, 3, 2, 2)) for m in MODES[:2]]:
        compare(lambda a, b: F.grid_sample(a, b, mode, padding, align),
                lambda a, b: TF.grid_sample(a, b, mode, padding, align), x, g)


def test_grid_sample_empty(rng):
    for xs, gs in [((0, 3, 4, 5), (0, 2, 3)), ((2, 3, 4, 5), (2, 0, 3)), ((2, 0, 4, 5), (2, 2, 3)),
                   ((2, 0, 4, 5, 3), (2, 2, 3, 1)), ((2, 3, 4, 5, 3), (2, 2, 0, 1))]:
        compare(F.grid_sample, lambda a, b: TF.grid_sample(a, b, align_corners=False), f32(rng, *xs),
                _grid(rng, *gs))
        x, g = rng.standard_normal(xs), _grid(rng, *gs, dtype=np.float64)
        cots = rng.standard_normal((*xs[:2], *gs[1:])), rng.standard_normal(xs), rng.standard_normal(g.shape)
        for e, t in zip(_double_backward(ember, x, g, "bilinear", "zeros", False, *cots),
                        _double_backward(torch, x, g, "bilinear", "zeros", False, *cots)):
            assert_close(e, t)


def _double_backward(lib, x, grid, mode, padding, align, g, gx_cot, ggrid_cot):
    """Output, gradients for cotangent g (with create_graph) and the gradients of <gx, gx_cot> + <ggrid, ggrid_cot>
    wrt x, grid and g, all in ``lib``."""
    xt, gt, go = (lib.tensor(a, requires_grad=True) for a in (x, grid, g))
    y = lib.nn.functional.grid_sample(xt, gt, mode, padding, align)
    gx, ggrid = lib.autograd.grad(y, (xt, gt), go, create_graph=True)
    second = lib.autograd.grad((gx * lib.tensor(gx_cot)).sum() + (ggrid * lib.tensor(ggrid_cot)).sum(), (xt, gt, go),
                               allow_unused=True)
    return [y, gx, ggrid, *second]


@pytest.mark.parametrize("mode, padding, align", COMBOS + [("3d-" + m, p, a) for m, p, a in COMBOS_3D])
def test_grid_sample_double_backward_vs_torch(rng, mode, padding, align):
    # the second derivatives wrt input, grid and incoming gradient, in float64
    if mode.startswith("3d-"):
        mode, x, grid = mode[3:], rng.standard_normal((2, 2, 3, 4, 5)), _grid(rng, 2, 2, 3, 2, reach=2.2,
                                                                              dtype=np.float64)
    else:
        x, grid = rng.standard_normal((2, 3, 4, 5)), _grid(rng, 2, 3, 4, reach=2.2, dtype=np.float64)
    cots = (rng.standard_normal((*x.shape[:2], *grid.shape[1:-1])), rng.standard_normal(x.shape),
            rng.standard_normal(grid.shape))
    ours = _double_backward(ember, x, grid, mode, padding, align, *cots)
    theirs = _double_backward(torch, x, grid, mode, padding, align, *cots)
    names = ["output", "grad input", "grad grid", "d2 input", "d2 grid", "d2 grad_output"]
    for e, t, what, like in zip(ours, theirs, names, [x, x, grid, x, grid, cots[0]]):
        # torch leaves a second derivative that is 0 undefined (nearest mode's wrt the input)
        e = ember.zeros(like.shape, dtype=ember.float64) if e is None else e
        t = torch.zeros(like.shape, dtype=torch.float64) if t is None else t
        assert_close(e, t, atol=1e-12, rtol=1e-10, what=what)


@pytest.mark.parametrize("mode, padding, align", [("bilinear", "reflection", True), ("bicubic", "zeros", False),
                                                  ("bicubic", "reflection", False)])
def test_grid_sample_gradgradcheck(rng, mode, padding, align):
    x, g = leaf(rng.standard_normal((1, 1, 3, 4))), leaf(rng.uniform(-1.4, 1.4, (1, 2, 2, 2)))
    assert gradgradcheck(lambda a, b: F.grid_sample(a, b, mode, padding, align), (x, g))


@pytest.mark.parametrize("padding, align", [("zeros", True), ("border", False)])
def test_grid_sample_3d_gradgradcheck(rng, padding, align):
    x, g = leaf(rng.standard_normal((1, 1, 2, 3, 3))), leaf(rng.uniform(-1.4, 1.4, (1, 1, 2, 2, 3)))
    assert gradgradcheck(lambda a, b: F.grid_sample(a, b, "bilinear", padding, align), (x, g))


def test_grid_sample_third_derivative(rng):
    # the recorded backward is itself differentiable: d3 out / d grid3 of bicubic against torch
    x, grid = rng.standard_normal((1, 1, 4, 4)), _grid(rng, 1, 2, 2, reach=0.9, dtype=np.float64)

    def third(lib):
        xt, gt = lib.tensor(x), lib.tensor(grid, requires_grad=True)
        y = lib.nn.functional.grid_sample(xt, gt, "bicubic", "border", False)
        (g1,) = lib.autograd.grad(y.sum(), gt, create_graph=True)
        (g2,) = lib.autograd.grad((g1 * g1).sum(), gt, create_graph=True)
        return lib.autograd.grad(g2.sum(), gt)[0]
    assert_close(third(ember), third(torch), atol=1e-10, rtol=1e-10)


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
    ((2, 3, 4, 5, 6), (2, 6, 7, 3), {}),
    ((2, 3, 4, 5, 6), (2, 6, 7, 5, 2), {}),
    ((2, 3, 4), (2, 6, 1), {}),
    ((2, 3, 4, 5, 6), (2, 6, 7, 5, 3), {"mode": "bicubic"}),
    ((2, 3, 4, 0, 6), (2, 6, 7, 5, 3), {}),
])
def test_grid_sample_errors_match_torch(rng, xs, gs, kw):
    x, g = f32(rng, *xs), rng.standard_normal(gs).astype(np.float32)
    _raises_like(lambda: F.grid_sample(ember.tensor(x), ember.tensor(g), align_corners=False, **kw),
                 lambda: TF.grid_sample(torch.tensor(x), torch.tensor(g), align_corners=False, **kw))


@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_grid_sampler_3d_numbered_modes(rng, mode, padding):
    x, grid = rng.standard_normal((2, 3, 4, 5, 3)), rng.uniform(-1.5, 1.5, (2, 3, 2, 4, 3))
    for align in (True, False):
        assert_close(ember.grid_sampler_3d(ember.tensor(x), ember.tensor(grid), mode, padding, align),
                     torch.grid_sampler_3d(torch.tensor(x), torch.tensor(grid), mode, padding, align), atol=1e-12)
        assert_close(ember.grid_sampler(ember.tensor(x), ember.tensor(grid), mode, padding, align),
                     torch.grid_sampler(torch.tensor(x), torch.tensor(grid), mode, padding, align), atol=1e-12)


@pytest.mark.parametrize("fn, xs, gs, mode", [
    ("grid_sampler_2d", (2, 3, 4, 5, 6), (2, 2, 2, 2, 3), 0),
    ("grid_sampler_3d", (2, 3, 4, 5), (2, 2, 2, 2), 0),
    ("grid_sampler_3d", (2, 3, 4, 5, 6), (2, 2, 2, 2, 3), 2),
    ("grid_sampler", (2, 3, 4, 5, 6), (2, 2, 2, 2, 3), 2),
])
def test_grid_sampler_errors_match_torch(rng, fn, xs, gs, mode):
    x, g = f32(rng, *xs), rng.uniform(-1, 1, gs).astype(np.float32)
    _raises_like(lambda: getattr(ember, fn)(ember.tensor(x), ember.tensor(g), mode, 0, False),
                 lambda: getattr(torch, fn)(torch.tensor(x), torch.tensor(g), mode, 0, False))


def test_grid_sample_dtype_errors(rng):
    x, g = f32(rng, 2, 3, 4, 5), _grid(rng, 2, 2, 2)
    _raises_like(lambda: F.grid_sample(ember.tensor(x), ember.tensor(g.astype(np.float64))),
                 lambda: TF.grid_sample(torch.tensor(x), torch.tensor(g.astype(np.float64)), align_corners=False))
    xi, gi = x.astype(np.int32), g.astype(np.int32)
    _raises_like(lambda: F.grid_sample(ember.tensor(xi), ember.tensor(gi)),
                 lambda: TF.grid_sample(torch.tensor(xi), torch.tensor(gi), align_corners=False))
    xi, gi = xi[..., None], rng.uniform(-1, 1, (2, 2, 2, 2, 3)).astype(np.int32)
    _raises_like(lambda: F.grid_sample(ember.tensor(xi), ember.tensor(gi)),
                 lambda: TF.grid_sample(torch.tensor(xi), torch.tensor(gi), align_corners=False))


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
