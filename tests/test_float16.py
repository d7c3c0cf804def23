"""float16 where the accumulation dtype shows: each case runs under ember and torch on the same float16 inputs,
chosen so that summing or scanning in float16 would give other numbers (long runs, values near 100 whose squares
overflow, long inner products). torch's CPU kernels compute float16 in float32 and round once, as bfloat16
(tests/test_bfloat16.py), and its scans accumulate float32 in double: ember must give the same numbers."""
import numpy as np
import pytest
import torch

import ember
from test_bfloat16 import _f, _m, _t  # callers of ``lib.nn.functional.X``, ``lib.X`` and the method ``X``

EXACT = "exact"  # bit-equal
ULP = "ulp"  # within one float16 ulp of torch's value: torch's vectorized loops add in another order
SCALE = "scale"  # within one ulp of the output's largest magnitude: normalized values whose rounding follows x - mean
# gradients are compared with torch's, except where torch's float16 backward is the less accurate (it forms x - mean
# or exp(x - out) in float16): there with the float64 gradient of the same float16 inputs (TRUTH); NO_GRAD: torch
# and ember both add the embedding rows' gradients in float16 one by one, in orders that differ
TRUTH, NO_GRAD = "truth", "no grad"


def _inputs(lib, specs, seed):
    """Tensors for ``specs``: (shape, scale, offset) gives a float16 tensor ``offset + scale * N(0, 1)`` that
    requires grad; ("long", shape, high) gives indices."""
    rng = np.random.default_rng(seed)
    out = []
    for s in specs:
        if s[0] == "long":
            out.append(lib.tensor(rng.integers(0, s[2], s[1])))
        else:
            shape, scale, offset = s
            a = (rng.standard_normal(shape) * scale + offset).astype(np.float16)
            out.append(lib.tensor(a).requires_grad_())
    return out


def _h(shape, scale=1.0, offset=0.0):
    return (shape, scale, offset)


def _run(lib, fn, specs, seed, to=None):
    xs = _inputs(lib, specs, seed)
    if to is not None:
        xs = [x.detach().to(to).requires_grad_() if x.is_floating_point() else x for x in xs]
    out = fn(lib, *xs)
    outs = out if isinstance(out, tuple) else (out,)
    diff = [o for o in outs if o.requires_grad]
    grads = []
    if diff:
        rng = np.random.default_rng(seed + 1)
        loss = sum((o * lib.tensor(rng.standard_normal(o.shape).astype(np.float16)).to(o.dtype)).float().sum()
                   for o in diff)
        loss.backward()
        grads = [x.grad for x in xs if x.requires_grad]
    return outs, grads


def _np(t):
    return t.detach().double().numpy() if t.dtype.is_floating_point else t.detach().numpy()


def _check(got, want, tol, what):
    assert str(got.dtype) == str(want.dtype), f"{what}: dtype {got.dtype} != torch's {want.dtype}"
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    g, w = np.atleast_1d(_np(got)), np.atleast_1d(_np(want))
    assert np.isfinite(w).all() and np.isfinite(g).all(), f"{what}: not finite (ember {g.ravel()[:4]}, torch " \
                                                           f"{w.ravel()[:4]})"
    if tol == EXACT:
        np.testing.assert_array_equal(g, w, err_msg=what)
        return
    ulp = np.spacing(np.abs(w).astype(np.float16)).astype(np.float64)
    if tol == SCALE:
        ulp = np.maximum(ulp, float(np.spacing(np.float16(np.abs(w).max()))))
    err = np.abs(g - w) / ulp
    assert err.max() <= 1, f"{what}: {err.max():g} float16 ulps from torch at {np.unravel_index(err.argmax(), err.shape)}"


LONG = (5000,)  # float16 running sums of ~1 stop growing at 2048
BIG = (600, 40)
CASES = {
    # reductions: accumulated in float32, rounded once
    "sum": (_m("sum"), [_h(LONG, 1, 1)], EXACT),
    "sum_dim": (_m("sum", dim=0), [_h(BIG, 1, 1)], EXACT),
    "nansum": (_m("nansum"), [_h(LONG, 1, 1)], EXACT),
    "mean": (_m("mean"), [_h(LONG, 1, 1)], EXACT),
    "mean_dim": (_m("mean", dim=0), [_h(BIG, 1, 1)], EXACT),
    "nanmean": (_m("nanmean"), [_h(LONG, 1, 1)], EXACT),
    "var": (_m("var"), [_h((2000,), 1, 100)], EXACT, TRUTH),  # squares of ~100 overflow float16's sums
    "var_dim": (_m("var", dim=0), [_h(BIG, 1, 100)], EXACT, TRUTH),
    "std": (_m("std", correction=0), [_h(LONG, 1, 100)], EXACT, TRUTH),
    "var_mean": (lambda lib, x: lib.var_mean(x, dim=0), [_h(BIG, 1, 100)], EXACT, TRUTH),
    "std_mean": (lambda lib, x: lib.std_mean(x), [_h(BIG, 1, 100)], EXACT, TRUTH),
    "norm": (_m("norm"), [_h((10000,), 0.1, 3)], EXACT),  # torch 300; float16 squares summed overflow
    "norm_dim": (_m("norm", dim=0), [_h(BIG, 1, 30)], EXACT),
    "vector_norm_1": (lambda lib, x: lib.linalg.vector_norm(x, 1), [_h(LONG, 1, 3)], EXACT),
    "vector_norm_3": (lambda lib, x: lib.linalg.vector_norm(x, 3, dim=0), [_h(BIG, 1, 3)], EXACT),
    "matrix_norm": (lambda lib, x: lib.linalg.matrix_norm(x), [_h(BIG, 1, 30)], EXACT),
    "renorm": (lambda lib, x: x.renorm(2, 0, 1.0), [_h(BIG, 1, 3)], ULP),
    "logsumexp": (_t("logsumexp", dim=0), [_h(BIG)], EXACT),  # the sum in float32, each other step in float16
    # scans: each running value in float32, rounded once
    "cumsum": (_m("cumsum", dim=0), [_h(LONG, 1, 1)], EXACT),
    "cumsum_dim1": (_m("cumsum", dim=1), [_h((40, 600), 1, 1)], EXACT),
    "cumprod": (_m("cumprod", dim=0), [_h(BIG, 1 / 64, 1)], EXACT),
    "logcumsumexp": (_t("logcumsumexp", dim=0), [_h(LONG)], EXACT, TRUTH),
    "cumulative_trapezoid": (_t("cumulative_trapezoid", dim=0), [_h(LONG, 1, 1)], EXACT),
    "trapezoid": (_t("trapezoid", dim=0), [_h(LONG, 1, 1)], EXACT),
    # softmax and losses
    "softmax": (_f("softmax", dim=0), [_h(BIG, 3)], ULP),
    "softmax_small": (_f("softmax", dim=-1), [_h((4, 6))], EXACT),
    "log_softmax": (_f("log_softmax", dim=0), [_h(BIG, 3)], EXACT),
    "kl_div": (lambda lib, x, y: lib.nn.functional.kl_div(x.log_softmax(-1), y.softmax(-1), reduction="batchmean"),
               [_h((64, 40)), _h((64, 40))], EXACT),
    "kl_div_sum": (_f("kl_div", reduction="sum"), [_h((64, 40)), _h((64, 40), 0.1, 0.5)], EXACT),
    "mse_loss": (_f("mse_loss"), [_h(LONG), _h(LONG)], EXACT),
    "mse_loss_sum": (_f("mse_loss", reduction="sum"), [_h(LONG), _h(LONG)], EXACT),
    "l1_loss": (_f("l1_loss"), [_h(LONG), _h(LONG)], EXACT),
    "smooth_l1_loss": (_f("smooth_l1_loss"), [_h(LONG), _h(LONG)], EXACT),
    "huber_loss": (_f("huber_loss"), [_h(LONG), _h(LONG)], EXACT),
    "bce_with_logits": (_f("binary_cross_entropy_with_logits"), [_h(LONG), _h(LONG, 0.2, 0.5)], EXACT),
    "poisson_nll_loss": (_f("poisson_nll_loss"), [_h(LONG), _h(LONG, 0.2, 1)], EXACT),
    "margin_ranking_loss": (lambda lib, x, y, z: lib.nn.functional.margin_ranking_loss(x, y, z.sign()),
                            [_h(LONG), _h(LONG), _h(LONG)], EXACT),
    "triplet_margin_loss": (_f("triplet_margin_loss"), [_h((600, 50)), _h((600, 50)), _h((600, 50))], EXACT),
    # products: summed in float32, rounded once; the float32 sum's order is the CPU kernel's (AVX2 and AVX-512
    # builds of torch differ), so within a float16 ulp (accumulating in float16 would be hundreds off)
    "linear": (_f("linear"), [_h((5, 3000)), _h((3, 3000)), _h((3,))], ULP),
    "matmul": (_t("matmul"), [_h((3, 3000)), _h((3000, 4))], ULP),
    "dot": (_t("dot"), [_h((3000,)), _h((3000,))], ULP),
    "mv": (_t("mv"), [_h((3, 3000)), _h((3000,))], ULP),
    "bmm": (_t("bmm"), [_h((2, 3, 3000)), _h((2, 3000, 4))], ULP),
    "addmm": (lambda lib, c, a, b: lib.addmm(c, a, b, beta=0.7, alpha=1.3), [_h((3, 4)), _h((3, 3000)),
                                                                          _h((3000, 4))], ULP),
    "addmv": (lambda lib, c, a, v: lib.addmv(c, a, v, beta=0.5), [_h((3,)), _h((3, 3000)), _h((3000,))], ULP),
    "baddbmm": (_t("baddbmm", alpha=2), [_h((2, 3, 4)), _h((2, 3, 3000)), _h((2, 3000, 4))], ULP),
    "einsum": (lambda lib, a, b: lib.einsum("bij,bjk->bik", a, b), [_h((2, 3, 3000)), _h((2, 3000, 4))], ULP),
    "conv1d": (_f("conv1d", padding=1), [_h((2, 64, 30)), _h((4, 64, 9)), _h((4,))], ULP),
    "conv2d": (_f("conv2d", padding=1), [_h((2, 32, 9, 9)), _h((4, 32, 5, 5)), _h((4,))], SCALE),
    "conv_transpose1d": (_f("conv_transpose1d"), [_h((2, 64, 30)), _h((64, 4, 9))], SCALE),
    "sdpa": (_f("scaled_dot_product_attention"), [_h((1, 2, 300, 64))] * 3, SCALE),
    "sdpa_causal": (_f("scaled_dot_product_attention", is_causal=True), [_h((1, 2, 300, 64))] * 3, SCALE),
    # normalization: statistics in float32 (torch rounds batch norm's to float16 before normalizing)
    "layer_norm": (lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (600,), w, b),
                   [_h((4, 600), 1, 50), _h((600,)), _h((600,))], SCALE, TRUTH),
    "layer_norm_small": (lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (6,), w, b),
                         [_h((4, 6)), _h((6,)), _h((6,))], EXACT),
    "rms_norm": (lambda lib, x, w: lib.nn.functional.rms_norm(x, (600,), w), [_h((4, 600), 1, 30), _h((600,))], EXACT),
    "group_norm": (lambda lib, x: lib.nn.functional.group_norm(x, 2), [_h((2, 4, 300), 1, 50)], SCALE),
    "batch_norm": (lambda lib, x, w, b: lib.nn.functional.batch_norm(x, None, None, w, b, training=True),
                   [_h(BIG, 1, 5), _h((40,)), _h((40,))], SCALE),
    "normalize": (_f("normalize", dim=0), [_h((3000,), 1, 3)], EXACT),
    "cosine_similarity": (_f("cosine_similarity", dim=0), [_h((3000,), 1, 3), _h((3000,), 1, 3)], EXACT),
    # pooling, resampling, embedding bags: averaged in float32
    "avg_pool1d": (_f("avg_pool1d", 8), [_h((2, 3, 64), 1, 30)], EXACT),
    "avg_pool2d": (_f("avg_pool2d", 4), [_h((1, 2, 16, 16), 1, 30)], EXACT),
    "adaptive_avg_pool1d": (_f("adaptive_avg_pool1d", 1), [_h((2, 3, 900), 1, 30)], EXACT),
    "adaptive_avg_pool2d": (_f("adaptive_avg_pool2d", 3), [_h((1, 2, 40, 40), 1, 30)], EXACT),
    "lp_pool2d": (_f("lp_pool2d", 2, 4), [_h((1, 2, 16, 16), 1, 3)], EXACT),
    "interpolate_area": (_f("interpolate", size=(3, 3), mode="area"), [_h((1, 2, 40, 40), 1, 30)], EXACT),
    "interpolate_bilinear": (_f("interpolate", scale_factor=2.5, mode="bilinear"), [_h((1, 2, 8, 8), 1, 30)], ULP),
    "interpolate_bicubic": (_f("interpolate", scale_factor=2.5, mode="bicubic"), [_h((1, 2, 8, 8), 1, 30)], ULP),
    "embedding_bag_sum": (lambda lib, i, w: lib.nn.functional.embedding_bag(i, w, lib.tensor([0, 300]), mode="sum"),
                          [("long", (600,), 3), _h((3, 40), 1, 30)], EXACT, NO_GRAD),
    "embedding_bag_mean": (lambda lib, i, w: lib.nn.functional.embedding_bag(i, w, lib.tensor([0, 300])),
                           [("long", (600,), 3), _h((3, 40), 1, 30)], EXACT, NO_GRAD),
    # scatters: summed in float32, rounded once (scatter_reduce's mean divides the rounded sum)
    "index_add": (lambda lib, x, i, s: x.index_add(0, i, s), [_h((3, 40)), ("long", (600,), 3), _h(BIG, 1, 3)],
                  EXACT),
    "index_put": (lambda lib, x, i, s: x.index_put((i,), s, accumulate=True),
                  [_h((3, 40)), ("long", (600,), 3), _h(BIG, 1, 3)], EXACT),
    "scatter_add": (lambda lib, x, i, s: x.scatter_add(0, i, s), [_h((3, 40)), ("long", BIG, 3), _h(BIG, 1, 3)],
                    EXACT),
    "scatter_reduce_mean": (lambda lib, x, i, s: x.scatter_reduce(0, i, s, "mean"),
                            [_h((3, 40)), ("long", BIG, 3), _h(BIG, 1, 3)], EXACT),
    "broadcast_grad": (lambda lib, x, b: x + b, [_h(BIG), _h((40,))], EXACT),  # the bias gradient sums 600 rows
}


@pytest.mark.parametrize("name", list(CASES))
def test_float16_op_as_torch(name):
    fn, specs, tol, *grad = CASES[name]
    (e_out, e_grads), (t_out, t_grads) = _run(ember, fn, specs, 0), _run(torch, fn, specs, 0)
    assert len(e_out) == len(t_out) and len(e_grads) == len(t_grads)
    for i, (e, t) in enumerate(zip(e_out, t_out)):
        _check(e, t, tol, f"{name} output {i}")
    if grad == [NO_GRAD]:
        return
    if grad == [TRUTH]:
        t_grads = _run(torch, fn, specs, 0, torch.float64)[1]
    for i, (e, t) in enumerate(zip(e_grads, t_grads)):
        # gradients sum products in orders torch's kernels choose: a few float16 ulps of their largest entry
        scale = float(np.abs(_np(t)).max())
        np.testing.assert_allclose(_np(e), _np(t), rtol=2e-3, atol=4e-3 * scale, err_msg=f"{name} grad of input {i}")


def test_float16_long_runs_count_past_2048():
    """The probe's cases: float16 running sums of ones reach 5000, and the norm of 10000 threes is 300."""
    for lib in (ember, torch):
        ones = lib.ones(5000, dtype=lib.float16)
        assert ones.cumsum(0)[-1].item() == 5000 and ones.sum().item() == 5000
        assert lib.full((10000,), 3.0, dtype=lib.float16).norm().item() == 300
        assert lib.full((5000,), 100.0, dtype=lib.float16).var().item() == 0


@pytest.mark.parametrize("op,dtype", [("cumsum", "float32"), ("cumprod", "float32"), ("logcumsumexp", "float32"),
                                      ("cumsum", "complex64"), ("cumprod", "complex64")])
def test_float32_scans_accumulate_in_double_as_torch(op, dtype):
    """torch's CPU scans accumulate float32 in double (complex64 in complex128: its acc_type) and round each
    running value once: over 10**5 values ember's results are bit-equal to torch's, along either dim."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100_000)
    if dtype == "complex64":
        x = x + 1j * rng.standard_normal(100_000)
    x = (1 + x / 64 if op == "cumprod" else x).astype(dtype)
    for arr, dim in ((x, 0), (x.reshape(100, 1000), 0), (x.reshape(100, 1000), 1)):
        got = getattr(ember.tensor(arr), op)(dim).numpy()
        want = getattr(torch.tensor(arr), op)(dim).numpy()
        np.testing.assert_array_equal(got, want, err_msg=f"{op} {arr.shape} dim {dim}")
    if op == "cumsum" and dtype == "float32":  # float32 steps would drift by 1e-2 over 10**5 values
        exact = np.cumsum(x.astype(np.float64))
        assert np.abs(ember.tensor(x).cumsum(0).numpy() - exact).max() < 1e-4


def test_float16_cdist_raises_as_torch():
    for lib in (ember, torch):
        x = lib.ones(3, 4, dtype=lib.float16)
        with pytest.raises(NotImplementedError, match="cdist.*Half"):
            lib.cdist(x, x)
