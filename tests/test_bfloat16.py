"""bfloat16 through common ops, modules, optimizers and autocast: each case runs under ember and torch on the same
inputs; result dtypes must be equal, values and input gradients within bfloat16 tolerances (bit-equal where
both compute in float32 and round once)."""
import numpy as np
import pytest
import torch

import ember

EXACT = dict(rtol=0, atol=0)
CLOSE = dict(rtol=1.6e-2, atol=1e-2)  # torch's op_db tolerance for bfloat16, plus room for cancellation


def _inputs(lib, specs, seed):
    """Tensors for ``specs``: a shape gives a bfloat16 tensor that requires grad, ("long", shape, high) indices,
    ("bool", shape) a mask, ("f32", shape) a float32 tensor that requires grad."""
    rng = np.random.default_rng(seed)
    out = []
    for s in specs:
        if isinstance(s, tuple) and s and s[0] == "long":
            out.append(lib.tensor(rng.integers(0, s[2], s[1])))
        elif isinstance(s, tuple) and s and s[0] == "bool":
            out.append(lib.tensor(rng.random(s[1]) < 0.5))
        else:
            f32 = isinstance(s, tuple) and s and s[0] == "f32"
            t = lib.tensor(rng.standard_normal(s[1] if f32 else s).astype(np.float32))
            out.append((t if f32 else t.to(lib.bfloat16)).requires_grad_())
    return out


def _np(t):
    return t.detach().float().numpy() if t.dtype.is_floating_point else t.detach().numpy()


def _run(lib, fn, specs, seed):
    xs = _inputs(lib, specs, seed)
    out = fn(lib, *xs)
    outs = out if isinstance(out, tuple) else (out,)
    diff = [o for o in outs if o.requires_grad]
    grads = []
    if diff:
        rng = np.random.default_rng(seed + 1)
        loss = sum((o * lib.tensor(rng.standard_normal(o.shape).astype(np.float32)).to(o.dtype)).sum() for o in diff)
        loss.backward()
        grads = [x.grad for x in xs if x.requires_grad]
    return outs, grads


def _check(got, want, tol, what):
    assert str(got.dtype) == str(want.dtype), f"{what}: dtype {got.dtype} != torch's {want.dtype}"
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    np.testing.assert_allclose(_np(got), _np(want), err_msg=what, equal_nan=True, **tol)


def _f(name, *a, **k):
    return lambda lib, *xs: getattr(lib.nn.functional, name)(*xs, *a, **k)


def _t(name, *a, **k):
    return lambda lib, *xs: getattr(lib, name)(*xs, *a, **k)


def _m(name, *a, **k):
    return lambda lib, x, *xs: getattr(x, name)(*xs, *a, **k)


X = (4, 6)
BIG = (640, 40)
CASES = {
    # products: accumulated in float32, rounded once
    "linear": (_f("linear"), [(5, 8), (3, 8), (3,)], CLOSE),
    "linear_nobias": (_f("linear"), [(2, 5, 8), (3, 8)], CLOSE),
    "matmul": (_t("matmul"), [(3, 7), (7, 4)], CLOSE),
    "matmul_batched": (_t("matmul"), [(2, 3, 7), (7, 4)], CLOSE),
    "matmul_vec": (_t("matmul"), [(7,), (7,)], CLOSE),
    "mm": (_t("mm"), [(3, 7), (7, 4)], CLOSE),
    "bmm": (_t("bmm"), [(2, 3, 7), (2, 7, 4)], CLOSE),
    "addmm": (_t("addmm"), [(3, 4), (3, 7), (7, 4)], CLOSE),
    "baddbmm": (_t("baddbmm"), [(2, 3, 4), (2, 3, 7), (2, 7, 4)], CLOSE),
    "einsum": (lambda lib, a, b: lib.einsum("bij,bjk->bik", a, b), [(2, 3, 7), (2, 7, 4)], CLOSE),
    "tensordot": (lambda lib, a, b: lib.tensordot(a, b, dims=2), [(3, 4, 5), (4, 5, 2)], CLOSE),
    "dot": (_t("dot"), [(9,), (9,)], CLOSE),
    "conv1d": (_f("conv1d", padding=1), [(2, 3, 9), (4, 3, 3), (4,)], CLOSE),
    "conv2d": (_f("conv2d", stride=2, padding=1), [(2, 3, 7, 7), (4, 3, 3, 3), (4,)], CLOSE),
    "sdpa": (_f("scaled_dot_product_attention"), [(2, 2, 5, 8), (2, 2, 5, 8), (2, 2, 5, 8)], CLOSE),
    "sdpa_causal": (_f("scaled_dot_product_attention", is_causal=True), [(1, 2, 5, 8)] * 3, CLOSE),
    # normalization and losses
    "layer_norm": (lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (6,), w, b), [X, (6,), (6,)], EXACT),
    "batch_norm": (lambda lib, x, w, b: lib.nn.functional.batch_norm(x, None, None, w, b, training=True),
                   [(5, 3), (3,), (3,)], CLOSE),
    "group_norm": (lambda lib, x: lib.nn.functional.group_norm(x, 2), [(2, 4, 3)], EXACT),
    "rms_norm": (lambda lib, x, w: lib.nn.functional.rms_norm(x, (6,), w), [X, (6,)], EXACT),
    "softmax": (_f("softmax", dim=-1), [X], EXACT),
    "log_softmax": (_f("log_softmax", dim=1), [X], CLOSE),
    "cross_entropy": (_f("cross_entropy"), [X, ("long", (4,), 6)], CLOSE),
    "nll_loss": (_f("nll_loss"), [X, ("long", (4,), 6)], EXACT),
    "mse_loss": (_f("mse_loss"), [X, X], EXACT),
    "l1_loss": (_f("l1_loss"), [X, X], EXACT),
    "bce_with_logits": (_f("binary_cross_entropy_with_logits"), [X, X], EXACT),
    # elementwise: computed in float32 and rounded once, as torch's kernels (gradients may round twice)
    "gelu": (_f("gelu"), [X], EXACT),
    "gelu_tanh": (_f("gelu", approximate="tanh"), [X], CLOSE),
    "relu": (_f("relu"), [X], EXACT),
    "silu": (_f("silu"), [X], CLOSE),
    "tanh": (_t("tanh"), [X], EXACT),
    "sigmoid": (_t("sigmoid"), [X], EXACT),
    "exp": (_t("exp"), [X], EXACT),
    "log_abs": (lambda lib, x: x.abs().log(), [X], EXACT),
    "sqrt_abs": (lambda lib, x: x.abs().sqrt(), [X], EXACT),
    "pow_scalar": (lambda lib, x: x.pow(2), [X], EXACT),
    "pow_tensor": (lambda lib, x, y: x.abs().pow(y), [X, X], EXACT),
    "add_mul_div": (lambda lib, x, y: (x + y) * 1.5 / (y.abs() + 1), [X, X], EXACT),
    "where": (lambda lib, m, x, y: lib.where(m, x, y), [("bool", X), X, X], EXACT),
    "clamp": (lambda lib, x: x.clamp(-0.5, 0.7), [X], EXACT),
    "masked_fill": (lambda lib, x, m: x.masked_fill(m, -1e4), [X, ("bool", X)], EXACT),
    "dropout_eval": (_f("dropout", training=False), [X], EXACT),
    "mixed_f32": (lambda lib, x, y: x * y, [X, ("f32", X)], EXACT),
    # reductions: accumulated in float32, rounded once
    "sum": (_m("sum"), [X], CLOSE),
    "sum_dim": (_m("sum", dim=1), [X], CLOSE),
    "mean": (_m("mean"), [X], EXACT),
    "mean_dim": (_m("mean", dim=0, keepdim=True), [X], EXACT),
    "var": (_m("var", dim=1), [X], EXACT),
    "std": (_m("std"), [X], EXACT),
    "var_mean": (lambda lib, x: lib.var_mean(x, dim=1), [X], EXACT),
    "norm": (_m("norm"), [X], CLOSE),
    "norm_dim": (_m("norm", dim=1), [X], EXACT),
    "vector_norm_1": (lambda lib, x: lib.linalg.vector_norm(x, 1), [X], EXACT),
    "vector_norm_inf": (lambda lib, x: lib.linalg.vector_norm(x, float("inf"), dim=0), [X], EXACT),
    "logsumexp": (_t("logsumexp", dim=1), [X], CLOSE),
    "max": (_m("max"), [X], EXACT),
    "max_dim": (lambda lib, x: x.max(dim=1)[0], [X], EXACT),
    "min": (_m("min"), [X], EXACT),
    "amax": (_m("amax", dim=0), [X], EXACT),
    "argmax": (_m("argmax", dim=1), [X], EXACT),
    "cumsum": (_m("cumsum", dim=1), [X], CLOSE),
    "prod": (_m("prod", dim=1), [X], EXACT),
    "max_pool2d": (_f("max_pool2d", 2), [(1, 2, 4, 4)], EXACT),
    "avg_pool2d": (_f("avg_pool2d", 2), [(1, 2, 4, 4)], EXACT),
    "adaptive_avg_pool2d": (_f("adaptive_avg_pool2d", 1), [(1, 2, 4, 4)], EXACT),
    # indexing and shape
    "embedding": (lambda lib, i, w: lib.nn.functional.embedding(i, w), [("long", (3, 2), 5), (5, 4)], EXACT),
    "cat": (lambda lib, x, y: lib.cat([x, y], 1), [X, X], EXACT),
    "stack": (lambda lib, x, y: lib.stack([x, y]), [X, X], EXACT),
    "index_select": (lambda lib, x, i: x.index_select(1, i), [X, ("long", (5,), 6)], EXACT),
    "gather": (lambda lib, x, i: x.gather(1, i), [X, ("long", (4, 3), 6)], EXACT),
    "advanced_index": (lambda lib, x, i: x[i], [X, ("long", (5,), 4)], EXACT),
    "scatter_add": (lambda lib, x, i, s: x.scatter_add(1, i, s), [X, ("long", (4, 3), 6), (4, 3)], EXACT),
    # long reductions: bfloat16 running sums stop growing at 256 (1 + 256 rounds to 256), so each must be
    # accumulated in float32 as torch does; some torch kernels do add in bfloat16 one by one (index_put_,
    # embedding's backward, prod): those too
    "sum_long": (_m("sum", dim=0), [BIG], EXACT),
    "sum_to_long": (lambda lib, x, b: x + b, [BIG, (40,)], EXACT),
    "mean_long": (_m("mean"), [BIG], EXACT),
    "cumsum_long": (_m("cumsum", dim=0), [BIG], EXACT),
    "cumprod_long": (lambda lib, x: (1 + x / 64).cumprod(0), [BIG], EXACT),
    "prod_long": (lambda lib, x: (1 + x / 64).prod(0), [BIG], EXACT),
    "norm_long": (_m("norm", dim=0), [BIG], EXACT),
    "logsumexp_long": (_t("logsumexp", dim=0), [BIG], CLOSE),
    "softmax_long": (_f("softmax", dim=0), [BIG], CLOSE),
    "linear_long": (_f("linear"), [(600, 8), (3, 8), (3,)], CLOSE),
    "conv1d_long": (_f("conv1d"), [(64, 3, 20), (4, 3, 3), (4,)], CLOSE),
    "batch_norm_long": (lambda lib, x: lib.nn.functional.batch_norm(x, None, None, training=True), [BIG], CLOSE),
    "instance_norm_long": (_f("instance_norm"), [(2, 3, 640)], CLOSE),
    "cross_entropy_long": (_f("cross_entropy"), [(600, 5), ("long", (600,), 5)], CLOSE),
    "label_smoothing_long": (_f("cross_entropy", label_smoothing=0.1), [(600, 5), ("long", (600,), 5)], CLOSE),
    "nll_loss_long": (lambda lib, x, t: lib.nn.functional.nll_loss(x.log_softmax(1), t, reduction="sum"),
                      [(600, 5), ("long", (600,), 5)], CLOSE),
    "index_add_long": (lambda lib, x, i, s: x.index_add(0, i, s), [(3, 40), ("long", (600,), 3), (600, 40)], EXACT),
    "scatter_add_long": (lambda lib, x, i, s: x.scatter_add(0, i, s), [(3, 40), ("long", (600, 40), 3), (600, 40)],
                         EXACT),
    "index_put_long": (lambda lib, x, i, s: x.index_put((i,), s, accumulate=True), [(3, 40), ("long", (600,), 3),
                                                                                   (600, 40)], EXACT),
    "embedding_long": (lambda lib, i, w: lib.nn.functional.embedding(i, w), [("long", (600,), 3), (3, 40)], EXACT),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bfloat16_op_as_torch(name):
    fn, specs, tol = CASES[name]
    (e_out, e_grads), (t_out, t_grads) = _run(ember, fn, specs, 0), _run(torch, fn, specs, 0)
    assert len(e_out) == len(t_out) and len(e_grads) == len(t_grads)
    for i, (e, t) in enumerate(zip(e_out, t_out)):
        _check(e, t, tol, f"{name} output {i}")
    for i, (e, t) in enumerate(zip(e_grads, t_grads)):
        # a gradient sums products whose rounding torch's kernels order differently: absolute error to its scale
        _check(e, t, dict(rtol=1.6e-2, atol=1e-2 * max(1.0, float(np.abs(_np(t)).max()))), f"{name} grad of input {i}")


@pytest.mark.parametrize("opt", ["SGD", "Adam", "AdamW"])
def test_bfloat16_optimizer_steps_as_torch(opt):
    """nn.Linear with bfloat16 weights, three steps: parameters and optimizer state stay bfloat16 and follow
    torch's (each update computed in bfloat16 arithmetic, as torch's single-tensor loop)."""
    rng = np.random.default_rng(3)
    w, b = rng.standard_normal((3, 5)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    xs = [rng.standard_normal((4, 5)).astype(np.float32) for _ in range(3)]
    kw = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=0.01), "AdamW": dict(lr=0.01, weight_decay=0.1)}[opt]
    results = []
    for lib in (ember, torch):
        lin = lib.nn.Linear(5, 3).to(lib.bfloat16)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(w))
            lin.bias.copy_(lib.tensor(b))
        o = getattr(lib.optim, opt)(lin.parameters(), foreach=False, **kw)
        for x in xs:
            o.zero_grad()
            lin(lib.tensor(x).to(lib.bfloat16)).square().mean().backward()
            o.step()
        state = [v for s in o.state.values() for k, v in sorted(s.items()) if k != "step"]
        results.append((lin.weight, lin.bias, *state))
    assert len(results[0]) == len(results[1])
    for i, (e, t) in enumerate(zip(*results)):
        _check(e, t, CLOSE, f"{opt} tensor {i}")


AUTOCAST_OPS = {  # torch's CPU lists: products in bfloat16, losses and some reductions in float32, the rest as given
    "linear": lambda lib, x, y: lib.nn.functional.linear(x, y),
    "matmul": lambda lib, x, y: x @ y.T, "mm": lambda lib, x, y: lib.mm(x, y.T),
    "bmm": lambda lib, x, y: lib.bmm(x[None], y.T[None]), "addmm": lambda lib, x, y: lib.addmm(x[:, :4], x, y.T),
    "baddbmm": lambda lib, x, y: lib.baddbmm(x[None, :, :4], x[None], y.T[None]),
    "einsum": lambda lib, x, y: lib.einsum("ij,kj->ik", x, y),
    "conv1d": lambda lib, x, y: lib.nn.functional.conv1d(x.T[None], y[:, :, None]),
    "conv2d": lambda lib, x, y: lib.nn.functional.conv2d(x[None, None], y[None, None, :2, :2]),
    "sdpa": lambda lib, x, y: lib.nn.functional.scaled_dot_product_attention(x[None], y[None], y[None]),
    "prelu": lambda lib, x, y: lib.nn.functional.prelu(x, y[0, :1]),
    "relu": lambda lib, x, y: lib.relu(x), "softmax": lambda lib, x, y: x.softmax(-1), "sum": lambda lib, x, y: x.sum(),
    "layer_norm": lambda lib, x, y: lib.nn.functional.layer_norm(x, (6,)),
    "cross_entropy": lambda lib, x, y: lib.nn.functional.cross_entropy(x, lib.tensor([0, 1, 2, 0])),
    "mse_loss": lambda lib, x, y: lib.nn.functional.mse_loss(x, y),
    "l1_loss": lambda lib, x, y: lib.nn.functional.l1_loss(x, y),
    "bce_with_logits": lambda lib, x, y: lib.nn.functional.binary_cross_entropy_with_logits(x, y.sigmoid()),
    "kl_div": lambda lib, x, y: lib.nn.functional.kl_div(x.log_softmax(-1), y.softmax(-1), reduction="batchmean"),
    "prod": lambda lib, x, y: x.prod(1), "cdist": lambda lib, x, y: lib.cdist(x.float(), y.float()),
    "float64": lambda lib, x, y: lib.mm(x.double(), y.double().T),
    "cat": lambda lib, x, y: lib.cat([x, y.float()]),
    "index_copy": lambda lib, x, y: lib.zeros(4, 6).index_copy(0, lib.tensor([1]), x[:1]),
}


@pytest.mark.parametrize("name", list(AUTOCAST_OPS))
@pytest.mark.parametrize("dt", ["float32", "bfloat16"])
def test_autocast_cpu_op_dtypes_as_torch(name, dt):
    """Inside ``autocast("cpu")`` each op gives torch's dtype and values, and the inputs' gradients theirs."""
    fn = AUTOCAST_OPS[name]
    results = []
    for lib in (ember, torch):
        x, y = _inputs(lib, [("f32", (4, 6)), ("f32", (4, 6))], 5)
        x, y = (t.detach().to(getattr(lib, dt)).requires_grad_() for t in (x, y))
        with lib.autocast("cpu", dtype=lib.bfloat16):
            out = fn(lib, x, y)
        out.float().sum().backward()
        results.append((out, x.grad, y.grad))
    for i, (e, t) in enumerate(zip(*results)):
        if t is None:
            assert e is None, f"{name}: input {i} has a gradient in ember, none in torch"
        else:
            _check(e, t, CLOSE, f"{name} ({dt}) result {i}")


def test_autocast_mlp_training_step_as_torch():
    """A small MLP trained one step under CPU autocast: bfloat16 activations, float32 loss and float32 weight
    gradients, all as torch's; outside the region ops run in float32 again."""
    rng = np.random.default_rng(7)
    ws = [rng.standard_normal(s).astype(np.float32) * 0.5 for s in ((16, 8), (16,), (3, 16), (3,))]
    x, t = rng.standard_normal((5, 8)).astype(np.float32), rng.integers(0, 3, 5)
    results = []
    for lib in (ember, torch):
        model = lib.nn.Sequential(lib.nn.Linear(8, 16), lib.nn.GELU(), lib.nn.Linear(16, 3))
        with lib.no_grad():
            for p, w in zip(model.parameters(), ws):
                p.copy_(lib.tensor(w))
        with lib.autocast("cpu"):
            assert lib.is_autocast_enabled("cpu")
            hidden = model[1](model[0](lib.tensor(x)))
            logits = model[2](hidden)
            loss = lib.nn.functional.cross_entropy(logits, lib.tensor(t))
        loss.backward()
        after = model(lib.tensor(x))
        results.append((hidden, logits, loss, after, *(p.grad for p in model.parameters())))
    for i, (e, t) in enumerate(zip(*results)):
        _check(e, t, CLOSE, f"MLP tensor {i}")
