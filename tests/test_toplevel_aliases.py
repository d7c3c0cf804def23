"""torch's top-level forms of nn.functional and Tensor ops (``torch.conv2d``, ``torch.batch_norm(input, weight,
bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)``, ``torch.exp_``, ...), ``torch.vmap``
and the window functions: the same calls run on torch 2.13 and on ember give the same values, dtypes and
exception classes."""
import warnings

import ml_dtypes
import numpy as np
import pytest
import torch

import ember

R = np.random.default_rng(0)


def arr(*shape, low=-1.0, high=1.0):
    return R.uniform(low, high, shape).astype(np.float32)


X3, W3 = arr(2, 4, 9), arr(6, 2, 3)
X4, W4 = arr(2, 4, 6, 6), arr(6, 2, 3, 3)
X5, W5 = arr(1, 2, 4, 4, 4), arr(2, 2, 2, 2, 2)
WT = arr(4, 3, 3, 3)
BW = arr(2, 4, 4)
V = arr(3, 4)
P = arr(3, 4, low=0.05, high=0.95)
IDX = np.array([[0, 2, 4], [4, 3, 1]])
LP = np.log(R.dirichlet(np.ones(5), size=(6, 2))).astype(np.float32)  # (T, N, C) log-probabilities


def T(L, a, **kw):
    return L.tensor(a, **kw)


def outcome(L, call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", call(L)
    except Exception as err:  # noqa: BLE001  (the class is what is compared)
        return "raise", type(err).__name__


def values(out):
    if isinstance(out, (torch.Tensor, ember.Tensor)):
        dt = str(out.dtype).split(".")[-1]
        data = out.detach().float() if dt in ("bfloat16", "float16") else out.detach()
        return dt, tuple(out.shape), np.asarray(data.numpy())
    if isinstance(out, (tuple, list)):
        return [values(o) for o in out]
    return out


def assert_same(t, e, rtol=1e-5, atol=1e-6):
    if isinstance(t, tuple) and len(t) == 3 and isinstance(t[2], np.ndarray):
        assert t[:2] == e[:2]
        np.testing.assert_allclose(e[2], t[2], rtol=rtol, atol=atol, equal_nan=True)
    elif isinstance(t, list):
        assert len(t) == len(e)
        for a, b in zip(t, e):
            assert_same(a, b, rtol, atol)
    else:
        assert t == e


def check(call, **tol):
    t, e = outcome(torch, call), outcome(ember, call)
    assert t[0] == e[0], (t, e)
    if t[0] == "raise":
        assert t[1] == e[1]
    else:
        assert_same(values(t[1]), values(e[1]), **tol)
    return t, e


def stats(L, training):
    rm, rv = L.zeros(4), L.ones(4)
    out = L.batch_norm(T(L, X3), T(L, V[0]), T(L, V[1]), rm, rv, training, 0.3, 1e-3, False)
    return out, rm, rv


CALLS = {
    "conv1d": lambda L: L.conv1d(T(L, X3), T(L, W3), None, 2, 1, 1, 2),
    "conv2d": lambda L: L.conv2d(T(L, X4), T(L, W4), T(L, V[0, :]).repeat(2)[:6], 1, "same", 2, 2),
    "conv3d": lambda L: L.conv3d(T(L, X5), T(L, W5), None, 1, 1),
    "conv_transpose1d": lambda L: L.conv_transpose1d(T(L, X3), T(L, WT[:, :, 0]), None, 2, 1, 1),
    "conv_transpose2d": lambda L: L.conv_transpose2d(T(L, X4), T(L, WT), None, 1, 0, 0, 1, 2),
    "conv_transpose3d": lambda L: L.conv_transpose3d(T(L, X5), T(L, W5)),
    "layer_norm": lambda L: L.layer_norm(T(L, X3), [9], T(L, X3[0, 0]), None, 1e-3, False),
    "group_norm": lambda L: L.group_norm(T(L, X3), 2, T(L, V[0]), T(L, V[1]), 1e-5, True),
    "instance_norm": lambda L: L.instance_norm(T(L, X3), T(L, V[0]), T(L, V[1]), None, None, True, 0.1, 1e-5, False),
    "batch_norm_train": lambda L: stats(L, True),
    "batch_norm_eval": lambda L: stats(L, False),
    "batch_norm_missing": lambda L: L.batch_norm(T(L, X3), None, None, None, None, True, 0.1, 1e-5),
    "embedding": lambda L: L.embedding(T(L, W3[:, 0]), T(L, IDX)),
    "embedding_kw": lambda L: L.embedding(weight=T(L, W3[:, 0]), indices=T(L, IDX), padding_idx=2),
    "embedding_bag_sum": lambda L: L.embedding_bag(T(L, W3[:, 0]), T(L, IDX.ravel()), T(L, [0, 2, 2, 5])),
    "embedding_bag_mean_last": lambda L: L.embedding_bag(T(L, W3[:, 0]), T(L, IDX.ravel()), T(L, [0, 2, 2, 6]), False,
                                                         1, False, None, True),
    "embedding_bag_max_pad": lambda L: L.embedding_bag(T(L, W3[:, 0]), T(L, IDX.ravel()), T(L, [0, 2, 3]), False, 2,
                                                       False, None, False, 4),
    "embedding_bag_sum_pad_last": lambda L: L.embedding_bag(T(L, W3[:, 0]), T(L, IDX.ravel()), T(L, [0, 3, 6]),
                                                            False, 0, False, None, True, 2),
    "embedding_bag_weights": lambda L: L.embedding_bag(T(L, W3[:, 0]), T(L, IDX.ravel()), T(L, [0, 4]), False, 0,
                                                       False, T(L, P.ravel()[:6])),
    "dropout_eval": lambda L: L.dropout(T(L, V), 0.5, False),
    "dropout_p0": lambda L: L.dropout(T(L, V), 0.0, True),
    "dropout_p1": lambda L: L.dropout(T(L, V), 1.0, True),
    "dropout_bad_p": lambda L: L.dropout(T(L, V), 1.5, False),
    "dropout_no_train": lambda L: L.dropout(T(L, V), 0.5),
    "dropout_kw": lambda L: L.dropout(input=T(L, V), p=0.5, train=False),
    "dropout_": lambda L: L.dropout_(T(L, V), 1.0, True),
    "alpha_dropout": lambda L: L.alpha_dropout(T(L, V), 0.5, False),
    "alpha_dropout_p1": lambda L: L.alpha_dropout(T(L, V), 1.0, True),
    "feature_dropout_1d": lambda L: L.feature_dropout(T(L, V[0]), 0.5, True),
    "feature_dropout_eval": lambda L: L.feature_dropout(T(L, X3), 0.5, False),
    "feature_alpha_dropout": lambda L: L.feature_alpha_dropout_(T(L, X3), 0.0, True),
    "native_dropout_eval": lambda L: L.native_dropout(T(L, V), 0.5, False),
    "native_dropout_bad_p": lambda L: L.native_dropout(T(L, V), 1.5, True),
    "bilinear": lambda L: L.bilinear(T(L, V), T(L, P), T(L, BW), T(L, V[0, :2])),
    "celu": lambda L: L.celu(T(L, V), 0.5),
    "celu_": lambda L: L.celu_(T(L, V), 2.0),
    "selu": lambda L: L.selu(T(L, V)),
    "selu_": lambda L: L.selu_(T(L, V)),
    "selu_extra": lambda L: L.selu(T(L, V), True),
    "prelu": lambda L: L.prelu(T(L, X3), T(L, V[0])),
    "rrelu_eval": lambda L: L.rrelu(T(L, V), 0.1, 0.3),
    "rrelu_generator": lambda L: L.rrelu(T(L, V, dtype=L.float64), 0.1, 0.3, True, L.Generator().manual_seed(3)),
    "rrelu_": lambda L: L.rrelu_(T(L, V), 0.2, 0.2, True),
    "threshold": lambda L: L.threshold(T(L, V), 0.1, 20.0),
    "threshold_": lambda L: L.threshold_(T(L, V), 0.1, -3.0),
    "hardshrink": lambda L: L.hardshrink(T(L, V), 0.3),
    "pixel_shuffle": lambda L: L.pixel_shuffle(T(L, X4), 2),
    "pixel_unshuffle": lambda L: L.pixel_unshuffle(T(L, X4), 3),
    "channel_shuffle": lambda L: L.channel_shuffle(T(L, X4), 2),
    "native_channel_shuffle": lambda L: L.native_channel_shuffle(T(L, X4), 4),
    "pdist": lambda L: L.pdist(T(L, V), 1.5),
    "kl_div": lambda L: L.kl_div(T(L, V), T(L, P)),
    "kl_div_sum_log_target": lambda L: L.kl_div(T(L, V), T(L, np.log(P)), 2, log_target=True),
    "kl_div_none": lambda L: L.kl_div(T(L, V), T(L, P), 0),
    "kl_div_mean": lambda L: L.kl_div(T(L, V), T(L, P), 1),
    "kl_div_other_int": lambda L: L.kl_div(T(L, V), T(L, P), 5),
    "ctc_loss_default_unreduced": lambda L: L.ctc_loss(T(L, LP), T(L, [[1, 2], [3, 3]]), [6, 5], [2, 2]),
    "hinge_embedding_loss_default": lambda L: L.hinge_embedding_loss(T(L, V), T(L, np.sign(P - 0.5))),
    "cosine_embedding_loss": lambda L: L.cosine_embedding_loss(T(L, V), T(L, P), T(L, [1.0, -1.0, 1.0]), 0.1, 2),
    "hinge_embedding_loss": lambda L: L.hinge_embedding_loss(T(L, V), T(L, np.sign(P - 0.5)), 0.5, 0),
    "margin_ranking_loss": lambda L: L.margin_ranking_loss(T(L, V[0]), T(L, P[0]), T(L, np.sign(V[1])), 0.2),
    "triplet_margin_loss": lambda L: L.triplet_margin_loss(T(L, V), T(L, P), T(L, -P), 1.0, 1.5, 1e-6, True, 2),
    "poisson_nll_loss": lambda L: L.poisson_nll_loss(T(L, V), T(L, P * 3), True, True, 1e-8, 1),
    "poisson_nll_loss_missing": lambda L: L.poisson_nll_loss(T(L, V), T(L, P * 3), True, True, 1e-8),
    "binary_cross_entropy_with_logits": lambda L: L.binary_cross_entropy_with_logits(
        T(L, V), T(L, P), T(L, P[0]), T(L, 2 * P[1]), 2),
    "ctc_loss": lambda L: L.ctc_loss(T(L, LP), T(L, [[1, 2], [3, 3]]), [6, 5], [2, 2], 0, 1, False),
    "ctc_loss_tensors": lambda L: L.ctc_loss(T(L, LP), T(L, [[1, 2], [3, 1]]), T(L, [6, 6]), T(L, [2, 1]), 0, 0),
    "max_pool1d": lambda L: L.max_pool1d(T(L, X3), 3, 2, 1, 1, True),
    "max_pool2d_empty_stride": lambda L: L.max_pool2d(T(L, X4), 2, []),
    "max_pool3d": lambda L: L.max_pool3d(T(L, X5), 2),
    "max_pool1d_with_indices": lambda L: L.max_pool1d_with_indices(T(L, X3), 2),
    "max_pool1d_return_indices": lambda L: L.max_pool1d(T(L, X3), 2, 2, 0, 1, False, True),
    "avg_pool1d": lambda L: L.avg_pool1d(T(L, X3), 3, 2, 1, False, False),
    "adaptive_avg_pool1d": lambda L: L.adaptive_avg_pool1d(T(L, X3), 4),
    "adaptive_max_pool1d": lambda L: L.adaptive_max_pool1d(T(L, X3), 4),
    "rms_norm": lambda L: L.rms_norm(T(L, X3), [9], T(L, X3[1, 1]), 1e-6),
    "native_norm": lambda L: L.native_norm(T(L, V)),
    "frobenius_norm": lambda L: L.frobenius_norm(T(L, V), (0, 1)),
    "frobenius_norm_keepdim": lambda L: L.frobenius_norm(T(L, V), 1, True),
    "frobenius_norm_no_dim": lambda L: L.frobenius_norm(T(L, V)),
    "nuclear_norm": lambda L: L.nuclear_norm(T(L, V)),
    "nuclear_norm_keepdim": lambda L: L.nuclear_norm(T(L, V), True),
    "nuclear_norm_dim": lambda L: L.nuclear_norm(T(L, X3), (0, 2), True),
    "matrix_rank": lambda L: L.matrix_rank(T(L, V)),
    "is_complex": lambda L: (L.is_complex(T(L, V)), L.is_complex(L.ones(2, dtype=L.complex64))),
    "is_signed": lambda L: (L.is_signed(T(L, V)), L.is_signed(L.ones(2, dtype=L.uint8))),
    "is_inference": lambda L: L.is_inference(T(L, V)),
    "detach": lambda L: L.detach(T(L, V, requires_grad=True) * 2).requires_grad,
    "get_device": lambda L: L.get_device(T(L, V)),
    "fill_": lambda L: L.fill_(T(L, V), 2.5),
    "fill_tensor": lambda L: L.fill_(T(L, V), L.tensor(-1.0)),
    "index_put_": lambda L: L.index_put_(T(L, V), (L.tensor([0, 2, 0]),), T(L, V[1]), True),
    "not_a_tensor": lambda L: L.exp_(3.0),
    "query_not_a_tensor": lambda L: L.is_complex([1.0]),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_toplevel_form_matches_torch(name):
    check(CALLS[name], rtol=1e-4, atol=1e-5)


def test_in_place_forms_return_their_input_as_torch():
    for L in (torch, ember):
        x = T(L, V)
        assert L.dropout_(x, 0.0, True) is x and L.celu_(x) is x and L.fill_(x, 1.0) is x
        y = T(L, V, requires_grad=True) * 1
        assert L.detach_(y) is y and not y.requires_grad and y.grad_fn is None


def test_batch_norm_updates_running_stats_as_torch():
    t, e = stats(torch, True), stats(ember, True)
    for a, b in zip(t, e):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)


def test_embedding_padding_row_gets_no_gradient_as_torch():
    grads = []
    for L in (torch, ember):
        w = T(L, W3[:, 0], requires_grad=True)
        L.embedding(w, T(L, IDX), 4).pow(2).sum().backward()
        grads.append(w.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)
    assert not grads[1][4].any()


def test_random_dropout_forms_keep_torchs_scaling():
    for L in (torch, ember):
        L.manual_seed(0)
        x = L.ones(64, 32, 3)
        out, mask = L.native_dropout(x, 0.25, True)
        assert str(mask.dtype).endswith("bool") and np.array_equal(out.numpy() != 0, mask.numpy())
        np.testing.assert_allclose(np.unique(out.numpy()), [0.0, 4 / 3], rtol=1e-6)
        y = L.feature_dropout(x, 0.5, True).numpy()
        assert set(np.unique(y)) == {0.0, 2.0} and (y == y[..., :1]).all()  # whole (N, C) rows
        assert 0.35 < (y == 0).mean() < 0.65


def test_rrelu_generator_draws_are_torchs_and_leave_the_default_stream_alone():
    out = []
    for L in (torch, ember):
        L.manual_seed(7)
        g = L.Generator().manual_seed(3)
        a = L.rrelu(-L.ones(5, dtype=L.float64), 0.1, 0.3, True, g)
        b = L.rand(3, dtype=L.float64)  # the default stream, untouched by the call
        c = L.rrelu(-L.ones(2, dtype=L.float64), 0.1, 0.3, True, generator=g)  # g moved on
        out.append([v.numpy() for v in (a, b, c)])
    for a, b in zip(*out):
        np.testing.assert_allclose(b, a, rtol=2e-16, atol=0)  # lower + (upper - lower) u: within an ulp


UNARY_ARGS = {"addmv_": lambda L: (L.ones(3, 4) * 0.1, L.ones(4) * 0.2), "as_strided_": lambda L: ((2, 2), (1, 2)),
              "clamp_": lambda L: (0.2, 0.5), "clamp_max_": lambda L: (0.5,), "clamp_min_": lambda L: (0.5,),
              "clip_": lambda L: (0.2, 0.6), "ldexp_": lambda L: (L.tensor([2.0]),), "index_put_": None,
              "xlogy_": lambda L: (L.tensor(0.3),), "resize_as_": lambda L: (L.ones(2, 2),), "fill_": lambda L: (1.5,), "logit_": lambda L: (0.1,)}
INT_OPS = {"gcd_", "lcm_"}


def in_place_names():
    return [n for n in dir(torch) if n.endswith("_") and not n.startswith("_") and hasattr(ember.Tensor, n)
            and callable(getattr(torch, n)) and UNARY_ARGS.get(n, 0) is not None]


@pytest.mark.parametrize("name", in_place_names())
def test_every_top_level_in_place_form_as_torch(name):
    def call(L):
        if name in INT_OPS:
            x = L.tensor([12, 18, 7])
            args = (L.tensor([8, 12, 21]),)
        else:
            x = L.tensor(P[0].astype(np.float64)) if name != "addmv_" else L.tensor(P[0, :3].astype(np.float64))
            args = UNARY_ARGS.get(name, lambda L: ())(L)
            args = tuple(a.double() if isinstance(a, (torch.Tensor, ember.Tensor)) else a for a in args)
        out = getattr(L, name)(x, *args)
        return out is x, out
    t, _ = check(call, rtol=1e-12, atol=1e-14)
    assert t[0] == "ok" and t[1][0] is True


def test_vmap_is_func_vmap():
    assert ember.vmap is ember.func.vmap and not isinstance(ember.vmap, type)
    x = np.arange(6.0).reshape(2, 3)
    outs = [L.vmap(lambda r: (r * r).sum())(L.tensor(x)).numpy() for L in (torch, ember)]
    np.testing.assert_array_equal(outs[1], outs[0])


def test_aten_forms_bind_torchs_argument_names():
    import inspect
    for name, schema in (("batch_norm", torch.batch_norm), ("embedding", torch.embedding)):
        theirs = [a.name for a in torch._C._jit_get_schemas_for_operator("aten::" + name)[0].arguments]
        assert list(inspect.signature(getattr(ember, name)).parameters) == theirs, (name, theirs)


# ---------------------------------------------------------------------------------------------- windows
WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]
NUMPY = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


def ulp(values, dtype):
    """The spacing of ``dtype`` at each value."""
    info = ml_dtypes.finfo(NUMPY[dtype])
    exp = np.floor(np.log2(np.maximum(np.abs(values), float(info.smallest_normal))))
    return np.exp2(exp) * float(info.eps)


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_window_values_as_torch(name, dtype):
    extra = {"hamming_window": (0.6, 0.4), "kaiser_window": (6.0,)}.get(name, ())
    for n in (0, 1, 2, 3, 7, 16, 33, 100, 1000):
        for periodic in (True, False):
            t = getattr(torch, name)(n, periodic, *extra, dtype=getattr(torch, dtype))
            e = getattr(ember, name)(n, periodic, *extra, dtype=getattr(ember, dtype))
            assert str(e.dtype).split(".")[1] == dtype and tuple(e.shape) == (n,)
            a, b = t.double().numpy(), e.double().numpy()
            if dtype in ("float16", "bfloat16") or name == "bartlett_window":
                np.testing.assert_array_equal(b, a)  # each step rounded as torch's kernels round it
            elif name == "kaiser_window":
                # torch's float32 I0 is Cephes' short float series; ember's is NumPy's float64 one, rounded
                np.testing.assert_allclose(b, a, rtol=16 * float(ml_dtypes.finfo(NUMPY[dtype]).eps))
            else:
                # 1 ulp of the result, plus 1 ulp of the cosine it scales by <= 0.5 (the cancellation near 0
                # turns a 1-ulp difference between SLEEF's cos and NumPy's into more ulps of a tiny result)
                tol = ulp(a, dtype) + 0.5 * float(ml_dtypes.finfo(NUMPY[dtype]).eps)
                assert (np.abs(b - a) <= tol).all(), (n, periodic, np.max(np.abs(b - a) / tol))


@pytest.mark.parametrize("name", WINDOWS)
def test_window_defaults_and_errors_as_torch(name):
    for call in (lambda L: getattr(L, name)(8), lambda L: getattr(L, name)(8, False),
                 lambda L: getattr(L, name)(5, requires_grad=True).requires_grad,
                 lambda L: getattr(L, name)(1, dtype=L.float64), lambda L: getattr(L, name)(-1),
                 lambda L: getattr(L, name)(3, dtype=L.int64), lambda L: getattr(L, name)(3.0),
                 lambda L: getattr(L, name)(True), lambda L: getattr(L, name)(3, dtype=L.complex64)):
        check(call, rtol=2e-6, atol=1e-7)
    L = ember
    L.set_default_dtype(L.float64)
    try:
        assert getattr(L, name)(4).dtype is L.float64
    finally:
        L.set_default_dtype(L.float32)
